#include "tokenizers.h"

#include <nanobind/stl/filesystem.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "attn/text/tokenizer.h"

namespace attn::python {

namespace nb = nanobind;

void bind_tokenizers(nb::module_& module) {
  using text::Tokenizer;
  nb::class_<Tokenizer>(module, "Tokenizer",
                        "One of attn's tokenizers: text <-> ids, with <pad> 0, <unk> 1, <s> 2, "
                        "</s> 3.")
      .def_prop_ro("kind", [](const Tokenizer& tokenizer) { return std::string(text::to_string(tokenizer.kind())); })
      .def_prop_ro("vocab_size", &Tokenizer::vocab_size)
      .def(
          "encode",
          [](const Tokenizer& tokenizer, const std::string& text) { return tokenizer.encode(text); },
          nb::arg("text"), "The ids of the text's pieces (no <s> or </s>).")
      .def(
          "decode",
          [](const Tokenizer& tokenizer, const std::vector<std::int64_t>& ids) {
            return tokenizer.decode(ids);
          },
          nb::arg("ids"), "The text of the ids (reserved ids are skipped).")
      .def("id_to_piece", &Tokenizer::id_to_piece, nb::arg("id"))
      .def(
          "piece_to_id",
          [](const Tokenizer& tokenizer, const std::string& piece) { return tokenizer.piece_to_id(piece); },
          nb::arg("piece"), "The piece's id (<unk>'s for an unknown piece).");
  module.def(
      "load_tokenizer",
      [](const std::filesystem::path& directory, const std::string& name) {
        return text::load_tokenizer(directory, name);
      },
      nb::arg("directory"), nb::arg("name"),
      "Reads DIRECTORY/NAME.tokenizer.json and the model file it names.");
}

}  // namespace attn::python
