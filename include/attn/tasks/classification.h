// Text classification: labelled texts (Jane Austen passages by novel, IMDB reviews by
// sentiment, or any folder of "label<TAB>text" files), a word, SentencePiece or character
// tokenizer, and the seeds' BiGRU + attention classifier or a Transformer-encoder
// classifier, trained by train::Trainer; or a pretrained Hugging Face encoder (BERT family)
// with its own WordPiece tokenizer, fine-tuned with a classification head. Classifier labels
// new texts with a trained model.
//
// Configuration keys (classification_schema(); configs/imdb_bigru.toml,
// configs/austen_bigru.toml and configs/austen_transformer.toml are examples; docs/TASKS.md
// describes every key):
//   task.kind              "classification"
//   data.source            austen | imdb | tsv (see load_classification_data)
//   data.dir               the folder of the source
//   data.max_length        texts are cut to this many tokens (0: no limit, BiGRU only)
//   data.truncation        keep_start (the seed's zero_pad) | keep_end (Keras' default)
//   data.batch_size, data.max_tokens   length-bucketed batches (data/batching.h)
//   data.valid_fraction, data.valid_seed   IMDB: the validation slice of train/
//   tokenizer.*            kind (word | sentencepiece | char), vocab_size, ...
//   model.arch             bigru | transformer | pretrained; model.bigru.* and
//                          model.transformer.* are the fields of RnnClassifierOptions and
//                          TransformerClassifierOptions (vocab_size, num_classes and
//                          max_length are derived)
//   model.pretrained       pretrained: the model folder (models::load_pretrained); its
//                          WordPiece vocabulary replaces tokenizer.*, data.max_length 0 means
//                          the model's limit. model.pretrained_weights = false starts from
//                          random weights instead (the baseline of docs/RESULTS.md);
//                          model.pooling and model.classifier_dropout shape the head.
//   loss.label_smoothing
//   train.*                the trainer (train/trainer.h)
//
// Validation reports the mean cross-entropy per example ("loss") and "accuracy". The run's
// checkpoint folder keeps the tokenizer ("input") beside the checkpoints, and every
// checkpoint's config names the labels, so a run directory is all that Classifier needs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "attn/core/tensor.h"
#include "attn/data/batching.h"
#include "attn/data/text_files.h"
#include "attn/models/inference_weights.h"
#include "attn/nn/module.h"
#include "attn/text/tokenizer.h"
#include "attn/train/config.h"
#include "attn/train/task.h"

namespace attn::tasks {

train::Schema classification_schema();

// ---- data ---------------------------------------------------------------------------------

struct ClassificationData {
  std::vector<std::string> label_names;  // label i is label_names[i]
  std::vector<data::LabeledText> train;
  std::vector<data::LabeledText> valid;
};

// The training and validation texts that the configuration's data.* keys name:
//   tsv     data.dir/{train,valid}.tsv ("label<TAB>text", data/text_files.h) and, when
//           present, data.dir/labels.txt (line i names label i; otherwise the labels are
//           named "0", "1", ... up to the largest label seen);
//   austen  the same files in data.dir/classify (`attn data fetch austen`: six novels);
//   imdb    data.dir is an aclImdb folder (data/imdb.h); labels "neg", "pos". Validation is
//           a fixed slice of train/: data::shuffled_indices(count, data.valid_seed, 0), its
//           first round(count * data.valid_fraction) reviews, kept in file order; the rest
//           trains. The "<br />" tags of the reviews become spaces.
// Throws attn::Error for missing files, labels outside labels.txt and an empty training set.
ClassificationData load_classification_data(const train::Config& config);

// "keep_start" -> Truncation::KeepStart, "keep_end" -> Truncation::KeepEnd (others throw).
data::Truncation truncation_from_string(std::string_view name);
std::string_view truncation_name(data::Truncation truncation);

// The token ids a classifier reads for `text`: the tokenizer's ids (no <s> or </s>), cut to
// `max_length` (0: no limit) at the end `truncation` says. A text that gives no ids at all
// (such as "!!!" for a word vocabulary, which drops punctuation) reads as one <unk>, so that
// every example has at least one step.
std::vector<std::int64_t> classification_ids(const text::Tokenizer& tokenizer,
                                             std::string_view text, std::int64_t max_length,
                                             data::Truncation truncation);

// ---- models -------------------------------------------------------------------------------

struct ClassifierForward {
  Tensor logits;     // [B, num_classes]
  Tensor attention;  // [B, T] pooling weights (BiGRU), zero at padding; undefined otherwise
};

// The BiGRU + attention classifier or the Transformer-encoder classifier behind one interface.
class ClassificationModel {
 public:
  // arch "bigru", "transformer" or "pretrained" (a BERT encoder with a head,
  // models/bert_classifier.h, random weights here: the task loads the folder's); `options` is
  // the model's options JSON, complete (vocab size, classes and max_length filled in).
  static std::unique_ptr<ClassificationModel> create(const std::string& arch,
                                                     const nlohmann::json& options);
  virtual ~ClassificationModel() = default;

