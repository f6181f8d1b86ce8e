#include "attn/tasks/translation.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <ostream>

#include "attn/autograd/grad_mode.h"
#include "attn/core/error.h"
#include "attn/data/split.h"
#include "attn/data/text_files.h"
#include "attn/io/checkpoint.h"
#include "attn/metrics/bleu.h"
#include "attn/models/rnn_seq2seq.h"
#include "attn/models/transformer.h"
#include "attn/ops/ops.h"
#include "attn/tasks/task_common.h"
#include "attn/text/sentencepiece.h"
#include "attn/text/utf8.h"
#include "attn/train/trainer.h"

namespace attn::tasks {
namespace fs = std::filesystem;

namespace {

constexpr const char* kTaskName = "translation";

// ---- the two architectures ------------------------------------------------------------------

class TransformerTranslation final : public TranslationModel {
 public:
  explicit TransformerTranslation(const models::TransformerOptions& options)
      : model_(options) {}
  nn::Module& module() override { return model_; }
  const nn::Module& module() const override { return model_; }
  std::string arch() const override { return "transformer"; }
  nlohmann::json options_json() const override { return model_.options().to_json(); }
  std::int64_t max_length() const override { return model_.options().max_length; }

  Tensor logits(const data::PaddedBatch& source, const Tensor& target_in) const override {
    return model_.forward(source.tokens, target_in, source.padding_mask);
  }
  std::unique_ptr<decode::StepModel> start_decoding(const data::PaddedBatch& source) const override {
    return model_.start_decoding(source.tokens, source.padding_mask);
  }

 private:
  models::Transformer model_;
};

class RnnTranslation final : public TranslationModel {
 public:
  explicit RnnTranslation(const models::RnnSeq2SeqOptions& options) : model_(options) {}
  nn::Module& module() override { return model_; }
  const nn::Module& module() const override { return model_; }
  std::string arch() const override { return "rnn"; }
  nlohmann::json options_json() const override { return model_.options().to_json(); }
  std::int64_t max_length() const override { return 0; }

  Tensor logits(const data::PaddedBatch& source, const Tensor& target_in) const override {
    return model_.forward(source.tokens, source.lengths, target_in).logits;
  }
  std::unique_ptr<decode::StepModel> start_decoding(const data::PaddedBatch& source) const override {
    return model_.start_decoding(source.tokens, source.lengths);
  }

