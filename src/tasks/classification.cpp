#include "attn/tasks/classification.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <optional>
#include <ostream>

#include "attn/autograd/grad_mode.h"
#include "attn/core/error.h"
#include "attn/data/imdb.h"
#include "attn/data/split.h"
#include "attn/io/checkpoint.h"
#include "attn/metrics/accuracy.h"
#include "attn/models/bert_classifier.h"
#include "attn/models/pretrained.h"
#include "attn/models/rnn_classifier.h"
#include "attn/models/transformer_classifier.h"
#include "attn/nn/init.h"
#include "attn/ops/ops.h"
#include "attn/tasks/task_common.h"
#include "attn/text/char_vocabulary.h"
#include "attn/text/sentencepiece.h"
#include "attn/text/utf8.h"
#include "attn/text/word_vocabulary.h"
#include "attn/text/wordpiece.h"
#include "attn/train/trainer.h"

namespace attn::tasks {
namespace fs = std::filesystem;

namespace {

constexpr const char* kTaskName = "classification";
constexpr const char* kTokenizerName = "input";

// Fields the task fills in itself: from the tokenizer, the labels and data.max_length.
const std::set<std::string> kDerivedKeys = {"vocab_size", "num_classes", "max_length"};

// ---- the three architectures ------------------------------------------------------------------

class BiGruClassification final : public ClassificationModel {
 public:
  explicit BiGruClassification(const models::RnnClassifierOptions& options) : model_(options) {}
  nn::Module& module() override { return model_; }
  const nn::Module& module() const override { return model_; }
  std::string arch() const override { return "bigru"; }
  nlohmann::json options_json() const override { return model_.options().to_json(); }
  std::int64_t vocab_size() const override { return model_.options().vocab_size; }
  std::int64_t num_classes() const override { return model_.options().num_classes; }
  std::int64_t max_length() const override { return model_.options().max_length; }

  ClassifierForward forward(const data::PaddedBatch& batch) const override {
    models::RnnClassifierOutput output = model_.forward(batch.tokens, batch.lengths);
    return {output.logits, output.attention_weights};
  }

 private:
  models::RnnAttentionClassifier model_;
};

class TransformerClassification final : public ClassificationModel {
 public:
  explicit TransformerClassification(const models::TransformerClassifierOptions& options)
      : model_(options) {}
  nn::Module& module() override { return model_; }
  const nn::Module& module() const override { return model_; }
  std::string arch() const override { return "transformer"; }
  nlohmann::json options_json() const override { return model_.options().to_json(); }
  std::int64_t vocab_size() const override { return model_.options().vocab_size; }
  std::int64_t num_classes() const override { return model_.options().num_classes; }
  std::int64_t max_length() const override { return model_.options().max_length; }

  ClassifierForward forward(const data::PaddedBatch& batch) const override {
    return {model_.forward(batch.tokens, batch.padding_mask), Tensor()};
  }

 private:
  models::TransformerClassifier model_;
};

// A pretrained encoder with a head (models/bert_classifier.h); its tokens are the folder's
// WordPiece ids, without [CLS] and [SEP], which the model adds.
class PretrainedClassification final : public ClassificationModel {
 public:
  explicit PretrainedClassification(const models::BertClassifierOptions& options,
                                    std::shared_ptr<models::BertModel> encoder = nullptr)
      : model_(options, std::move(encoder)) {}
  nn::Module& module() override { return model_; }
  const nn::Module& module() const override { return model_; }
  std::string arch() const override { return "pretrained"; }
  nlohmann::json options_json() const override { return model_.options().to_json(); }
  std::int64_t vocab_size() const override { return model_.options().encoder.vocab_size; }
  std::int64_t num_classes() const override { return model_.options().num_classes; }
  std::int64_t max_length() const override { return model_.options().max_length(); }

  ClassifierForward forward(const data::PaddedBatch& batch) const override {
    return {model_.forward(batch.tokens, batch.lengths.to_vector<std::int64_t>()), Tensor()};
  }

