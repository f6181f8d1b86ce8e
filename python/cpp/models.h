// Models attn trained, loaded from a run directory or checkpoint (attn/tasks/translation.h,
// classification.h, language_modeling.h): translate, classify, generate, and the attention
// maps of each (attn/inspect/attention_maps.h).
#pragma once

#include <nanobind/nanobind.h>

namespace attn::python {

void bind_models(nanobind::module_& module);

}  // namespace attn::python