 private:
  models::RnnSeq2Seq model_;
};

const std::set<std::string> kDerivedKeys = {"source_vocab_size", "target_vocab_size"};

// ---- sentences as token ids ---------------------------------------------------------------

// source: ids + </s>; target: <s> ids </s> (target_in drops the last, target_out the first).
std::vector<std::int64_t> source_ids(const text::Tokenizer& tokenizer, const std::string& sentence) {
  std::vector<std::int64_t> ids = tokenizer.encode(sentence);
  ids.push_back(text::kEosId);
  return ids;
}

std::vector<std::int64_t> target_ids(const text::Tokenizer& tokenizer, const std::string& sentence) {
  std::vector<std::int64_t> ids{text::kBosId};
  const std::vector<std::int64_t> body = tokenizer.encode(sentence);
  ids.insert(ids.end(), body.begin(), body.end());
  ids.push_back(text::kEosId);
  return ids;
}

std::shared_ptr<text::Tokenizer> share(std::unique_ptr<text::Tokenizer> tokenizer) {
  return std::shared_ptr<text::Tokenizer>(std::move(tokenizer));
}

std::string data_path(const std::string& directory, data::Split split, const std::string& side) {
  return (fs::path(directory) / (std::string(data::split_name(split)) + "." + side)).string();
}

}  // namespace

// ---- schema -------------------------------------------------------------------------------

train::Schema translation_schema() {
  train::Schema schema = train::trainer_schema();
  schema.add("task.kind", std::string(kTaskName), "what to train", {"translation"});
  schema.section("data")
      .add("dir", "data/bible", "folder with {train,valid,test}.{source,target} (attn data fetch bible)")
      .add("source", "es", "file suffix of the source language")
      .add("target", "en", "file suffix of the target language")
      .add("max_tokens", 4096, "token budget of a training batch, padding included")
      .add("max_length", 128, "training pairs longer than this many tokens are left out")
      .add("valid_sentences", 0, "use only the first N validation pairs (0: all)");
  schema.section("tokenizer")
      .add("vocab_size", 8000, "SentencePiece vocabulary size, the 4 reserved ids included")
      .add("model_type", "unigram", "SentencePiece model", {"unigram", "bpe"})
      .add("joint", true, "one tokenizer for both languages (allows shared embeddings)")
      .add("max_sentences", 0, "train the tokenizer on a sample of this many lines (0: all)");
  schema.add("model.arch", "transformer", "architecture", {"transformer", "rnn"});
  models::TransformerOptions transformer;
  transformer.d_model = 256;
  transformer.num_heads = 4;
  transformer.d_ff = 1024;
  transformer.encoder_layers = 3;
  transformer.decoder_layers = 3;
  transformer.max_length = 256;
  transformer.norm = models::NormPlacement::Pre;
  transformer.share_embeddings = true;
  transformer.tie_output = true;
  add_options_keys(schema, "model.transformer", transformer.to_json(), kDerivedKeys,
                   "TransformerOptions (docs/MODELS.md)");
  add_options_keys(schema, "model.rnn", models::RnnSeq2SeqOptions{}.to_json(), kDerivedKeys,
                   "RnnSeq2SeqOptions (docs/MODELS_RNN.md)");
  schema.add("loss.label_smoothing", 0.1, "label smoothing of the cross-entropy");
  schema.add("eval.bleu_sentences", 0,
             "at each validation, greedy-decode this many validation sentences and report BLEU");
  return schema;
}

std::unique_ptr<TranslationModel> TranslationModel::create(const std::string& arch,
                                                           const nlohmann::json& options) {
  if (arch == "transformer") {
    return std::make_unique<TransformerTranslation>(models::TransformerOptions::from_json(options));
  }
  if (arch == "rnn") {
    return std::make_unique<RnnTranslation>(models::RnnSeq2SeqOptions::from_json(options));
  }
  ATTN_CHECK(false, "translation: unknown model architecture '", arch, "' (transformer, rnn)");
  return nullptr;
}

// ---- decoding -----------------------------------------------------------------------------

namespace {

std::vector<std::vector<decode::Hypothesis>> run_search(decode::StepModel& step_model,
                                                        const SearchSettings& settings) {
  if (settings.method == "greedy") {
    std::vector<std::vector<decode::Hypothesis>> result;
    for (auto& hypothesis : decode::greedy(step_model, text::kBosId, text::kEosId, settings.max_length))
      result.push_back({std::move(hypothesis)});
    return result;
  }
  if (settings.method == "beam") {
    decode::BeamSearchOptions options;
    options.beam_size = settings.beam_size;
    options.length_penalty = settings.length_penalty;
    options.n_best = std::min(settings.n_best, settings.beam_size);
    options.max_length = settings.max_length;
    return decode::beam_search(step_model, options);
  }
  if (settings.method == "sample") {
    decode::SamplingOptions options;
    options.temperature = settings.temperature;
    options.top_k = settings.top_k;
    options.top_p = settings.top_p;
    options.seed = settings.seed;
    options.max_length = settings.max_length;
    std::vector<std::vector<decode::Hypothesis>> result;
    for (auto& hypothesis : decode::sample(step_model, options)) result.push_back({std::move(hypothesis)});
    return result;
  }
  ATTN_CHECK(false, "translate: unknown search method '", settings.method,
             "' (greedy, beam, sample)");
  return {};
}

}  // namespace

std::vector<std::vector<Translation>> translate_sentences(const TranslationModel& model,
                                                          const text::Tokenizer& source_tokenizer,
                                                          const text::Tokenizer& target_tokenizer,
                                                          const std::vector<std::string>& sentences,
                                                          const SearchSettings& settings) {
  ATTN_CHECK(settings.batch_size > 0, "translate: batch size must be positive, got ",
             settings.batch_size);
  NoGradGuard no_grad;
  std::vector<std::vector<Translation>> results(sentences.size());
  std::vector<std::vector<std::int64_t>> sources(sentences.size());
  std::vector<std::int64_t> lengths(sentences.size());
  std::vector<std::int64_t> pending;  // non-empty sentences
  for (std::size_t i = 0; i < sentences.size(); ++i) {
    text::check_utf8(sentences[i], "translate: sentence " + std::to_string(i + 1));
    sources[i] = source_ids(source_tokenizer, sentences[i]);
    const auto length = static_cast<std::int64_t>(sources[i].size());
    ATTN_CHECK(model.max_length() == 0 || length <= model.max_length(), "translate: sentence ",
               i + 1, " is ", length, " tokens long with </s>; the model takes at most ",
               model.max_length());
    lengths[i] = length;
    if (length > 1) {
      pending.push_back(static_cast<std::int64_t>(i));
    } else {
      results[i] = {Translation{}};
    }
  }
  // Decode sentences of similar length together: less padding, and beams end together.
  std::stable_sort(pending.begin(), pending.end(),
                   [&](std::int64_t a, std::int64_t b) { return lengths[a] < lengths[b]; });
  for (std::size_t begin = 0; begin < pending.size(); begin += settings.batch_size) {
    const std::size_t end = std::min(pending.size(), begin + static_cast<std::size_t>(settings.batch_size));
    const std::vector<std::int64_t> indices(pending.begin() + begin, pending.begin() + end);
    const data::PaddedBatch batch = data::pad_sequences(sources, indices);
    std::unique_ptr<decode::StepModel> step_model = model.start_decoding(batch);
    std::vector<std::vector<decode::Hypothesis>> found = run_search(*step_model, settings);
    for (std::size_t row = 0; row < indices.size(); ++row) {
      std::vector<Translation>& out = results[indices[row]];
      for (const decode::Hypothesis& hypothesis : found[row]) {
        out.push_back({target_tokenizer.decode(hypothesis.tokens), hypothesis.score,
                       hypothesis.log_prob, static_cast<std::int64_t>(hypothesis.tokens.size())});
      }
    }
  }
  return results;
}

// ---- Translator ----------------------------------------------------------------------------

Translator Translator::load(const fs::path& path) {
  const CheckpointLocation location = locate_checkpoint(path);
  const io::Checkpoint checkpoint = io::load_checkpoint(location.checkpoint.string());
  const nlohmann::json config = checkpoint_task_config(checkpoint, location.checkpoint, kTaskName);
  Translator translator;
  translator.model_ = TranslationModel::create(config.at("arch").get<std::string>(), config.at("model"));
  io::load_into(checkpoint, translator.model_->module());
  translator.model_->module().eval();
  translator.source_tokenizer_ = share(text::load_tokenizer(location.directory, "source"));
  translator.target_tokenizer_ = share(text::load_tokenizer(location.directory, "target"));
  translator.inference_weights_ = std::make_shared<const models::InferenceWeights>();
  return translator;
}

std::vector<std::vector<Translation>> Translator::translate(const std::vector<std::string>& sentences,
                                                            const SearchSettings& settings) const {
  const models::InferenceWeights::Scope scope(inference_weights_.get());
  return translate_sentences(*model_, *source_tokenizer_, *target_tokenizer_, sentences, settings);
}

std::vector<std::string> Translator::translate_best(const std::vector<std::string>& sentences,
                                                    const SearchSettings& settings) const {
  std::vector<std::string> best;
  for (const auto& list : translate(sentences, settings)) best.push_back(list.empty() ? "" : list.front().text);
  return best;
}

// ---- the training task ----------------------------------------------------------------------

struct TranslationTask::Corpus {
  std::vector<std::vector<std::int64_t>> sources;
  std::vector<std::vector<std::int64_t>> targets;  // <s> ... </s>
  std::vector<std::int64_t> source_lengths;
  std::vector<std::int64_t> target_lengths;  // of target_in (= of target_out)
};

namespace {

std::unique_ptr<text::Tokenizer> train_tokenizer(const std::vector<fs::path>& files,
                                                 const train::Config& config) {
  return std::make_unique<text::SentencePieceTokenizer>(
      text::train_sentencepiece(files, sentencepiece_options(config)));
}

}  // namespace

TranslationTask::TranslationTask(const train::Config& config, bool resume, std::ostream& log)
    : run_dir_(config.get<std::string>("train.run_dir")) {
  const std::string directory = config.get<std::string>("data.dir");
  const std::string source_side = config.get<std::string>("data.source");
  const std::string target_side = config.get<std::string>("data.target");
  const std::int64_t max_length = config.get<std::int64_t>("data.max_length");
  batching_.max_tokens = config.get<std::int64_t>("data.max_tokens");
  batching_.seed = static_cast<std::uint64_t>(config.get<std::int64_t>("train.seed"));
  label_smoothing_ = config.get<double>("loss.label_smoothing");
  bleu_sentences_ = config.get<std::int64_t>("eval.bleu_sentences");

  const data::ParallelText train_text =
      data::load_parallel(directory, data::Split::Train, source_side, target_side);
  data::ParallelText valid_text =
      data::load_parallel(directory, data::Split::Valid, source_side, target_side);
  ATTN_CHECK(!train_text.source.empty(), "translation: no training pairs in ", directory);

  // Tokenizers: trained on a fresh run, read back on resume.
  const fs::path tokenizers = tokenizer_directory(run_dir_);
  if (resume) {
    source_tokenizer_ = share(text::load_tokenizer(tokenizers, "source"));
    target_tokenizer_ = share(text::load_tokenizer(tokenizers, "target"));
  } else {
    fs::create_directories(tokenizers);
    const auto started = std::chrono::steady_clock::now();
    if (config.get<bool>("tokenizer.joint")) {
      source_tokenizer_ = share(train_tokenizer({data_path(directory, data::Split::Train, source_side),
                                                 data_path(directory, data::Split::Train, target_side)},
                                                config));
      target_tokenizer_ = source_tokenizer_;
    } else {
      source_tokenizer_ = share(train_tokenizer({data_path(directory, data::Split::Train, source_side)}, config));
      target_tokenizer_ = share(train_tokenizer({data_path(directory, data::Split::Train, target_side)}, config));
    }
    source_tokenizer_->save(tokenizers, "source");
    target_tokenizer_->save(tokenizers, "target");
    log << "tokenizer: SentencePiece, " << source_tokenizer_->vocab_size() << " pieces"
        << (source_tokenizer_ == target_tokenizer_ ? " (joint)" : " per language") << ", trained in "
        << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()
        << " s\n";
  }

  // The model, its vocabulary sizes taken from the tokenizers.
  const std::string arch = config.get<std::string>("model.arch");
  nlohmann::json options = section_options(config, "model." + arch);
  options["source_vocab_size"] = source_tokenizer_->vocab_size();
  options["target_vocab_size"] = target_tokenizer_->vocab_size();
  model_ = TranslationModel::create(arch, options);
  std::int64_t length_limit = max_length;
  if (model_->max_length() > 0) length_limit = std::min(length_limit, model_->max_length());

  // Encode the corpora; training pairs over the length limit are left out.
  const auto encode = [&](const data::ParallelText& text, bool drop_long, std::int64_t limit) {
    auto corpus = std::make_unique<Corpus>();
    std::int64_t dropped = 0;
    for (std::size_t i = 0; i < text.source.size() && (limit == 0 || std::int64_t(i) < limit); ++i) {
      std::vector<std::int64_t> source = source_ids(*source_tokenizer_, text.source[i]);
      std::vector<std::int64_t> target = target_ids(*target_tokenizer_, text.target[i]);
      const auto longest = static_cast<std::int64_t>(std::max(source.size(), target.size() - 1));
      if (source.size() <= 1 || target.size() <= 2 || (drop_long && longest > length_limit)) {
        ++dropped;
        continue;
      }
      corpus->source_lengths.push_back(static_cast<std::int64_t>(source.size()));
      corpus->target_lengths.push_back(static_cast<std::int64_t>(target.size()) - 1);
      corpus->sources.push_back(std::move(source));
      corpus->targets.push_back(std::move(target));
    }
    return std::make_pair(std::move(corpus), dropped);
  };
  auto [train_corpus, dropped] = encode(train_text, true, 0);
  train_ = std::move(train_corpus);
  auto valid_limit = config.get<std::int64_t>("data.valid_sentences");
  auto [valid_corpus, valid_dropped] = encode(valid_text, true, valid_limit);
  valid_ = std::move(valid_corpus);
  const std::size_t bleu_count = std::min<std::size_t>(valid_text.source.size(),
                                                       static_cast<std::size_t>(std::max<std::int64_t>(0, bleu_sentences_)));
  valid_sources_.assign(valid_text.source.begin(), valid_text.source.begin() + bleu_count);
  valid_targets_.assign(valid_text.target.begin(), valid_text.target.begin() + bleu_count);

  num_batches_ = static_cast<std::int64_t>(batches_for(0).size());
  std::int64_t tokens = std::accumulate(train_->target_lengths.begin(), train_->target_lengths.end(), std::int64_t{0});
  log << "data: " << train_->sources.size() << " training pairs (" << dropped
      << " left out: empty or longer than " << length_limit << " tokens), " << tokens
      << " target tokens, " << num_batches_ << " batches per epoch; " << valid_->sources.size()
      << " validation pairs\n";
  log << "model: " << arch << ", " << model_->module().num_parameters() << " parameters\n";
  // The initial weights, so that another implementation (tools/train_torch_reference.py) can
  // start from the very same point.
  if (!resume) {
    io::save_checkpoint((tokenizers / "initial.safetensors").string(), model_->module(),
                        model_config_json());
  }
}

TranslationTask::~TranslationTask() = default;

std::string TranslationTask::model_config_json() const {
  nlohmann::json config;
  config["task"] = kTaskName;
  config["arch"] = model_->arch();
  config["model"] = model_->options_json();
  return config.dump();
}

const std::vector<data::Batch>& TranslationTask::batches_for(std::int64_t epoch) {
  if (epoch != cached_epoch_) {
    cached_batches_ = data::make_pair_batches(train_->source_lengths, train_->target_lengths,
                                              batching_, static_cast<std::uint64_t>(epoch));
    cached_epoch_ = epoch;
  }
  return cached_batches_;
}

std::int64_t TranslationTask::batches_per_epoch() const { return num_batches_; }

// Mean cross-entropy over the target tokens of the listed pairs.
Tensor TranslationTask::loss_of(const Corpus& corpus, const std::vector<std::int64_t>& indices,
                                std::int64_t& num_tokens) const {
  const data::PaddedBatch source = data::pad_sequences(corpus.sources, indices);
  std::vector<std::vector<std::int64_t>> target_in, target_out;
  num_tokens = 0;
  for (std::int64_t index : indices) {
    const std::vector<std::int64_t>& target = corpus.targets[index];
    target_in.emplace_back(target.begin(), target.end() - 1);
    target_out.emplace_back(target.begin() + 1, target.end());
    num_tokens += static_cast<std::int64_t>(target.size()) - 1;
  }
  const Tensor inputs = data::pad_sequences(target_in).tokens;    // [B, T]
  const Tensor outputs = data::pad_sequences(target_out).tokens;  // [B, T]
  const Tensor logits = model_->logits(source, inputs);          // [B, T, V]
  const std::int64_t vocab = logits.shape().back();
  ops::CrossEntropyOptions options;
  options.ignore_index = text::kPadId;
  options.label_smoothing = label_smoothing_;
  return ops::cross_entropy(ops::reshape(logits, {-1, vocab}), ops::reshape(outputs, {-1}), options);
}

std::uint64_t TranslationTask::data_fingerprint() const {
  train::Fingerprint fingerprint;
  fingerprint.add(train_->sources);
  fingerprint.add(train_->targets);
  return fingerprint.value();
}

train::StepResult TranslationTask::train_step(std::int64_t epoch, std::int64_t batch_index,
                                              train::BatchSlice slice) {
  const data::Batch& batch = batches_for(epoch).at(static_cast<std::size_t>(batch_index));
  // A pair costs its source and target tokens; the loss counts target tokens (after <s>).
  std::vector<std::int64_t> costs;
  train::StepResult result;
  for (std::int64_t index : batch.indices) {
    const auto target_tokens = static_cast<std::int64_t>(train_->targets[index].size()) - 1;
    costs.push_back(train_->source_lengths[index] + target_tokens);
    result.batch_tokens += target_tokens;
  }
  const auto [begin, end] = train::slice_bounds(costs, slice);
  if (begin == end) return result;
  const std::vector<std::int64_t> indices(batch.indices.begin() + begin, batch.indices.begin() + end);
  result.loss = loss_of(*train_, indices, result.num_tokens);
  return result;
}

train::ValidationResult TranslationTask::validate() {
  train::ValidationResult result;
  if (valid_->sources.empty()) return result;
  data::BatchingOptions options = batching_;
  options.shuffle = false;
  // Validation loss without label smoothing: a true per-token negative log-likelihood.
  const double smoothing = label_smoothing_;
  label_smoothing_ = 0.0;
  double total = 0;
  std::int64_t tokens = 0;
  for (const data::Batch& batch : data::make_pair_batches(valid_->source_lengths, valid_->target_lengths, options)) {
    std::int64_t batch_tokens = 0;
    const Tensor loss = loss_of(*valid_, batch.indices, batch_tokens);
    total += loss.item<double>() * static_cast<double>(batch_tokens);
    tokens += batch_tokens;
  }
  label_smoothing_ = smoothing;
  result.loss = total / static_cast<double>(std::max<std::int64_t>(tokens, 1));
  result.metrics["perplexity"] = std::exp(result.loss);
  if (!valid_sources_.empty()) {
    SearchSettings settings;
    settings.method = "greedy";
    settings.max_length = 256;  // the search also stops at the model's own limit
    const auto translations = translate_sentences(*model_, *source_tokenizer_, *target_tokenizer_,
                                                  valid_sources_, settings);
    std::vector<std::string> hypotheses;
    for (const auto& list : translations) hypotheses.push_back(list.front().text);
    result.metrics["bleu"] = metrics::corpus_bleu(hypotheses, {valid_targets_}).score;
  }
  return result;
}

}  // namespace attn::tasks
