#include "pretrained.h"

#include <nanobind/stl/filesystem.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "arrays.h"
#include "attention_maps.h"
#include "attn/inspect/attention_maps.h"
#include "attn/models/pretrained.h"
#include "attn/text/wordpiece.h"

namespace attn::python {

namespace {

using models::PretrainedEncoder;
using text::WordPieceTokenizer;

nb::dict encoding_dict(const text::WordPieceEncoding& encoding) {
  nb::dict result;
  result["ids"] = encoding.ids;
  result["type_ids"] = encoding.type_ids;
  result["tokens"] = encoding.tokens;
  return result;
}

nb::dict batch_dict(const models::TokenBatch& batch) {
  nb::dict result;
  result["ids"] = to_numpy(batch.ids.contiguous());
  result["type_ids"] = to_numpy(batch.type_ids.contiguous());
  result["padding"] = to_numpy(batch.padding.contiguous());
  result["tokens"] = batch.tokens;
  return result;
}

nb::dict attention_dict(const inspect::PretrainedAttention& attention) {
  nb::dict result;
  result["tokens"] = attention.tokens;
  result["type_ids"] = attention.type_ids;
  result["maps"] = maps_list(attention.maps);
  return result;
}

void bind_tokenizer(nb::module_& module) {
  nb::class_<WordPieceTokenizer>(module, "WordPieceTokenizer",
                                 "WordPiece exactly as Hugging Face's tokenizers (BERT family).")
      .def_static(
          "from_directory",
          [](const std::filesystem::path& directory) {
            return WordPieceTokenizer::from_directory(directory);
          },
          nb::arg("directory"), "From a model folder: tokenizer.json, or vocab.txt + tokenizer_config.json.")
      .def_static(
          "from_tokenizer_json",
          [](const std::filesystem::path& path) {
            return WordPieceTokenizer::from_tokenizer_json(path);
          },
          nb::arg("path"))
      .def(
          "encode",
          [](const WordPieceTokenizer& tokenizer, const std::string& text, std::int64_t max_length) {
            return encoding_dict(tokenizer.encode(text, max_length));
          },
          nb::arg("text"), nb::arg("max_length") = 0,
          "[CLS] text [SEP] as {ids, type_ids, tokens}; max_length 0 keeps every token.")
      .def(
          "encode_pair",
          [](const WordPieceTokenizer& tokenizer, const std::string& first,
             const std::string& second, std::int64_t max_length) {
            return encoding_dict(tokenizer.encode_pair(first, second, max_length));
          },
          nb::arg("first"), nb::arg("second"), nb::arg("max_length") = 0,
          "[CLS] first [SEP] second [SEP] with type ids 0 and 1, cut longest-first.")
      .def(
          "decode",
          [](const WordPieceTokenizer& tokenizer, const std::vector<std::int64_t>& ids,
             bool skip_special_tokens) { return tokenizer.decode(ids, skip_special_tokens); },
          nb::arg("ids"), nb::arg("skip_special_tokens") = true)
      .def("normalize", &WordPieceTokenizer::normalize, nb::arg("text"))
      .def_prop_ro("vocab_size", &WordPieceTokenizer::vocab_size)
      .def("id_to_token", &WordPieceTokenizer::id_to_token, nb::arg("id"))
      .def(
          "token_to_id",
          [](const WordPieceTokenizer& tokenizer, const std::string& token) -> nb::object {
            auto id = tokenizer.token_to_id(token);
            if (!id) return nb::none();
            return nb::int_(*id);
          },
          nb::arg("token"), "The token's id, or None when the vocabulary lacks it.");
}

void bind_encoder(nb::module_& module) {
  nb::class_<PretrainedEncoder>(module, "PretrainedEncoder",
                                "A Hugging Face encoder folder, run natively (models/pretrained.h).")
      .def_prop_ro("model_type", &PretrainedEncoder::model_type)
      .def_prop_ro("max_length", &PretrainedEncoder::max_length)
      .def_prop_ro("is_sentence_transformer", &PretrainedEncoder::is_sentence_transformer)
      .def_prop_ro("pooling",
                   [](const PretrainedEncoder& encoder) {
                     return std::string(models::pooling_name(encoder.sentence_options().pooling));
                   })
      .def_prop_ro("normalize",
                   [](const PretrainedEncoder& encoder) { return encoder.sentence_options().normalize; })
      .def_prop_ro("hidden_size",
                   [](const PretrainedEncoder& encoder) { return encoder.model().options().hidden_size; })
      .def_prop_ro(
          "tokenizer",
          [](const PretrainedEncoder& encoder) { return &encoder.tokenizer(); },
          nb::rv_policy::reference_internal)
      .def(
          "embed",
          [](const PretrainedEncoder& encoder, const std::vector<std::string>& texts,
             std::int64_t batch_size) {
            Tensor embeddings;
            {
              nb::gil_scoped_release unlocked;
              embeddings = encoder.embed(texts, batch_size).contiguous();
            }
            return to_numpy(embeddings);
          },
          nb::arg("texts"), nb::arg("batch_size") = 32,
          "One embedding per text, float32 [len(texts), hidden_size], pooled and normalised as "
          "the folder says.")
      .def(
          "tokenize",
          [](const PretrainedEncoder& encoder, const std::vector<std::string>& texts) {
            return batch_dict(encoder.tokenize(texts));
          },
          nb::arg("texts"), "The padded batch: {ids, type_ids, padding, tokens}.")
      .def(
          "hidden_states",
          [](const PretrainedEncoder& encoder, const std::vector<std::string>& texts) {
            models::TokenBatch batch = encoder.tokenize(texts);
            Tensor hidden;
            {
              nb::gil_scoped_release unlocked;
              hidden = encoder.hidden_states(batch).contiguous();
            }
            return std::make_pair(to_numpy(hidden), to_numpy(batch.padding.contiguous()));
          },
          nb::arg("texts"),
          "(last hidden state float32 [B, N, E], padding bool [B, N], True = padding).")
      .def(
          "attention",
          [](const PretrainedEncoder& encoder, const std::string& text, const std::string& pair) {
            inspect::PretrainedAttention attention;
            {
              nb::gil_scoped_release unlocked;
              attention = inspect::pretrained_attention(encoder, text, pair);
            }
            return attention_dict(attention);
          },
          nb::arg("text"), nb::arg("pair") = "",
          "The self-attention of every layer on one text (or a pair): {tokens, type_ids, maps}, "
          "each map {name, kind, layer, weights float32 [H, N, N], query_tokens, key_tokens}.");
  module.def(
      "load_pretrained",
      [](const std::filesystem::path& directory) {
        nb::gil_scoped_release unlocked;
        return models::load_pretrained(directory);
      },
      nb::arg("directory"), "Reads a Hugging Face model folder (config.json, model.safetensors, tokenizer).");
  module.def("supported_model_types", &models::supported_model_types);
}

}  // namespace

void bind_pretrained(nb::module_& module) {
  bind_tokenizer(module);
  bind_encoder(module);
}

}  // namespace attn::python
