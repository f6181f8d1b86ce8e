// attn's own tokenizers (attn/text/tokenizer.h: SentencePiece, word, character, WordPiece) as
// one Python class, loaded from a run directory's NAME.tokenizer.json or handed out by a
// loaded model.
#pragma once

#include <nanobind/nanobind.h>

namespace attn::python {

void bind_tokenizers(nanobind::module_& module);

}  // namespace attn::python
