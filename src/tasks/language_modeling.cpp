#include "attn/tasks/language_modeling.h"

#include <algorithm>
#include <chrono>
#include <numeric>
#include <ostream>

#include "attn/autograd/grad_mode.h"
#include "attn/core/error.h"
#include "attn/data/text_files.h"
#include "attn/decode/search.h"
#include "attn/io/checkpoint.h"
#include "attn/metrics/perplexity.h"
#include "attn/ops/ops.h"
#include "attn/tasks/task_common.h"
#include "attn/text/char_vocabulary.h"
#include "attn/text/sentencepiece.h"
#include "attn/text/utf8.h"
#include "attn/train/trainer.h"

namespace attn::tasks {
namespace fs = std::filesystem;

namespace {

constexpr const char* kTaskName = "language_model";
constexpr const char* kTokenizerName = "text";

// Fields the task fills in itself: from the tokenizer and data.context_length.
const std::set<std::string> kDerivedKeys = {"vocab_size", "max_length"};

std::string text_file(const train::Config& config, const std::string& split) {
  const std::string source = config.get<std::string>("data.source");
  fs::path directory = config.get<std::string>("data.dir");
  if (source == "austen") {
    directory /= "lm";
  } else {
    ATTN_CHECK(source == "text", "language_model: unknown data.source '", source, "' (austen, text)");
  }
  const fs::path path = directory / (split + ".txt");
  ATTN_CHECK(fs::exists(path), "language_model: missing data file '", path.string(), "'",
             source == "austen" ? " (run `attn data fetch austen` first)" : "");
  return path.string();
}

std::unique_ptr<text::Tokenizer> build_tokenizer(const train::Config& config,
                                                 const std::vector<std::string>& paragraphs) {
  const std::string kind = config.get<std::string>("tokenizer.kind");
  if (kind == "char") return build_char_vocabulary(config, paragraphs);
  ATTN_CHECK(kind == "sentencepiece", "language_model: unknown tokenizer.kind '", kind,
             "' (sentencepiece, char)");
  return std::make_unique<text::SentencePieceTokenizer>(
      text::train_sentencepiece_on_sentences(paragraphs, sentencepiece_options(config)));
}

bool ends_with_space(const std::string& text) {
  return !text.empty() && (text.back() == ' ' || text.back() == '\t');
}

}  // namespace

// ---- schema -------------------------------------------------------------------------------

train::Schema language_model_schema() {
  train::Schema schema = train::trainer_schema();
  schema.add("task.kind", std::string(kTaskName), "what to train", {kTaskName});
  schema.section("data")
      .add("source", "austen", "austen (data.dir/lm/{train,valid}.txt) or text "
           "(data.dir/{train,valid}.txt): one paragraph per line", {"austen", "text"})
      .add("dir", "data/austen", "the data folder (attn data fetch austen)")
      .add("context_length", 128, "tokens per training block; also the model's max_length")
      .add("batch_size", 16, "blocks per batch")
      .add("valid_blocks", 0, "validate on the first N blocks of valid.txt only (0: all)");
  schema.section("tokenizer")
      .add("kind", "sentencepiece", "sentencepiece (trained on train.txt) or char",
           {"sentencepiece", "char"})
      .add("vocab_size", 4000, "ids in all, the 4 reserved included (char: 0 = no limit)")
      .add("model_type", "unigram", "sentencepiece model", {"unigram", "bpe"})
      .add("max_sentences", 0, "sentencepiece: train on a sample of this many paragraphs (0: all)")
      .add("min_count", 1, "char: leave out characters seen fewer times");
  models::LanguageModelOptions transformer;
  transformer.d_model = 256;
  transformer.num_heads = 4;
  transformer.d_ff = 1024;
  transformer.num_layers = 4;
  add_options_keys(schema, "model.transformer", transformer.to_json(), kDerivedKeys,
                   "LanguageModelOptions (include/attn/models/language_model.h)");
  schema.add("loss.label_smoothing", 0.0, "label smoothing of the cross-entropy");
  return schema;
}

// ---- token stream -----------------------------------------------------------------------------

std::vector<std::int64_t> paragraph_stream(const text::Tokenizer& tokenizer,
                                           const std::vector<std::string>& paragraphs) {
  std::vector<std::int64_t> stream{text::kEosId};
  for (const std::string& paragraph : paragraphs) {
    if (paragraph.empty()) continue;
    const std::vector<std::int64_t> ids = tokenizer.encode(paragraph);
    if (ids.empty()) continue;
    stream.insert(stream.end(), ids.begin(), ids.end());
    stream.push_back(text::kEosId);
  }
  return stream;
}

BlockLayout block_layout(std::int64_t stream_length, std::int64_t context_length) {
  ATTN_CHECK(context_length > 0, "language_model: expected a positive context length, got ",
             context_length);
  BlockLayout layout;
  if (stream_length < 2) return layout;
  const std::int64_t predictions = stream_length - 1;  // every token but the first is a target
  if (predictions < context_length) return {predictions, 1};
  return {context_length, predictions / context_length};
}

// ---- TextGenerator ----------------------------------------------------------------------------

TextGenerator::TextGenerator(std::shared_ptr<models::TransformerLanguageModel> model,
                             std::shared_ptr<text::Tokenizer> tokenizer)
    : model_(std::move(model)), tokenizer_(std::move(tokenizer)) {
  ATTN_CHECK(model_ != nullptr && tokenizer_ != nullptr, "TextGenerator: expected a model and a tokenizer");
  ATTN_CHECK(tokenizer_->vocab_size() <= model_->options().vocab_size, "TextGenerator: the tokenizer has ",
             tokenizer_->vocab_size(), " ids, more than the model's vocabulary of ",
             model_->options().vocab_size);
}

TextGenerator TextGenerator::load(const fs::path& path) {
  const CheckpointLocation location = locate_checkpoint(path);
  const io::Checkpoint checkpoint = io::load_checkpoint(location.checkpoint.string());
  const nlohmann::json config = checkpoint_task_config(checkpoint, location.checkpoint, kTaskName);
  ATTN_CHECK(config.contains("model") && config["model"].is_object(), location.checkpoint.string(),
             ": malformed language_model config (no \"model\" object)");
  auto model = std::make_shared<models::TransformerLanguageModel>(
      models::LanguageModelOptions::from_json(config["model"]));
  io::load_into(checkpoint, *model);
  model->eval();
  TextGenerator generator(std::move(model), text::load_tokenizer(location.directory, kTokenizerName));
  // Loaded here and never handed out for change: decoding may use inference copies.
  generator.inference_weights_ = std::make_shared<const models::InferenceWeights>();
  return generator;
}

std::int64_t TextGenerator::max_length() const { return model_->options().max_length; }

namespace {

std::vector<decode::Hypothesis> search(decode::StepModel& step_model,
                                       const std::vector<std::int64_t>& first_tokens,
                                       const GenerationSettings& settings) {
  if (settings.method == "greedy") {
    return decode::greedy(step_model, first_tokens, text::kEosId, settings.max_length);
  }
  if (settings.method == "beam") {
    decode::BeamSearchOptions options;
    options.beam_size = settings.beam_size;
    options.length_penalty = settings.length_penalty;
    options.n_best = 1;
    options.max_length = settings.max_length;
    options.eos = text::kEosId;
    options.first_tokens = first_tokens;
    std::vector<decode::Hypothesis> best;
    for (auto& list : decode::beam_search(step_model, options)) best.push_back(std::move(list.front()));
    return best;
  }
  ATTN_CHECK(settings.method == "sample", "generate: unknown method '", settings.method,
             "' (greedy, beam, sample)");
  decode::SamplingOptions options;
  options.temperature = settings.temperature;
  options.top_k = settings.top_k;
  options.top_p = settings.top_p;
  options.seed = settings.seed;
  options.max_length = settings.max_length;
  options.eos = text::kEosId;
  options.first_tokens = first_tokens;
  return decode::sample(step_model, options);
}

}  // namespace

std::vector<Generation> TextGenerator::generate(const std::vector<std::string>& prompts,
                                                const GenerationSettings& settings) const {
  const models::InferenceWeights::Scope scope(inference_weights_.get());
  ATTN_CHECK(settings.method == "greedy" || settings.method == "beam" || settings.method == "sample",
             "generate: unknown method '", settings.method, "' (greedy, beam, sample)");
  ATTN_CHECK(settings.max_length >= 0, "generate: expected max_length >= 0, got ", settings.max_length);
  ATTN_CHECK(settings.batch_size > 0, "generate: batch size must be positive, got ", settings.batch_size);
  std::vector<std::vector<std::int64_t>> encoded(prompts.size());
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    encoded[i] = {text::kEosId};
    text::check_utf8(prompts[i], "generate: prompt " + std::to_string(i + 1));
    const std::vector<std::int64_t> ids = tokenizer_->encode(prompts[i]);
    encoded[i].insert(encoded[i].end(), ids.begin(), ids.end());
    ATTN_CHECK(static_cast<std::int64_t>(encoded[i].size()) <= max_length(), "generate: prompt ",
               i + 1, " is ", encoded[i].size(), " tokens long (with the </s> that starts it); "
               "the model takes at most ", max_length());
  }
  NoGradGuard no_grad;
  const bool was_training = model_->is_training();
  model_->eval();
  std::vector<Generation> results(prompts.size());
  // Prompts of similar length together: the shorter ones of a batch are padded on the left
  // and share the longest one's limit on generated tokens.
  std::vector<std::int64_t> order(prompts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    return encoded[a].size() < encoded[b].size();
  });
  for (std::size_t begin = 0; begin < order.size(); begin += static_cast<std::size_t>(settings.batch_size)) {
    const std::size_t end = std::min(order.size(), begin + static_cast<std::size_t>(settings.batch_size));
    std::vector<std::vector<std::int64_t>> batch;
    for (std::size_t i = begin; i < end; ++i) batch.push_back(encoded[static_cast<std::size_t>(order[i])]);
    std::unique_ptr<models::LanguageModelStepModel> step_model = model_->start_generation(batch);
    const std::vector<std::int64_t> first_tokens = step_model->first_tokens();
    std::vector<decode::Hypothesis> found = search(*step_model, first_tokens, settings);
    for (std::size_t row = 0; row < batch.size(); ++row) {
      const auto index = static_cast<std::size_t>(order[begin + row]);
      Generation& result = results[index];
      const decode::Hypothesis& hypothesis = found[row];
      result.prompt = prompts[index];
      result.tokens = hypothesis.tokens;
      result.log_prob = hypothesis.log_prob;
      result.finished = hypothesis.finished;
      // Decode prompt and continuation together, so that subword spacing comes out right,
      // then take what the continuation added.
      std::vector<std::int64_t> all = batch[row];
      all.insert(all.end(), hypothesis.tokens.begin(), hypothesis.tokens.end());
      const std::string prefix = tokenizer_->decode(batch[row]);
      const std::string whole = tokenizer_->decode(all);
      result.continuation = whole.compare(0, prefix.size(), prefix) == 0
                                ? whole.substr(prefix.size())
                                : tokenizer_->decode(hypothesis.tokens);
      if (ends_with_space(result.prompt) && !result.continuation.empty() &&
          result.continuation.front() == ' ') {
        result.continuation.erase(0, 1);
      }
      result.text = result.prompt + result.continuation;
    }
  }
  model_->train(was_training);
  return results;
}

