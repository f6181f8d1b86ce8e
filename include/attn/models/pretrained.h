// Models that others trained: a Hugging Face model folder, loaded natively.
//
//   auto model = attn::models::load_pretrained("all-MiniLM-L6-v2/");
//   Tensor embeddings = model->embed({"A sentence.", "Another one."});   // [2, 384]
//
// A folder holds config.json (the architecture, `model_type`), model.safetensors (F32, F16
// or BF16; converted to float32) and its tokenizer (tokenizer.json, or vocab.txt with
// tokenizer_config.json). A sentence-transformers folder adds modules.json, the pooling
// module's config (1_Pooling/config.json), an optional Normalize module and
// sentence_bert_config.json (max_seq_length); without them, embed() pools by the mean over
// real tokens and does not normalise, and texts are cut at the model's position limit.
//
// Each architecture is an assembly of attn's modules (models/bert.h) plus one table that
// maps the checkpoint's tensor names onto the assembly's (src/models/pretrained_*.cpp);
// docs/PRETRAINED.md lists what is supported and how to add a family. Everything a folder
// holds is checked: an unknown model_type, an unsupported option, a missing, unexpected or
// misshapen tensor, a malformed file: each is an attn::Error naming the file and the item.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "attn/core/tensor.h"
#include "attn/models/bert.h"
#include "attn/models/inference_weights.h"
#include "attn/text/wordpiece.h"

namespace attn::models {

// How token states [B, N, E] become one vector per text (sentence-transformers' Pooling).
enum class Pooling { Cls, Mean, Max, MeanSqrtLength };
std::string_view pooling_name(Pooling pooling);  // "cls", "mean", "max", "mean_sqrt_len"
Pooling parse_pooling(std::string_view name);    // throws naming the choices

struct SentenceEmbeddingOptions {
  Pooling pooling = Pooling::Mean;
  bool normalize = false;           // unit L2 norm after pooling
  std::int64_t max_seq_length = 0;  // tokens per text, specials included (0: the model's)
};

// hidden [B, N, E], padding bool [B, N] (true = padding) -> [B, E], as sentence-transformers
// pools: padded positions take no part; a mean divides by max(count, 1e-9).
Tensor pool(const Tensor& hidden, const Tensor& padding, Pooling pooling);
// x [B, E] -> x / max(‖x‖₂, 1e-12) per row (torch.nn.functional.normalize).
Tensor normalize_rows(const Tensor& x);

// Texts as a padded batch: ids, type ids and padding [B, N], N the longest text.
struct TokenBatch {
  Tensor ids;       // int64 [B, N]
  Tensor type_ids;  // int64 [B, N]
  Tensor padding;   // bool [B, N], true = padding
  std::vector<std::vector<std::string>> tokens;  // each text's tokens, specials included
};

class PretrainedEncoder {
 public:
  PretrainedEncoder(std::string model_type, std::shared_ptr<BertModel> model,
                    text::WordPieceTokenizer tokenizer, SentenceEmbeddingOptions sentence,
                    bool is_sentence_transformer);

  const std::string& model_type() const { return model_type_; }
  // The encoder runs on a copy of its linear weights laid out for inference
  // (models/inference_weights.h). The two accessors through which the weights may change,
  // model() and shared_model(), drop that copy first: from then on the encoder computes
  // from the weights themselves, whatever is done to them.
  BertModel& model();
  const BertModel& model() const { return *model_; }
  std::shared_ptr<BertModel> shared_model();
  // Whether the inference copy is still in use.
  bool uses_inference_weights() const { return inference_weights_ != nullptr; }
  const text::WordPieceTokenizer& tokenizer() const { return tokenizer_; }
  const SentenceEmbeddingOptions& sentence_options() const { return sentence_; }
  bool is_sentence_transformer() const { return is_sentence_transformer_; }
  // The most tokens a text is cut to, specials included.
  std::int64_t max_length() const;

  // [CLS] text [SEP] for each text, cut at max_length(), padded to the longest.
  TokenBatch tokenize(const std::vector<std::string>& texts) const;
  // [CLS] a [SEP] b [SEP] with type ids 0 and 1, cut longest-first at max_length().
  TokenBatch tokenize_pairs(const std::vector<std::pair<std::string, std::string>>& pairs) const;

  // The last hidden state [B, N, E] of a batch (no gradient unless grad mode is on).
  Tensor hidden_states(const TokenBatch& batch) const;
  // One embedding per text [count, E], in the order given: texts sorted by length into
  // batches of at most batch_size, each padded to its longest, then pooled (and normalised)
  // as the folder says. Runs without gradient, in eval mode.
  Tensor embed(const std::vector<std::string>& texts, std::int64_t batch_size = 32) const;

 private:
  std::string model_type_;
  std::shared_ptr<BertModel> model_;
  text::WordPieceTokenizer tokenizer_;
  SentenceEmbeddingOptions sentence_;
  bool is_sentence_transformer_;
  std::unique_ptr<const InferenceWeights> inference_weights_;
};

// Reads a Hugging Face model folder (see above). The model is in eval mode.
std::shared_ptr<PretrainedEncoder> load_pretrained(const std::filesystem::path& directory);

// The model types load_pretrained knows ("bert", ...), for messages and docs.
std::vector<std::string> supported_model_types();

}  // namespace attn::models