 private:
  models::BertClassifier model_;
};

std::string data_file(const std::string& directory, data::Split split) {
  return (fs::path(directory) / (std::string(data::split_name(split)) + ".tsv")).string();
}

bool is_blank(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  });
}

// ---- data sources -------------------------------------------------------------------------

ClassificationData load_tsv(const std::string& directory) {
  ATTN_CHECK(fs::is_directory(directory), "classification: data folder '", directory,
             "' does not exist");
  ClassificationData result;
  result.train = data::read_labeled_tsv(data_file(directory, data::Split::Train));
  result.valid = data::read_labeled_tsv(data_file(directory, data::Split::Valid));
  const fs::path labels_file = fs::path(directory) / "labels.txt";
  if (fs::exists(labels_file)) {
    result.label_names = data::read_lines(labels_file.string());
    ATTN_CHECK(!result.label_names.empty(), labels_file.string(), ": no labels");
    for (const auto& [examples, split] :
         {std::pair{&result.train, data::Split::Train}, std::pair{&result.valid, data::Split::Valid}}) {
      for (std::size_t i = 0; i < examples->size(); ++i) {
        ATTN_CHECK((*examples)[i].label < static_cast<std::int64_t>(result.label_names.size()),
                   data_file(directory, split), ":", i + 1, ": label ", (*examples)[i].label,
                   " is not in ", labels_file.string(), " (", result.label_names.size(),
                   " labels)");
      }
    }
  } else {
    std::int64_t largest = 0;
    for (const auto* examples : {&result.train, &result.valid}) {
      for (const data::LabeledText& example : *examples) largest = std::max(largest, example.label);
    }
    for (std::int64_t label = 0; label <= largest; ++label) result.label_names.push_back(std::to_string(label));
  }
  return result;
}

// The reviews' HTML line breaks ("<br /><br />") become spaces.
std::string without_line_breaks(const std::string& text) {
  std::string result;
  result.reserve(text.size());
  for (std::size_t at = 0; at < text.size();) {
    bool replaced = false;
    for (std::string_view tag : {"<br />", "<br/>", "<br>"}) {
      if (text.compare(at, tag.size(), tag) == 0) {
        result += ' ';
        at += tag.size();
        replaced = true;
        break;
      }
    }
    if (!replaced) result += text[at++];
  }
  return result;
}

ClassificationData load_imdb_split(const std::string& directory, double valid_fraction,
                                   std::uint64_t valid_seed) {
  ATTN_CHECK(valid_fraction >= 0.0 && valid_fraction < 1.0,
             "classification: data.valid_fraction must be in [0, 1), got ", valid_fraction);
  const data::ImdbSplit split = data::load_imdb(directory, "train");
  const auto count = static_cast<std::int64_t>(split.examples.size());
  const auto valid_count = static_cast<std::int64_t>(std::llround(static_cast<double>(count) * valid_fraction));
  // A fixed random slice (the files are sorted neg/ then pos/, so a plain head would hold
  // one class only), kept in file order.
  std::vector<bool> in_valid(static_cast<std::size_t>(count), false);
  const std::vector<std::int64_t> order = data::shuffled_indices(count, valid_seed, 0);
  for (std::int64_t i = 0; i < valid_count; ++i) in_valid[static_cast<std::size_t>(order[i])] = true;
  ClassificationData result;
  result.label_names = {"neg", "pos"};
  for (std::int64_t i = 0; i < count; ++i) {
    const data::ImdbExample& example = split.examples[static_cast<std::size_t>(i)];
    data::LabeledText text{example.label, without_line_breaks(example.text)};
    (in_valid[static_cast<std::size_t>(i)] ? result.valid : result.train).push_back(std::move(text));
  }
  return result;
}

// ---- tokenizer ----------------------------------------------------------------------------

