// Language modelling: paragraphs of text (Jane Austen's novels from `attn data fetch
// austen`, or any folder of {train,valid}.txt), a SentencePiece or character tokenizer, and
// the decoder-only TransformerLanguageModel, trained by train::Trainer; TextGenerator
// continues prompts with a trained model (greedy, beam search or sampling).
//
// Configuration keys (language_model_schema(); configs/austen_lm.toml is an example;
// docs/TASKS.md describes every key):
//   task.kind             "language_model"
//   data.source           austen (data.dir/lm/{train,valid}.txt) | text (data.dir/{train,valid}.txt)
//   data.context_length   tokens a block trains on; also the model's max_length
//   data.batch_size       blocks per batch
//   data.valid_blocks     validate on the first N blocks only (0: all)
//   tokenizer.*           kind (sentencepiece | char), vocab_size, ...
//   model.transformer.*   the fields of LanguageModelOptions (vocab_size and max_length are
//                         derived)
//   loss.label_smoothing
//   train.*               the trainer (train/trainer.h)
//
// The token stream: every line (paragraph) of a split is encoded and followed by </s>, and
// the stream also starts with </s>, so that </s> marks "a paragraph begins here" as well as
// "a paragraph ends". The stream is cut into blocks of context_length + 1 tokens that
// overlap by one (block b covers [b·C, b·C + C]: inputs its first C tokens, targets its
// last C); a tail shorter than a block is left out. Each epoch visits the blocks in the
// order train::shuffled_order(train.seed, epoch), data.batch_size at a time. Validation
// reports the mean negative log-likelihood per token ("loss") and "perplexity".
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "attn/core/tensor.h"
#include "attn/metrics/perplexity.h"
#include "attn/models/inference_weights.h"
#include "attn/models/language_model.h"
#include "attn/text/tokenizer.h"
#include "attn/train/config.h"
#include "attn/train/task.h"

namespace attn::tasks {

train::Schema language_model_schema();

// The token stream of `paragraphs` as described above: </s> p1 </s> p2 </s> ... (empty
// paragraphs are skipped).
std::vector<std::int64_t> paragraph_stream(const text::Tokenizer& tokenizer,
                                           const std::vector<std::string>& paragraphs);

// The first positions of the blocks of a stream of `stream_length` tokens: 0, C, 2C, ...
// for every block of C + 1 tokens that fits. A stream of 2 to C tokens gives one shorter
// block (position 0, length stream_length - 1 inputs); fewer than 2 tokens give none.
struct BlockLayout {
  std::int64_t block_length = 0;  // inputs (= targets) per block
  std::int64_t num_blocks = 0;    // block b starts at b * block_length
};
BlockLayout block_layout(std::int64_t stream_length, std::int64_t context_length);

// ---- generation ---------------------------------------------------------------------------

struct GenerationSettings {
  std::string method = "sample";  // greedy | beam | sample
  std::int64_t max_length = 100;   // most tokens generated per prompt (the model's
                                   // max_length also bounds prompt + generated)
  double temperature = 1.0;        // sampling
  std::int64_t top_k = 0;          // sampling: 0 keeps all
  double top_p = 1.0;              // sampling: nucleus threshold
  std::uint64_t seed = 0;          // sampling
  std::int64_t beam_size = 4;      // beam search
  double length_penalty = 0.6;     // beam search: GNMT alpha
  std::int64_t batch_size = 16;    // prompts generated together
};

struct Generation {
  std::string prompt;        // as given
  std::string continuation;  // the generated text (with its leading space, if any)
  std::string text;          // prompt + continuation
  std::vector<std::int64_t> tokens;  // the generated ids, without </s>
  double log_prob = 0.0;     // of the generated tokens under the model (</s> included)
  bool finished = false;     // ended with </s> (false: stopped by the length limit)
};

class TextGenerator {
 public:
  // `path`: a checkpoint file of a language_model run, or its run directory (best
  // checkpoint, else last). The tokenizer is read from the checkpoint's folder.
  static TextGenerator load(const std::filesystem::path& path);