  virtual nn::Module& module() = 0;
  virtual const nn::Module& module() const = 0;
  virtual std::string arch() const = 0;
  virtual nlohmann::json options_json() const = 0;
  virtual std::int64_t vocab_size() const = 0;
  virtual std::int64_t num_classes() const = 0;
  // The longest input in tokens; 0: any.
  virtual std::int64_t max_length() const = 0;

  // A right-padded batch (data::pad_sequences; every row at least one token).
  virtual ClassifierForward forward(const data::PaddedBatch& batch) const = 0;
};

// ---- using a trained model ------------------------------------------------------------------

struct Classification {
  std::int64_t label = 0;            // the most probable label (the lowest among ties)
  std::string label_name;
  std::vector<double> probabilities;  // one per label, softmax of the logits
  std::vector<std::string> tokens;    // the pieces the model read (after truncation)
  std::vector<double> attention;      // one weight per token (BiGRU; empty for Transformer)
};

class Classifier {
 public:
  // `path`: a checkpoint file of a classification run, or its run directory (best
  // checkpoint, else last). The tokenizer is read from the checkpoint's folder.
  static Classifier load(const std::filesystem::path& path);

  // From parts in memory (e.g. a model just trained).
  Classifier(std::shared_ptr<ClassificationModel> model, std::shared_ptr<text::Tokenizer> tokenizer,
             std::vector<std::string> label_names, std::int64_t max_length,
             data::Truncation truncation);

  // Labels each text. Texts are encoded as in training (classification_ids with the run's
  // data.max_length and data.truncation) and run in batches of similar length, in eval mode
  // without gradients; the result does not depend on the batching. An empty (or all
  // whitespace) text is an error naming its 1-based position.
  std::vector<Classification> classify(const std::vector<std::string>& texts,
                                       std::int64_t batch_size = 64) const;

  const ClassificationModel& model() const { return *model_; }
  const text::Tokenizer& tokenizer() const { return *tokenizer_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  std::int64_t max_length() const { return max_length_; }
  data::Truncation truncation() const { return truncation_; }

 private:
  std::shared_ptr<ClassificationModel> model_;
  std::shared_ptr<text::Tokenizer> tokenizer_;
  std::vector<std::string> label_names_;
  std::int64_t max_length_ = 0;
  data::Truncation truncation_ = data::Truncation::KeepStart;
  // Set by load() only: a classifier built from parts may share a model still in training,
  // whose weights a copy laid out for inference would not follow.
  std::shared_ptr<const models::InferenceWeights> inference_weights_;
};

// ---- training ---------------------------------------------------------------------------------

// The training task. A fresh run builds the tokenizer from the training texts and saves it
// in the run's checkpoint folder as "input"; a resumed run reads it back from there.
class ClassificationTask : public train::Task {
 public:
  ClassificationTask(const train::Config& config, bool resume, std::ostream& log);
  ~ClassificationTask() override;

  nn::Module& model() override { return model_->module(); }
  // {"task": "classification", "arch": ..., "model": {...}, "labels": [...],
  //  "max_length": ..., "truncation": ...}
  std::string model_config_json() const override;
  std::int64_t batches_per_epoch() const override;
  train::StepResult train_step(std::int64_t epoch, std::int64_t batch_index,
                               train::BatchSlice slice) override;
  std::uint64_t data_fingerprint() const override;
  // loss: mean cross-entropy per example (no label smoothing); metrics: accuracy.
  train::ValidationResult validate() override;
  bool has_validation() const override;
  std::string unit_name() const override { return "ex"; }

  // A Classifier that shares this task's model and tokenizer.
  Classifier classifier() const;
  const ClassificationModel& classification_model() const { return *model_; }
  const text::Tokenizer& tokenizer() const { return *tokenizer_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

 private:
  struct Examples;
  // model.arch = pretrained: the folder's encoder (its weights, or random ones) with a head.
  std::shared_ptr<ClassificationModel> pretrained_model(const train::Config& config,
                                                        const std::string& directory,
                                                        std::ostream& log);
  const std::vector<data::Batch>& batches_for(std::int64_t epoch);
  Tensor loss_of(const Examples& examples, const std::vector<std::int64_t>& indices,
                 double label_smoothing, Tensor* logits = nullptr) const;

  data::BatchingOptions batching_;
  double label_smoothing_ = 0.0;
  std::int64_t max_length_ = 0;
  data::Truncation truncation_ = data::Truncation::KeepStart;
  std::vector<std::string> label_names_;
  std::shared_ptr<text::Tokenizer> tokenizer_;
  std::shared_ptr<ClassificationModel> model_;
  std::unique_ptr<Examples> train_;
  std::unique_ptr<Examples> valid_;
  std::int64_t cached_epoch_ = -1;
  std::vector<data::Batch> cached_batches_;
  std::int64_t num_batches_ = 0;
};

}  // namespace attn::tasks