std::unique_ptr<text::Tokenizer> build_tokenizer(const train::Config& config,
                                                 const std::vector<std::string>& texts) {
  const std::string kind = config.get<std::string>("tokenizer.kind");
  const std::int64_t vocab_size = config.get<std::int64_t>("tokenizer.vocab_size");
  if (kind == "word") {
    text::WordVocabularyOptions options;
    options.max_size = vocab_size;
    options.min_count = config.get<std::int64_t>("tokenizer.min_count");
    options.split.lowercase = config.get<bool>("tokenizer.lowercase");
    options.split.keep_punctuation = config.get<bool>("tokenizer.keep_punctuation");
    return std::make_unique<text::WordVocabulary>(text::WordVocabulary::build(texts, options));
  }
  if (kind == "char") return build_char_vocabulary(config, texts);
  ATTN_CHECK(kind == "sentencepiece", "classification: unknown tokenizer.kind '", kind,
             "' (word, sentencepiece, char)");
  return std::make_unique<text::SentencePieceTokenizer>(
      text::train_sentencepiece_on_sentences(texts, sentencepiece_options(config)));
}

}  // namespace

// ---- schema -------------------------------------------------------------------------------

train::Schema classification_schema() {
  train::Schema schema = train::trainer_schema();
  schema.add("task.kind", std::string(kTaskName), "what to train", {kTaskName});
  schema.section("data")
      .add("source", "austen", "austen (data.dir/classify/*.tsv), imdb (an aclImdb folder) or "
           "tsv (data.dir/{train,valid}.tsv, labels.txt)", {"austen", "imdb", "tsv"})
      .add("dir", "data/austen", "the data folder (attn data fetch austen; or aclImdb for imdb)")
      .add("max_length", 256, "texts are cut to this many tokens (0: no limit, bigru only)")
      .add("truncation", "keep_start", "which tokens a longer text keeps",
           {"keep_start", "keep_end"})
      .add("batch_size", 64, "most texts in a training batch (0: no limit)")
      .add("max_tokens", 0, "token budget of a training batch, padding included (0: no limit)")
      .add("valid_fraction", 0.1, "imdb: the share of train/ held out for validation")
      .add("valid_seed", 1, "imdb: the seed that picks the validation reviews");
  schema.section("tokenizer")
      .add("kind", "word", "word (top-N words), sentencepiece or char",
           {"word", "sentencepiece", "char"})
      .add("vocab_size", 10000, "ids in all, the 4 reserved included (word, char: 0 = no limit)")
      .add("min_count", 1, "word, char: leave out entries seen fewer times")
      .add("lowercase", true, "word: lowercase the text")
      .add("keep_punctuation", false, "word: punctuation marks become words (else dropped)")
      .add("model_type", "unigram", "sentencepiece model", {"unigram", "bpe"})
      .add("max_sentences", 0, "sentencepiece: train on a sample of this many texts (0: all)");
  schema.add("model.arch", "bigru",
             "architecture: bigru, transformer, or pretrained (fine-tune model.pretrained)",
             {"bigru", "transformer", "pretrained"});
  schema.add("model.pretrained", "",
             "pretrained: a Hugging Face model folder (BERT family) whose encoder and WordPiece "
             "tokenizer the classifier fine-tunes; tokenizer.* is not used");
  schema.add("model.pretrained_weights", true,
             "pretrained: start from the folder's weights (false: its architecture and "
             "tokenizer with random weights, a baseline)");
  schema.add("model.pooling", "auto",
             "pretrained: how the head pools the token states (auto: the folder's "
             "sentence-transformers pooling, else mean)",
             {"auto", "cls", "mean", "max", "mean_sqrt_len"});
  schema.add("model.classifier_dropout", 0.1, "pretrained: dropout before the head");
  add_options_keys(schema, "model.bigru", models::RnnClassifierOptions::imdb().to_json(),
                   kDerivedKeys, "RnnClassifierOptions (docs/MODELS_RNN.md)");
  models::TransformerClassifierOptions transformer;
  transformer.d_model = 128;
  transformer.num_heads = 4;
  transformer.d_ff = 512;
  transformer.num_layers = 2;
  add_options_keys(schema, "model.transformer", transformer.to_json(), kDerivedKeys,
                   "TransformerClassifierOptions (include/attn/models/transformer_classifier.h)");
  schema.add("loss.label_smoothing", 0.0, "label smoothing of the cross-entropy");
  return schema;
}