// ---- the training task ------------------------------------------------------------------------

LanguageModelTask::LanguageModelTask(const train::Config& config, bool resume, std::ostream& log)
    : seed_(static_cast<std::uint64_t>(config.get<std::int64_t>("train.seed"))),
      batch_size_(config.get<std::int64_t>("data.batch_size")),
      context_length_(config.get<std::int64_t>("data.context_length")),
      label_smoothing_(config.get<double>("loss.label_smoothing")) {
  ATTN_CHECK(batch_size_ > 0, "language_model: data.batch_size must be positive, got ", batch_size_);
  ATTN_CHECK(context_length_ > 0, "language_model: data.context_length must be positive, got ",
             context_length_);
  const std::int64_t valid_blocks = config.get<std::int64_t>("data.valid_blocks");
  ATTN_CHECK(valid_blocks >= 0, "language_model: data.valid_blocks must be >= 0, got ", valid_blocks);
  const std::vector<std::string> train_text = data::read_lines(text_file(config, "train"));
  const std::vector<std::string> valid_text = data::read_lines(text_file(config, "valid"));

  // The tokenizer: built from the training paragraphs on a fresh run, read back on resume.
  const fs::path tokenizers = tokenizer_directory(config.get<std::string>("train.run_dir"));
  if (resume) {
    tokenizer_ = text::load_tokenizer(tokenizers, kTokenizerName);
  } else {
    const auto started = std::chrono::steady_clock::now();
    tokenizer_ = build_tokenizer(config, train_text);
    fs::create_directories(tokenizers);
    tokenizer_->save(tokenizers, kTokenizerName);
    log << "tokenizer: " << text::to_string(tokenizer_->kind()) << ", " << tokenizer_->vocab_size()
        << " ids, built in "
        << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()
        << " s\n";
  }

  nlohmann::json options = section_options(config, "model.transformer");
  options["vocab_size"] = tokenizer_->vocab_size();
  options["max_length"] = context_length_;
  model_ = std::make_shared<models::TransformerLanguageModel>(models::LanguageModelOptions::from_json(options));

  train_stream_ = paragraph_stream(*tokenizer_, train_text);
  valid_stream_ = paragraph_stream(*tokenizer_, valid_text);
  train_layout_ = block_layout(static_cast<std::int64_t>(train_stream_.size()), context_length_);
  valid_layout_ = block_layout(static_cast<std::int64_t>(valid_stream_.size()), context_length_);
  if (valid_blocks > 0) valid_layout_.num_blocks = std::min(valid_layout_.num_blocks, valid_blocks);
  ATTN_CHECK(train_layout_.num_blocks > 0, "language_model: no training text in ",
             text_file(config, "train"));
  log << "data: " << train_stream_.size() << " training tokens in " << train_layout_.num_blocks
      << " blocks of " << train_layout_.block_length << ", " << batches_per_epoch()
      << " batches per epoch; " << valid_layout_.num_blocks * valid_layout_.block_length
      << " validation tokens\n";
  log << "model: transformer language model, " << model_->num_parameters() << " parameters\n";
}

