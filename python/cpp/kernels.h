// The PyTorch face: attn's fused attention kernels (attn/kernels/flash_attention.h) over
// tensors that PyTorch allocated, strides and all, so attn.torch's custom operators cost no
// copies. The score is in the kernel's form: Dot with a scale, or Additive with v_a after the
// caller projected q and k (PyTorch differentiates the projections).
#pragma once

#include <nanobind/nanobind.h>

namespace attn::python {

void bind_kernels(nanobind::module_& module);

}  // namespace attn::python