// ---- data -----------------------------------------------------------------------------------

ClassificationData load_classification_data(const train::Config& config) {
  const std::string source = config.get<std::string>("data.source");
  const std::string directory = config.get<std::string>("data.dir");
  ClassificationData result;
  if (source == "imdb") {
    result = load_imdb_split(directory, config.get<double>("data.valid_fraction"),
                             static_cast<std::uint64_t>(config.get<std::int64_t>("data.valid_seed")));
  } else if (source == "austen") {
    result = load_tsv((fs::path(directory) / "classify").string());
  } else {
    ATTN_CHECK(source == "tsv", "classification: unknown data.source '", source,
               "' (austen, imdb, tsv)");
    result = load_tsv(directory);
  }
  ATTN_CHECK(!result.train.empty(), "classification: no training texts in ", directory);
  ATTN_CHECK(result.label_names.size() >= 2, "classification: expected at least 2 labels in ",
             directory, ", got ", result.label_names.size());
  return result;
}

data::Truncation truncation_from_string(std::string_view name) {
  if (name == "keep_start") return data::Truncation::KeepStart;
  if (name == "keep_end") return data::Truncation::KeepEnd;
  ATTN_CHECK(false, "classification: unknown truncation '", name, "' (keep_start, keep_end)");
  return data::Truncation::KeepStart;
}

std::string_view truncation_name(data::Truncation truncation) {
  switch (truncation) {
    case data::Truncation::KeepStart: return "keep_start";
    case data::Truncation::KeepEnd: return "keep_end";
    case data::Truncation::Error: break;
  }
  ATTN_CHECK(false, "classification: a classifier truncates at the start or the end");
  return "";
}

std::vector<std::int64_t> classification_ids(const text::Tokenizer& tokenizer,
                                             std::string_view text, std::int64_t max_length,
                                             data::Truncation truncation) {
  ATTN_CHECK(max_length >= 0, "classification: expected max_length >= 0, got ", max_length);
  std::vector<std::int64_t> ids = tokenizer.encode(text);
  if (ids.empty()) ids.push_back(tokenizer.unk_id());
  if (max_length > 0 && static_cast<std::int64_t>(ids.size()) > max_length) {
    ATTN_CHECK(truncation != data::Truncation::Error, "classification: a text of ", ids.size(),
               " tokens is longer than the model's ", max_length);
    if (truncation == data::Truncation::KeepStart) {
      ids.resize(static_cast<std::size_t>(max_length));
    } else {
      ids.erase(ids.begin(), ids.end() - max_length);
    }
  }
  return ids;
}

// ---- models ---------------------------------------------------------------------------------

std::unique_ptr<ClassificationModel> ClassificationModel::create(const std::string& arch,
                                                                 const nlohmann::json& options) {
  if (arch == "bigru") {
    return std::make_unique<BiGruClassification>(models::RnnClassifierOptions::from_json(options));
  }
  if (arch == "transformer") {
    return std::make_unique<TransformerClassification>(
        models::TransformerClassifierOptions::from_json(options));
  }
  if (arch == "pretrained") {
    return std::make_unique<PretrainedClassification>(models::BertClassifierOptions::from_json(options));
  }
  ATTN_CHECK(false, "classification: unknown model architecture '", arch,
             "' (bigru, transformer, pretrained)");
  return nullptr;
}

// ---- Classifier -------------------------------------------------------------------------------

Classifier::Classifier(std::shared_ptr<ClassificationModel> model,
                       std::shared_ptr<text::Tokenizer> tokenizer,
                       std::vector<std::string> label_names, std::int64_t max_length,
                       data::Truncation truncation)
    : model_(std::move(model)),
      tokenizer_(std::move(tokenizer)),
      label_names_(std::move(label_names)),
      max_length_(max_length),
      truncation_(truncation) {
  ATTN_CHECK(model_ != nullptr && tokenizer_ != nullptr, "Classifier: expected a model and a tokenizer");
  ATTN_CHECK(static_cast<std::int64_t>(label_names_.size()) == model_->num_classes(),
             "Classifier: ", label_names_.size(), " label names for a model of ",
             model_->num_classes(), " classes");
  ATTN_CHECK(model_->max_length() == 0 || (max_length_ > 0 && max_length_ <= model_->max_length()),
             "Classifier: texts cut to ", max_length_, " tokens do not fit a model of at most ",
             model_->max_length());
}

