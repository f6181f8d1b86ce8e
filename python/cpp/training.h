// attn.train: one training run from a configuration file (attn/tasks/registry.h's
// train_from_config, the same sequence as `attn train`).
#pragma once

#include <nanobind/nanobind.h>

namespace attn::python {

void bind_training(nanobind::module_& module);

}  // namespace attn::python