LanguageModelTask::~LanguageModelTask() = default;

std::string LanguageModelTask::model_config_json() const {
  nlohmann::json config;
  config["task"] = kTaskName;
  config["model"] = model_->options().to_json();
  config["context_length"] = context_length_;
  return config.dump();
}

std::int64_t LanguageModelTask::batches_per_epoch() const {
  return (train_layout_.num_blocks + batch_size_ - 1) / batch_size_;
}

bool LanguageModelTask::has_validation() const { return valid_layout_.num_blocks > 0; }

Tensor LanguageModelTask::loss_of(const std::vector<std::int64_t>& stream, const BlockLayout& layout,
                                  const std::vector<std::int64_t>& blocks,
                                  double label_smoothing) const {
  const std::int64_t length = layout.block_length;
  const auto rows = static_cast<std::int64_t>(blocks.size());
  std::vector<std::int64_t> inputs, targets;
  inputs.reserve(static_cast<std::size_t>(rows * length));
  targets.reserve(static_cast<std::size_t>(rows * length));
  for (std::int64_t block : blocks) {
    const auto start = stream.begin() + block * length;
    inputs.insert(inputs.end(), start, start + length);
    targets.insert(targets.end(), start + 1, start + length + 1);
  }
  // logits [rows, length, V]
  const Tensor logits = model_->forward(Tensor::from_vector<std::int64_t>({rows, length}, inputs));
  ops::CrossEntropyOptions options;
  options.ignore_index = text::kPadId;
  options.label_smoothing = label_smoothing;
  return ops::cross_entropy(ops::reshape(logits, {rows * length, -1}),
                            Tensor::from_vector<std::int64_t>({rows * length}, targets), options);
}