Classifier Classifier::load(const fs::path& path) {
  const CheckpointLocation location = locate_checkpoint(path);
  const io::Checkpoint checkpoint = io::load_checkpoint(location.checkpoint.string());
  const nlohmann::json config = checkpoint_task_config(checkpoint, location.checkpoint, kTaskName);
  std::shared_ptr<ClassificationModel> model;
  std::vector<std::string> labels;
  std::int64_t max_length = 0;
  data::Truncation truncation = data::Truncation::KeepStart;
  try {
    const std::string arch = config.at("arch").get<std::string>();
    // Every weight of a fine-tuned encoder comes from the checkpoint: no random start.
    std::optional<nn::init::SkipInitialisation> skip;
    if (arch == "pretrained") skip.emplace();
    model = ClassificationModel::create(arch, config.at("model"));
    labels = config.at("labels").get<std::vector<std::string>>();
    max_length = config.at("max_length").get<std::int64_t>();
    truncation = truncation_from_string(config.at("truncation").get<std::string>());
  } catch (const nlohmann::json::exception& error) {
    ATTN_CHECK(false, location.checkpoint.string(), ": malformed classification config: ", error.what());
  }
  io::load_into(checkpoint, model->module());
  model->module().eval();
  std::shared_ptr<text::Tokenizer> tokenizer = text::load_tokenizer(location.directory, kTokenizerName);
  ATTN_CHECK(tokenizer->vocab_size() <= model->vocab_size(),
             location.directory.string(), ": the tokenizer has ", tokenizer->vocab_size(),
             " ids, more than the model's vocabulary");
  Classifier classifier(std::move(model), std::move(tokenizer), std::move(labels), max_length,
                        truncation);
  // Loaded here and never handed out for change: classify() may use inference copies.
  classifier.inference_weights_ = std::make_shared<const models::InferenceWeights>();
  return classifier;
}

std::vector<Classification> Classifier::classify(const std::vector<std::string>& texts,
                                                 std::int64_t batch_size) const {
  ATTN_CHECK(batch_size > 0, "classify: batch size must be positive, got ", batch_size);
  const models::InferenceWeights::Scope scope(inference_weights_.get());
  std::vector<std::vector<std::int64_t>> ids(texts.size());
  std::vector<std::int64_t> lengths(texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    ATTN_CHECK(!is_blank(texts[i]), "classify: text ", i + 1, " is empty");
    text::check_utf8(texts[i], "classify: text " + std::to_string(i + 1));
    ids[i] = classification_ids(*tokenizer_, texts[i], max_length_, truncation_);
    lengths[i] = static_cast<std::int64_t>(ids[i].size());
  }
  NoGradGuard no_grad;
  // Classifiers run in eval mode; the caller's mode comes back afterwards (a task's model
  // may be in the middle of training).
  nn::Module& module = model_->module();
  const bool was_training = module.is_training();
  module.eval();
  std::vector<Classification> results(texts.size());
  // Texts of similar length together: less padding. Padding does not change a row's result.
  std::vector<std::int64_t> order(texts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::int64_t a, std::int64_t b) { return lengths[a] < lengths[b]; });
  for (std::size_t begin = 0; begin < order.size(); begin += static_cast<std::size_t>(batch_size)) {
    const std::size_t end = std::min(order.size(), begin + static_cast<std::size_t>(batch_size));
    const std::vector<std::int64_t> rows(order.begin() + begin, order.begin() + end);
    const data::PaddedBatch batch = data::pad_sequences(ids, rows);
    const ClassifierForward output = model_->forward(batch);
    // probabilities [B, C]
    const std::vector<double> probabilities =
        ops::softmax(output.logits, -1).to(DType::Float64).to_vector<double>();
    std::vector<double> attention;
    if (output.attention.defined()) attention = output.attention.to(DType::Float64).to_vector<double>();
    const std::int64_t classes = model_->num_classes();
    const std::int64_t steps = batch.tokens.size(1);
    for (std::size_t row = 0; row < rows.size(); ++row) {
      Classification& result = results[static_cast<std::size_t>(rows[row])];
      const auto first = probabilities.begin() + static_cast<std::ptrdiff_t>(row) * classes;
      result.probabilities.assign(first, first + classes);
      result.label = std::max_element(result.probabilities.begin(), result.probabilities.end()) -
                     result.probabilities.begin();
      result.label_name = label_names_[static_cast<std::size_t>(result.label)];
      const std::vector<std::int64_t>& row_ids = ids[static_cast<std::size_t>(rows[row])];
      for (std::int64_t id : row_ids) result.tokens.push_back(tokenizer_->id_to_piece(id));
      if (!attention.empty()) {
        const auto weights = attention.begin() + static_cast<std::ptrdiff_t>(row) * steps;
        result.attention.assign(weights, weights + static_cast<std::ptrdiff_t>(row_ids.size()));
      }
    }
  }
  module.train(was_training);
  return results;
}

