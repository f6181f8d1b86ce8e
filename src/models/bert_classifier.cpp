// BERT with a classification head: [CLS] pieces [SEP], the encoder, sentence pooling, linear.
#include "attn/models/bert_classifier.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "attn/core/error.h"
#include "attn/nn/init.h"
#include "transformer_internal.h"

namespace attn::models {

void BertClassifierOptions::validate() const {
  encoder.validate();
  ATTN_CHECK(num_classes >= 2, "BertClassifier: expected num_classes >= 2, got ", num_classes);
  ATTN_CHECK(classifier_dropout >= 0.0 && classifier_dropout < 1.0,
             "BertClassifier: expected classifier_dropout in [0, 1), got ", classifier_dropout);
  ATTN_CHECK(max_length() >= 1, "BertClassifier: max_position_embeddings ",
             encoder.max_position_embeddings, " leaves no room for a text between [CLS] and [SEP]");
  for (const auto& [name, id] : {std::pair{"cls_id", cls_id}, std::pair{"sep_id", sep_id},
                                 std::pair{"pad_id", pad_id}}) {
    ATTN_CHECK(id >= 0 && id < encoder.vocab_size, "BertClassifier: ", name, " ", id,
               " is outside the vocabulary [0, ", encoder.vocab_size, ")");
  }
}

nlohmann::json BertClassifierOptions::to_json() const {
  return {{"encoder", encoder.to_json()},
          {"num_classes", num_classes},
          {"pooling", std::string(pooling_name(pooling))},
          {"classifier_dropout", classifier_dropout},
          {"cls_id", cls_id},
          {"sep_id", sep_id},
          {"pad_id", pad_id}};
}

BertClassifierOptions BertClassifierOptions::from_json(const nlohmann::json& json) {
  ATTN_CHECK(json.is_object(), "BertClassifierOptions: expected a JSON object, got ", json.type_name());
  BertClassifierOptions options;
  nlohmann::json rest = json;
  // The two fields JsonFields does not read: a nested object and a name.
  if (auto found = rest.find("encoder"); found != rest.end()) {
    options.encoder = BertOptions::from_json(*found);
    rest.erase(found);
  }
  if (auto found = rest.find("pooling"); found != rest.end()) {
    ATTN_CHECK(found->is_string(), "BertClassifierOptions: \"pooling\" must be a string, got ",
               found->dump());
    options.pooling = parse_pooling(found->get<std::string>());
    rest.erase(found);
  }
  detail::JsonFields fields(rest, "BertClassifierOptions");
  fields.read("num_classes", options.num_classes);
  fields.read("classifier_dropout", options.classifier_dropout);
  fields.read("cls_id", options.cls_id);
  fields.read("sep_id", options.sep_id);
  fields.read("pad_id", options.pad_id);
  fields.finish();
  return options;
}

BertClassifier::BertClassifier(const BertClassifierOptions& options,
                               std::shared_ptr<BertModel> encoder)
    : options_(options) {
  options_.validate();
  if (encoder == nullptr) {
    encoder = std::make_shared<BertModel>(options_.encoder);
  } else {
    ATTN_CHECK(encoder->options().to_json() == options_.encoder.to_json(),
               "BertClassifier: the encoder's options ", encoder->options().to_json().dump(),
               " differ from the classifier's ", options_.encoder.to_json().dump());
  }
  bert_ = register_module("bert", std::move(encoder));
  dropout_ = register_module("dropout", std::make_shared<nn::Dropout>(options_.classifier_dropout));
  classifier_ = register_module(
      "classifier", std::make_shared<nn::Linear>(options_.encoder.hidden_size, options_.num_classes));
  nn::init::normal_(classifier_->weight(), 0.0, options_.encoder.initializer_range);
  nn::init::zeros_(classifier_->bias());
}

Tensor BertClassifier::features(const Tensor& pieces, const std::vector<std::int64_t>& lengths) const {
  ATTN_CHECK(pieces.defined() && pieces.dtype() == DType::Int64 && pieces.dim() == 2,
             "BertClassifier: expected pieces int64 [B, T], got ",
             pieces.defined() ? pieces.describe() : "undefined");
  const std::int64_t batch = pieces.size(0);
  const std::int64_t steps = pieces.size(1);
  ATTN_CHECK(static_cast<std::int64_t>(lengths.size()) == batch, "BertClassifier: ",
             lengths.size(), " lengths for a batch of ", batch);
  ATTN_CHECK(steps <= options_.max_length(), "BertClassifier: texts of ", steps,
             " pieces do not fit between [CLS] and [SEP] in ", options_.encoder.max_position_embeddings,
             " positions (at most ", options_.max_length(), ")");
  // [CLS] pieces [SEP] [PAD]...: each row two longer than its pieces.
  const std::int64_t width = steps + 2;
  Tensor ids = Tensor::full({batch, width}, static_cast<double>(options_.pad_id), DType::Int64);
  Tensor padding = Tensor::full({batch, width}, 1.0, DType::Bool);
  const Tensor source = pieces.contiguous();
  for (std::int64_t row = 0; row < batch; ++row) {
    const std::int64_t length = lengths[static_cast<std::size_t>(row)];
    ATTN_CHECK(length >= 1 && length <= steps, "BertClassifier: row ", row, " has length ",
               length, ", expected 1..", steps);
    std::int64_t* out = ids.data<std::int64_t>() + row * width;
    out[0] = options_.cls_id;
    std::copy_n(source.data<std::int64_t>() + row * steps, length, out + 1);
    out[length + 1] = options_.sep_id;
    std::fill_n(padding.data<bool>() + row * width, length + 2, false);
  }
  return pool(bert_->forward(ids, Tensor(), padding), padding, options_.pooling);
}

Tensor BertClassifier::forward(const Tensor& pieces, const std::vector<std::int64_t>& lengths) const {
  return classifier_->forward(dropout_->forward(features(pieces, lengths)));
}

}  // namespace attn::models