std::uint64_t LanguageModelTask::data_fingerprint() const {
  train::Fingerprint fingerprint;
  fingerprint.add(train_stream_);
  return fingerprint.value();
}

train::StepResult LanguageModelTask::train_step(std::int64_t epoch, std::int64_t batch_index,
                                                train::BatchSlice slice) {
  ATTN_CHECK(batch_index >= 0 && batch_index < batches_per_epoch(), "language_model: batch ",
             batch_index, " of an epoch of ", batches_per_epoch());
  if (epoch != cached_epoch_) {
    cached_order_ = train::shuffled_order(seed_, epoch, train_layout_.num_blocks);
    cached_epoch_ = epoch;
  }
  const std::int64_t begin = batch_index * batch_size_;
  const std::int64_t end = std::min(train_layout_.num_blocks, begin + batch_size_);
  // Every block has the same length, so the slices are even in blocks.
  const std::vector<std::int64_t> block_costs(static_cast<std::size_t>(end - begin), 1);
  const auto [first, last] = train::slice_bounds(block_costs, slice);
  train::StepResult result;
  result.batch_tokens = (end - begin) * train_layout_.block_length;
  if (first == last) return result;
  const std::vector<std::int64_t> blocks(cached_order_.begin() + begin + first,
                                         cached_order_.begin() + begin + last);
  result.loss = loss_of(train_stream_, train_layout_, blocks, label_smoothing_);
  result.num_tokens = static_cast<std::int64_t>(blocks.size()) * train_layout_.block_length;
  return result;
}