  // From parts in memory (e.g. a model just trained).
  TextGenerator(std::shared_ptr<models::TransformerLanguageModel> model,
                std::shared_ptr<text::Tokenizer> tokenizer);

  // Continues each prompt until </s> (the end of the paragraph) or settings.max_length
  // tokens. A prompt reads as the beginning of a paragraph: </s> followed by its tokens; an
  // empty prompt starts a paragraph from nothing. Characters the tokenizer has never seen
  // become <unk>. A prompt of more than max_length() tokens (the leading </s> included) is
  // an error naming its 1-based position. Runs in eval mode without gradients; greedy and
  // beam search give the same text every time, sampling the same text for the same seed
  // and prompts.
  std::vector<Generation> generate(const std::vector<std::string>& prompts,
                                   const GenerationSettings& settings) const;

  // Perplexity of the model on `paragraphs` (one per entry): their token stream (as
  // paragraph_stream) cut into blocks of max_length() tokens, as validation does, every token
  // after the stream's first predicted once.
  metrics::PerplexityResult perplexity(const std::vector<std::string>& paragraphs,
                                       std::int64_t batch_size = 16) const;

  // The longest sequence the model takes (prompt with its </s>, plus generated tokens).
  std::int64_t max_length() const;
  const models::TransformerLanguageModel& model() const { return *model_; }
  const text::Tokenizer& tokenizer() const { return *tokenizer_; }

 private:
  std::shared_ptr<models::TransformerLanguageModel> model_;
  std::shared_ptr<text::Tokenizer> tokenizer_;
  // Set by load() only: a generator built from parts may share a model still in training,
  // whose weights a copy laid out for inference would not follow.
  std::shared_ptr<const models::InferenceWeights> inference_weights_;
};

// ---- training -------------------------------------------------------------------------------

// The training task. A fresh run builds the tokenizer from the training paragraphs and saves
// it in the run's checkpoint folder as "text"; a resumed run reads it back from there.
class LanguageModelTask : public train::Task {
 public:
  LanguageModelTask(const train::Config& config, bool resume, std::ostream& log);
  ~LanguageModelTask() override;

  nn::Module& model() override { return *model_; }
  // {"task": "language_model", "model": {...LanguageModelOptions}, "context_length": C}
  std::string model_config_json() const override;
  std::int64_t batches_per_epoch() const override;
  train::StepResult train_step(std::int64_t epoch, std::int64_t batch_index,
                               train::BatchSlice slice) override;
  std::uint64_t data_fingerprint() const override;
  // loss: mean negative log-likelihood per token; metrics: perplexity.
  train::ValidationResult validate() override;
  bool has_validation() const override;

  // A TextGenerator that shares this task's model and tokenizer.
  TextGenerator generator() const;
  const models::TransformerLanguageModel& language_model() const { return *model_; }
  const text::Tokenizer& tokenizer() const { return *tokenizer_; }
  std::int64_t num_train_blocks() const { return train_layout_.num_blocks; }

 private:
  // Mean cross-entropy of the blocks `blocks` of `stream`.
  Tensor loss_of(const std::vector<std::int64_t>& stream, const BlockLayout& layout,
                 const std::vector<std::int64_t>& blocks, double label_smoothing) const;

  std::uint64_t seed_ = 0;
  std::int64_t batch_size_ = 0;
  std::int64_t context_length_ = 0;
  double label_smoothing_ = 0.0;
  std::shared_ptr<text::Tokenizer> tokenizer_;
  std::shared_ptr<models::TransformerLanguageModel> model_;
  std::vector<std::int64_t> train_stream_;
  std::vector<std::int64_t> valid_stream_;
  BlockLayout train_layout_;
  BlockLayout valid_layout_;
  std::int64_t cached_epoch_ = -1;
  std::vector<std::int64_t> cached_order_;
};

}  // namespace attn::tasks
