// Pretrained encoders and their WordPiece tokenizers (attn/models/pretrained.h,
// attn/text/wordpiece.h, attn/inspect/attention_maps.h): load a Hugging Face folder, embed
// texts, read the hidden states and the attention maps, as NumPy arrays.
#pragma once

#include <nanobind/nanobind.h>

namespace attn::python {

void bind_pretrained(nanobind::module_& module);

}  // namespace attn::python
