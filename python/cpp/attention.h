// The NumPy face of attention: attn::ops::attention and attn::ops::attention_weights_from_lse
// over borrowed arrays (see attn/ops/attention.h for the score functions and masks).
#pragma once

#include <nanobind/nanobind.h>

namespace attn::python {

void bind_attention(nanobind::module_& module);

}  // namespace attn::python
