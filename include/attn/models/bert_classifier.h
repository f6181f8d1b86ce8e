// A pretrained BERT encoder with a classification head: what `attn train` fine-tunes when
// model.arch = "pretrained" (tasks/classification.h).
//
//   ids      = [CLS] pieces [SEP], right-padded with [PAD]
//   features = pool(BertModel(ids), padding)      the folder's sentence pooling (mean for
//                                                 all-MiniLM-L6-v2; models/pretrained.h)
//   logits   = W · dropout(features) + b
//
// The head pools as the encoder was trained to be pooled rather than through BERT's
// next-sentence pooler (Hugging Face's BertForSequenceClassification): sentence-transformers
// folders ship no trained pooler, and their embeddings are the pooled states. The head's
// weight starts N(0, initializer_range), its bias 0, as Hugging Face initialises a new head.
//
// Parameter names, those of Hugging Face's BertForSequenceClassification apart from attn's
// layer names:
//   bert.*                  (models::BertModel)
//   classifier.weight [C, E], classifier.bias [C]
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <vector>

#include "attn/models/bert.h"
#include "attn/models/pretrained.h"
#include "attn/nn/dropout.h"
#include "attn/nn/linear.h"

namespace attn::models {

struct BertClassifierOptions {
  BertOptions encoder;
  std::int64_t num_classes = 2;
  Pooling pooling = Pooling::Mean;
  double classifier_dropout = 0.1;
  // The vocabulary's special ids, which forward() puts around each text.
  std::int64_t cls_id = 101;
  std::int64_t sep_id = 102;
  std::int64_t pad_id = 0;

  // The most pieces of one text: the position table less [CLS] and [SEP].
  std::int64_t max_length() const { return encoder.max_position_embeddings - 2; }
  void validate() const;  // throws attn::Error naming the offending field
  // {"encoder": BertOptions::to_json(), "num_classes": ..., "pooling": "mean", ...};
  // from_json rejects unknown keys.
  nlohmann::json to_json() const;
  static BertClassifierOptions from_json(const nlohmann::json& json);
};

class BertClassifier : public nn::Module {
 public:
  // `encoder`: the BertModel to fine-tune (load_pretrained(...)->shared_model()), whose
  // options must equal options.encoder; null: a new encoder with random weights.
  explicit BertClassifier(const BertClassifierOptions& options,
                          std::shared_ptr<BertModel> encoder = nullptr);

  // pieces [B, T] int64, right-padded, without [CLS] and [SEP]; lengths: the real pieces of
  // each row (1..T) -> logits [B, num_classes].
  Tensor forward(const Tensor& pieces, const std::vector<std::int64_t>& lengths) const;
  // The pooled features [B, E] that the head reads (before its dropout).
  Tensor features(const Tensor& pieces, const std::vector<std::int64_t>& lengths) const;

  const BertClassifierOptions& options() const { return options_; }
  const BertModel& encoder() const { return *bert_; }

 private:
  BertClassifierOptions options_;
  std::shared_ptr<BertModel> bert_;
  std::shared_ptr<nn::Dropout> dropout_;
  std::shared_ptr<nn::Linear> classifier_;
};

}  // namespace attn::models