train::ValidationResult LanguageModelTask::validate() {
  train::ValidationResult result;
  if (!has_validation()) return result;
  metrics::PerplexityAccumulator accumulator;
  for (std::int64_t begin = 0; begin < valid_layout_.num_blocks; begin += batch_size_) {
    const std::int64_t end = std::min(valid_layout_.num_blocks, begin + batch_size_);
    std::vector<std::int64_t> blocks(static_cast<std::size_t>(end - begin));
    std::iota(blocks.begin(), blocks.end(), begin);
    const Tensor loss = loss_of(valid_stream_, valid_layout_, blocks, 0.0);
    const std::int64_t tokens = (end - begin) * valid_layout_.block_length;
    accumulator.add(loss.item<double>() * static_cast<double>(tokens), tokens);
  }
  const metrics::PerplexityResult perplexity = accumulator.result();
  result.loss = perplexity.mean_nll;
  result.metrics["perplexity"] = perplexity.perplexity;
  return result;
}

metrics::PerplexityResult TextGenerator::perplexity(const std::vector<std::string>& paragraphs,
                                                   std::int64_t batch_size) const {
  ATTN_CHECK(batch_size > 0, "perplexity: batch size must be positive, got ", batch_size);
  const models::InferenceWeights::Scope scope(inference_weights_.get());
  const std::vector<std::int64_t> stream = paragraph_stream(*tokenizer_, paragraphs);
  const BlockLayout layout = block_layout(static_cast<std::int64_t>(stream.size()), max_length());
  ATTN_CHECK(layout.num_blocks > 0, "perplexity: the text has fewer than two tokens");
  NoGradGuard no_grad;
  metrics::PerplexityAccumulator accumulator;
  for (std::int64_t begin = 0; begin < layout.num_blocks; begin += batch_size) {
    const std::int64_t rows = std::min(layout.num_blocks, begin + batch_size) - begin;
    std::vector<std::int64_t> inputs, targets;
    for (std::int64_t block = begin; block < begin + rows; ++block) {
      const auto start = stream.begin() + block * layout.block_length;
      inputs.insert(inputs.end(), start, start + layout.block_length);
      targets.insert(targets.end(), start + 1, start + layout.block_length + 1);
    }
    const std::int64_t count = rows * layout.block_length;
    const Tensor logits =
        model_->forward(Tensor::from_vector<std::int64_t>({rows, layout.block_length}, inputs));
    ops::CrossEntropyOptions options;
    options.reduction = ops::Reduction::Sum;
    const Tensor total = ops::cross_entropy(ops::reshape(logits, {count, -1}),
                                            Tensor::from_vector<std::int64_t>({count}, targets), options);
    accumulator.add(total.item<double>(), count);
  }
  return accumulator.result();
}

TextGenerator LanguageModelTask::generator() const { return TextGenerator(model_, tokenizer_); }

}  // namespace attn::tasks