// ---- the training task ------------------------------------------------------------------------

struct ClassificationTask::Examples {
  std::vector<std::vector<std::int64_t>> ids;
  std::vector<std::int64_t> lengths;
  std::vector<std::int64_t> labels;
};

ClassificationTask::ClassificationTask(const train::Config& config, bool resume, std::ostream& log) {
  const std::string run_dir = config.get<std::string>("train.run_dir");
  batching_.batch_size = config.get<std::int64_t>("data.batch_size");
  batching_.max_tokens = config.get<std::int64_t>("data.max_tokens");
  batching_.seed = static_cast<std::uint64_t>(config.get<std::int64_t>("train.seed"));
  ATTN_CHECK(batching_.batch_size > 0 || batching_.max_tokens > 0,
             "classification: set data.batch_size or data.max_tokens (or both)");
  ATTN_CHECK(batching_.batch_size >= 0 && batching_.max_tokens >= 0,
             "classification: data.batch_size and data.max_tokens must not be negative");
  label_smoothing_ = config.get<double>("loss.label_smoothing");
  max_length_ = config.get<std::int64_t>("data.max_length");
  truncation_ = truncation_from_string(config.get<std::string>("data.truncation"));
  const std::string arch = config.get<std::string>("model.arch");
  ATTN_CHECK(max_length_ >= 0, "classification: data.max_length must be >= 0, got ", max_length_);
  ATTN_CHECK(max_length_ > 0 || arch != "transformer",
             "classification: model.arch = transformer needs a positive data.max_length (the "
             "length of its positions table)");
  const std::string pretrained = config.get<std::string>("model.pretrained");
  ATTN_CHECK(arch != "pretrained" || !pretrained.empty(),
             "classification: model.arch = pretrained needs model.pretrained, a Hugging Face "
             "model folder");
  ATTN_CHECK(arch == "pretrained" || pretrained.empty(), "classification: model.pretrained is '",
             pretrained, "' but model.arch is ", arch,
             ": set model.arch = \"pretrained\" to fine-tune that folder's encoder");

  ClassificationData texts = load_classification_data(config);
  label_names_ = texts.label_names;

  // The tokenizer: built from the training texts (or the pretrained folder's) on a fresh
  // run, read back on resume.
  const fs::path tokenizers = tokenizer_directory(run_dir);
  if (resume) {
    tokenizer_ = text::load_tokenizer(tokenizers, kTokenizerName);
  } else {
    const auto started = std::chrono::steady_clock::now();
    if (arch == "pretrained") {
      tokenizer_ = std::make_shared<text::PretrainedWordPiece>(
          text::PretrainedWordPiece::from_directory(pretrained));
    } else {
      std::vector<std::string> train_texts;
      train_texts.reserve(texts.train.size());
      for (const data::LabeledText& example : texts.train) train_texts.push_back(example.text);
      tokenizer_ = build_tokenizer(config, train_texts);
    }
    fs::create_directories(tokenizers);
    tokenizer_->save(tokenizers, kTokenizerName);
    log << "tokenizer: " << text::to_string(tokenizer_->kind()) << ", " << tokenizer_->vocab_size()
        << " ids, built in "
        << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()
        << " s\n";
  }

  if (arch == "pretrained") {
    model_ = pretrained_model(config, pretrained, log);
  } else {
    nlohmann::json options = section_options(config, "model." + arch);
    options["vocab_size"] = tokenizer_->vocab_size();
    options["num_classes"] = static_cast<std::int64_t>(label_names_.size());
    options["max_length"] = max_length_;
    model_ = ClassificationModel::create(arch, options);
  }

  const auto encode = [&](const std::vector<data::LabeledText>& examples) {
    auto encoded = std::make_unique<Examples>();
    for (const data::LabeledText& example : examples) {
      encoded->ids.push_back(classification_ids(*tokenizer_, example.text, max_length_, truncation_));
      encoded->lengths.push_back(static_cast<std::int64_t>(encoded->ids.back().size()));
      encoded->labels.push_back(example.label);
    }
    return encoded;
  };
  train_ = encode(texts.train);
  valid_ = encode(texts.valid);
  num_batches_ = static_cast<std::int64_t>(batches_for(0).size());

  const std::int64_t tokens = std::accumulate(train_->lengths.begin(), train_->lengths.end(), std::int64_t{0});
  std::string labels;
  for (const std::string& name : label_names_) labels += (labels.empty() ? "" : ", ") + name;
  const std::string limit =
      max_length_ > 0
          ? "cut to " + std::to_string(max_length_) + " " + std::string(truncation_name(truncation_))
          : "no length limit";
  log << "data: " << train_->ids.size() << " training texts (" << tokens << " tokens, " << limit
      << "), " << num_batches_ << " batches per epoch; " << valid_->ids.size()
      << " validation texts; labels: " << labels << "\n";
  log << "model: " << arch << ", " << model_->module().num_parameters() << " parameters\n";
}

