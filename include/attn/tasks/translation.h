// Translation: a parallel corpus (such as `attn data fetch bible`'s Spanish -> English Bible),
// SentencePiece tokenizers, and a Transformer or an RNN seq2seq with attention, trained by
// train::Trainer and decoded with the searches of attn/decode.
//
// Configuration keys (translation_schema(); configs/bible_transformer.toml is an example):
//   task.kind            "translation"
//   data.dir, data.source, data.target   files {split}.{source|target}, one sentence per line
//   data.max_tokens      token budget of a training batch, padding included
//   data.max_length      training pairs longer than this (in tokens, either side) are left
//                        out; at translation time a longer source is an error
//   tokenizer.*          SentencePiece: vocab_size, model_type, joint (one model for both sides)
//   model.arch           transformer | rnn; model.transformer.* and model.rnn.* are the
//                        fields of TransformerOptions and RnnSeq2SeqOptions
//   loss.label_smoothing
//   eval.bleu_sentences  validation also decodes (greedily) this many validation sentences
//                        and reports BLEU; 0 turns it off
//   train.*              the trainer (train/trainer.h)
// The run directory keeps the tokenizers beside the checkpoints (checkpoints/source.* and
// checkpoints/target.*), so a checkpoint folder is all that `attn translate` needs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attn/data/batching.h"
#include "attn/decode/search.h"
#include "attn/models/inference_weights.h"
#include "attn/nn/module.h"
#include "attn/text/tokenizer.h"
#include "attn/train/config.h"
#include "attn/train/task.h"

namespace attn::tasks {

train::Schema translation_schema();

// The Transformer or the RNN seq2seq behind one interface.
class TranslationModel {
 public:
  // arch "transformer" or "rnn"; `options` is the model's options JSON with the vocabulary
  // sizes filled in.
  static std::unique_ptr<TranslationModel> create(const std::string& arch,
                                                  const nlohmann::json& options);
  virtual ~TranslationModel() = default;

  virtual nn::Module& module() = 0;
  virtual const nn::Module& module() const = 0;
  virtual std::string arch() const = 0;
  virtual nlohmann::json options_json() const = 0;
  // The longest source and target (in tokens, <s> and </s> included) the model takes; 0: any.
  virtual std::int64_t max_length() const = 0;

  // Teacher forcing: source (padded batch) and target_in [B, T] -> logits [B, T, V].
  virtual Tensor logits(const data::PaddedBatch& source, const Tensor& target_in) const = 0;
  // One decoding row per source sentence; the model must be in eval() mode.
  virtual std::unique_ptr<decode::StepModel> start_decoding(const data::PaddedBatch& source) const = 0;
};

struct SearchSettings {
  std::string method = "beam";  // greedy | beam | sample
  std::int64_t beam_size = 4;
  double length_penalty = 0.6;
  std::int64_t n_best = 1;
  double temperature = 1.0;
  std::int64_t top_k = 0;
  double top_p = 1.0;
  std::uint64_t seed = 0;
  std::int64_t max_length = 256;  // generated tokens
  std::int64_t batch_size = 32;   // sentences decoded together
};

struct Translation {
  std::string text;
  double score = 0.0;
  double log_prob = 0.0;
  std::int64_t num_tokens = 0;
};

// Translates source sentences: encodes each with the source tokenizer (adding </s>), decodes
// in batches of similar length, and detokenizes. An empty sentence translates to "".
std::vector<std::vector<Translation>> translate_sentences(const TranslationModel& model,
                                                          const text::Tokenizer& source_tokenizer,
                                                          const text::Tokenizer& target_tokenizer,
                                                          const std::vector<std::string>& sentences,
                                                          const SearchSettings& settings);

// A trained model with its tokenizers, for `attn translate` and `attn eval`.
class Translator {
 public:
  // `path`: a checkpoint file, or a run directory (its best checkpoint, else its last).
  static Translator load(const std::filesystem::path& path);

  // n-best lists (settings.n_best entries each, best first).
  std::vector<std::vector<Translation>> translate(const std::vector<std::string>& sentences,
                                                  const SearchSettings& settings) const;
  // The best translation of each sentence.
  std::vector<std::string> translate_best(const std::vector<std::string>& sentences,
                                          const SearchSettings& settings) const;

  const TranslationModel& model() const { return *model_; }
  const text::Tokenizer& source_tokenizer() const { return *source_tokenizer_; }
  const text::Tokenizer& target_tokenizer() const { return *target_tokenizer_; }

 private:
  std::shared_ptr<TranslationModel> model_;
  std::shared_ptr<text::Tokenizer> source_tokenizer_;
  std::shared_ptr<text::Tokenizer> target_tokenizer_;
  // The model is never changed after load, so decoding may multiply by weight copies laid
  // out for inference (models/inference_weights.h).
  std::shared_ptr<const models::InferenceWeights> inference_weights_;
};

// The training task. On a fresh run it trains the tokenizers on the training text and saves
// them in the run directory; on resume it loads them from there.
class TranslationTask : public train::Task {
 public:
  TranslationTask(const train::Config& config, bool resume, std::ostream& log);
  ~TranslationTask() override;

  nn::Module& model() override { return model_->module(); }
  std::string model_config_json() const override;
  std::int64_t batches_per_epoch() const override;
  train::StepResult train_step(std::int64_t epoch, std::int64_t batch_index,
                               train::BatchSlice slice) override;
  std::uint64_t data_fingerprint() const override;
  train::ValidationResult validate() override;

  const TranslationModel& translation_model() const { return *model_; }
  const text::Tokenizer& source_tokenizer() const { return *source_tokenizer_; }
  const text::Tokenizer& target_tokenizer() const { return *target_tokenizer_; }

 private:
  struct Corpus;
  const std::vector<data::Batch>& batches_for(std::int64_t epoch);
  Tensor loss_of(const Corpus& corpus, const std::vector<std::int64_t>& indices,
                 std::int64_t& num_tokens) const;

  std::string run_dir_;
  data::BatchingOptions batching_;
  double label_smoothing_ = 0.0;
  std::int64_t bleu_sentences_ = 0;
  std::shared_ptr<text::Tokenizer> source_tokenizer_;
  std::shared_ptr<text::Tokenizer> target_tokenizer_;
  std::unique_ptr<TranslationModel> model_;
  std::unique_ptr<Corpus> train_;
  std::unique_ptr<Corpus> valid_;
  std::vector<std::string> valid_sources_, valid_targets_;
  std::int64_t cached_epoch_ = -1;
  std::vector<data::Batch> cached_batches_;
  std::int64_t num_batches_ = 0;
};

}  // namespace attn::tasks