ClassificationTask::~ClassificationTask() = default;

std::shared_ptr<ClassificationModel> ClassificationTask::pretrained_model(
    const train::Config& config, const std::string& directory, std::ostream& log) {
  const auto started = std::chrono::steady_clock::now();
  std::shared_ptr<models::PretrainedEncoder> encoder = models::load_pretrained(directory);
  models::BertClassifierOptions options;
  options.encoder = encoder->model().options();
  options.num_classes = static_cast<std::int64_t>(label_names_.size());
  const std::string pooling = config.get<std::string>("model.pooling");
  options.pooling = pooling == "auto" ? encoder->sentence_options().pooling : models::parse_pooling(pooling);
  options.classifier_dropout = config.get<double>("model.classifier_dropout");
  options.cls_id = tokenizer_->bos_id();
  options.sep_id = tokenizer_->eos_id();
  options.pad_id = tokenizer_->pad_id();
  ATTN_CHECK(tokenizer_->vocab_size() <= options.encoder.vocab_size, "classification: ",
             directory, ": the tokenizer has ", tokenizer_->vocab_size(),
             " ids, more than the model's ", options.encoder.vocab_size, " embeddings");
  // data.max_length 0: as long as the encoder's positions allow.
  if (max_length_ == 0) max_length_ = options.max_length();
  ATTN_CHECK(max_length_ <= options.max_length(), "classification: data.max_length ", max_length_,
             " is longer than ", directory, " allows (", options.max_length(),
             " pieces between [CLS] and [SEP])");
  const bool pretrained_weights = config.get<bool>("model.pretrained_weights");
  auto model = std::make_shared<PretrainedClassification>(
      options, pretrained_weights ? encoder->shared_model() : nullptr);
  log << "encoder: " << encoder->model_type() << " from " << directory << ", "
      << (pretrained_weights ? "pretrained" : "random") << " weights, "
      << models::pooling_name(options.pooling) << " pooling, read in "
      << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()
      << " s\n";
  return model;
}

std::string ClassificationTask::model_config_json() const {
  nlohmann::json config;
  config["task"] = kTaskName;
  config["arch"] = model_->arch();
  config["model"] = model_->options_json();
  config["labels"] = label_names_;
  config["max_length"] = max_length_;
  config["truncation"] = std::string(truncation_name(truncation_));
  return config.dump();
}

const std::vector<data::Batch>& ClassificationTask::batches_for(std::int64_t epoch) {
  if (epoch != cached_epoch_) {
    cached_batches_ = data::make_batches(train_->lengths, batching_, static_cast<std::uint64_t>(epoch));
    cached_epoch_ = epoch;
  }
  return cached_batches_;
}

std::int64_t ClassificationTask::batches_per_epoch() const { return num_batches_; }

bool ClassificationTask::has_validation() const { return !valid_->ids.empty(); }

// Mean cross-entropy over the listed examples; `logits` receives [B, C] when given.
Tensor ClassificationTask::loss_of(const Examples& examples, const std::vector<std::int64_t>& indices,
                                   double label_smoothing, Tensor* logits) const {
  const data::PaddedBatch batch = data::pad_sequences(examples.ids, indices);
  std::vector<std::int64_t> labels;
  labels.reserve(indices.size());
  for (std::int64_t index : indices) labels.push_back(examples.labels[static_cast<std::size_t>(index)]);
  const ClassifierForward output = model_->forward(batch);
  if (logits != nullptr) *logits = output.logits;
  ops::CrossEntropyOptions options;
  options.label_smoothing = label_smoothing;
  const Tensor targets =
      Tensor::from_vector<std::int64_t>({static_cast<std::int64_t>(labels.size())}, labels);
  return ops::cross_entropy(output.logits, targets, options);
}

std::uint64_t ClassificationTask::data_fingerprint() const {
  train::Fingerprint fingerprint;
  fingerprint.add(train_->ids);
  fingerprint.add(train_->labels);
  return fingerprint.value();
}

train::StepResult ClassificationTask::train_step(std::int64_t epoch, std::int64_t batch_index,
                                                 train::BatchSlice slice) {
  const data::Batch& batch = batches_for(epoch).at(static_cast<std::size_t>(batch_index));
  // An example costs its tokens to compute; the loss is a mean over examples.
  std::vector<std::int64_t> costs;
  for (std::int64_t index : batch.indices) costs.push_back(train_->lengths[static_cast<std::size_t>(index)]);
  const auto [begin, end] = train::slice_bounds(costs, slice);
  train::StepResult result;
  result.batch_tokens = static_cast<std::int64_t>(batch.indices.size());
  if (begin == end) return result;
  const std::vector<std::int64_t> indices(batch.indices.begin() + begin, batch.indices.begin() + end);
  result.loss = loss_of(*train_, indices, label_smoothing_);
  result.num_tokens = static_cast<std::int64_t>(indices.size());
  return result;
}

train::ValidationResult ClassificationTask::validate() {
  train::ValidationResult result;
  if (valid_->ids.empty()) return result;
  data::BatchingOptions options = batching_;
  options.shuffle = false;
  double total = 0;
  std::vector<std::int64_t> predicted, gold;
  for (const data::Batch& batch : data::make_batches(valid_->lengths, options)) {
    Tensor logits;
    const Tensor loss = loss_of(*valid_, batch.indices, 0.0, &logits);
    total += loss.item<double>() * static_cast<double>(batch.indices.size());
    const std::vector<std::int64_t> best = ops::argmax(logits, 1).to_vector<std::int64_t>();
    predicted.insert(predicted.end(), best.begin(), best.end());
    for (std::int64_t index : batch.indices) gold.push_back(valid_->labels[static_cast<std::size_t>(index)]);
  }
  result.loss = total / static_cast<double>(valid_->ids.size());
  result.metrics["accuracy"] = metrics::accuracy(predicted, gold).accuracy;
  return result;
}

Classifier ClassificationTask::classifier() const {
  return Classifier(model_, tokenizer_, label_names_, max_length_, truncation_);
}

}  // namespace attn::tasks
