#include "attn/text/sentencepiece.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <unordered_map>

#include "attn/core/error.h"
#include "attn/core/random.h"
#include "attn/io/atomic_file.h"
#include "attn/text/utf8.h"
#include "attn/text/vocabulary.h"

namespace attn::text {

namespace spm = ::sentencepiece;

struct SentencePieceTokenizer::State {
  spm::SentencePieceProcessor processor;
  std::string model_bytes;
};

namespace {

void check_status(const spm::util::Status& status, std::string_view context) {
  ATTN_CHECK(status.ok(), context, ": SentencePiece failed: ", status.ToString());
}

// attn's reserved ids must be SentencePiece's special ids, whatever made the model.
void check_reserved_ids(const spm::SentencePieceProcessor& processor, std::string_view source) {
  const bool matches = processor.pad_id() == kPadId && processor.unk_id() == kUnkId &&
                       processor.bos_id() == kBosId && processor.eos_id() == kEosId;
  ATTN_CHECK(matches, source, ": the model's special ids must be pad=", kPadId, " unk=", kUnkId,
             " bos=", kBosId, " eos=", kEosId, " (attn's reserved ids), got pad=",
             processor.pad_id(), " unk=", processor.unk_id(), " bos=", processor.bos_id(),
             " eos=", processor.eos_id());
}

// ---- training -------------------------------------------------------------------------

// Sentences held in memory, empty ones skipped.
class MemorySentences : public spm::SentenceIterator {
 public:
  explicit MemorySentences(std::span<const std::string> sentences) : sentences_(sentences) {
    skip_empty();
  }
  bool done() const override { return index_ >= sentences_.size(); }
  void Next() override {
    ++index_;
    skip_empty();
  }
  const std::string& value() const override { return sentences_[index_]; }
  spm::util::Status status() const override { return spm::util::Status(); }

 private:
  void skip_empty() {
    while (!done() && sentences_[index_].empty()) ++index_;
  }
  std::span<const std::string> sentences_;
  std::size_t index_ = 0;
};

// The lines of several files in turn, read lazily; empty lines (and a trailing '\r') dropped.
class FileSentences : public spm::SentenceIterator {
 public:
  explicit FileSentences(const std::vector<std::filesystem::path>& files) : files_(files) {
    Next();
  }
  bool done() const override { return done_; }
  const std::string& value() const override { return line_; }
  spm::util::Status status() const override { return status_; }
  std::int64_t num_sentences() const { return num_sentences_; }

  void Next() override {
    while (!done_) {
      if (read_line()) {
        ++num_sentences_;
        return;
      }
    }
  }

 private:
  // Reads the next line into line_; false when it is empty or a file ended.
  bool read_line() {
    if (!stream_.is_open() && !open_next_file()) return false;
    if (!std::getline(stream_, line_)) {
      if (stream_.bad()) fail("error while reading " + files_[file_index_ - 1].string());
      stream_.close();
      return false;
    }
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    return !line_.empty();
  }

  bool open_next_file() {
    if (file_index_ == files_.size()) {
      done_ = true;
      return false;
    }
    const std::filesystem::path& path = files_[file_index_++];
    stream_.clear();
    stream_.open(path, std::ios::binary);
    if (!stream_.is_open()) fail("cannot read " + path.string() + ": " + std::strerror(errno));
    return stream_.is_open();
  }

  void fail(const std::string& message) {
    status_ = spm::util::Status(spm::util::StatusCode::kNotFound, message);
    done_ = true;
  }

  const std::vector<std::filesystem::path>& files_;
  std::size_t file_index_ = 0;
  std::ifstream stream_;
  std::string line_;
  bool done_ = false;
  std::int64_t num_sentences_ = 0;
  spm::util::Status status_;
};

bool is_known_normalization(const std::string& name) {
  for (const char* known : {"nmt_nfkc", "nfkc", "nmt_nfkc_cf", "nfkc_cf", "identity"}) {
    if (name == known) return true;
  }
  return false;
}

void check_train_options(const SentencePieceTrainOptions& options) {
  constexpr const char* kContext = "train_sentencepiece";
  ATTN_CHECK(options.vocab_size > kNumReservedIds, kContext, ": vocab_size must exceed the ",
             kNumReservedIds, " reserved ids, got ", options.vocab_size);
  ATTN_CHECK(options.vocab_size <= std::numeric_limits<int>::max(), kContext,
             ": vocab_size is too large: ", options.vocab_size);
  ATTN_CHECK(options.character_coverage > 0.0 && options.character_coverage <= 1.0, kContext,
             ": character_coverage must be in (0, 1], got ", options.character_coverage);
  ATTN_CHECK(options.max_sentences >= 0, kContext, ": max_sentences must be >= 0, got ",
             options.max_sentences);
  ATTN_CHECK(options.max_sentence_bytes > 0, kContext, ": max_sentence_bytes must be > 0, got ",
             options.max_sentence_bytes);
  ATTN_CHECK(options.num_threads >= 1, kContext, ": num_threads must be >= 1, got ",
             options.num_threads);
  // SentencePiece reads this seed as "seed from std::random_device".
  ATTN_CHECK(options.seed != std::numeric_limits<std::uint32_t>::max(), kContext,
             ": the seed ", options.seed, " is reserved by SentencePiece");
  ATTN_CHECK(is_known_normalization(options.normalization), kContext,
             ": normalization must be nmt_nfkc, nfkc, nmt_nfkc_cf, nfkc_cf or identity, got '",
             options.normalization, "'");
}

std::string format_double(double value) {
  std::ostringstream stream;
  stream.precision(17);
  stream << value;
  return stream.str();
}

std::unordered_map<std::string, std::string> trainer_arguments(
    const SentencePieceTrainOptions& options) {
  const auto flag = [](bool value) { return std::string(value ? "true" : "false"); };
  return {
      {"vocab_size", std::to_string(options.vocab_size)},
      {"model_type", std::string(to_string(options.model_type))},
      {"character_coverage", format_double(options.character_coverage)},
      {"input_sentence_size", "0"},  // attn samples the sentences itself (sample_sentences)
      {"max_sentence_length", std::to_string(options.max_sentence_bytes)},
      {"num_threads", std::to_string(options.num_threads)},
      {"byte_fallback", flag(options.byte_fallback)},
      {"hard_vocab_limit", flag(options.hard_vocab_limit)},
      {"normalization_rule_name", options.normalization},
      {"pad_id", std::to_string(kPadId)},
      {"unk_id", std::to_string(kUnkId)},
      {"bos_id", std::to_string(kBosId)},
      {"eos_id", std::to_string(kEosId)},
      {"pad_piece", kPadPiece},
      {"unk_piece", kUnkPiece},
      {"bos_piece", kBosPiece},
      {"eos_piece", kEosPiece},
      // SentencePiece logs every training step at INFO (0); 2 keeps errors only.
      {"minloglevel", options.verbose ? "0" : "2"},
  };
}

// A uniform sample of `count` sentences (Vitter's algorithm R), kept in their original order.
// SentencePiece's own sampler (input_sentence_size) ignores the seed, so attn draws the sample
// from Philox with the option's seed instead.
std::vector<std::string> sample_sentences(spm::SentenceIterator& source, std::int64_t count,
                                          std::uint32_t seed) {
  std::vector<std::pair<std::uint64_t, std::string>> kept;  // (position in the stream, text)
  const auto capacity = static_cast<std::uint64_t>(count);
  std::uint64_t seen = 0;
  for (; !source.done(); source.Next(), ++seen) {
    if (kept.size() < capacity) {
      kept.emplace_back(seen, source.value());
      continue;
    }
    const PhiloxBlock block = philox4x32(seed, seen, 0);
    const std::uint64_t draw = (std::uint64_t{block.words[0]} << 32) | block.words[1];
    const std::uint64_t slot = draw % (seen + 1);
    if (slot < capacity) kept[slot] = {seen, source.value()};
  }
  std::sort(kept.begin(), kept.end(),
            [](const auto& left, const auto& right) { return left.first < right.first; });
  std::vector<std::string> sample;
  sample.reserve(kept.size());
  for (auto& [position, text] : kept) sample.push_back(std::move(text));
  return sample;
}

// Runs SentencePiece's trainer over `sentences`; returns the bytes of the .model file.
std::string run_trainer(spm::SentenceIterator& sentences, const SentencePieceTrainOptions& options) {
  spm::SetRandomGeneratorSeed(options.seed);
  std::string model_bytes;
  const spm::util::Status status =
      spm::SentencePieceTrainer::Train(trainer_arguments(options), &sentences, &model_bytes);
  ATTN_CHECK(status.ok(), "train_sentencepiece: SentencePiece failed: ", status.ToString());
  return model_bytes;
}

// Trains on every sentence of `source`, or on a sample when options.max_sentences asks.
std::string train_on(spm::SentenceIterator& source, const SentencePieceTrainOptions& options) {
  if (options.max_sentences == 0) return run_trainer(source, options);
  std::vector<std::string> sample = sample_sentences(source, options.max_sentences, options.seed);
  MemorySentences sampled(sample);
  return run_trainer(sampled, options);
}

void check_files_readable(const std::vector<std::filesystem::path>& text_files) {
  ATTN_CHECK(!text_files.empty(), "train_sentencepiece: no text files given");
  for (const auto& path : text_files) {
    std::error_code error;
    ATTN_CHECK(!std::filesystem::is_directory(path, error), "train_sentencepiece: cannot read ",
               path.string(), ": it is a directory");
    std::ifstream probe(path, std::ios::binary);
    ATTN_CHECK(probe.is_open(), "train_sentencepiece: cannot read ", path.string(), ": ",
               std::strerror(errno));
  }
}

}  // namespace

std::string_view to_string(SentencePieceModelType type) {
  switch (type) {
    case SentencePieceModelType::kUnigram: return "unigram";
    case SentencePieceModelType::kBpe: return "bpe";
  }
  ATTN_ASSERT(false, "unhandled SentencePiece model type");
}

SentencePieceModelType sentencepiece_model_type_from_string(std::string_view name) {
  if (name == "unigram") return SentencePieceModelType::kUnigram;
  if (name == "bpe") return SentencePieceModelType::kBpe;
  throw Error(detail::concat("SentencePiece model type: expected unigram or bpe, got '", name, "'"));
}

SentencePieceTokenizer train_sentencepiece(const std::vector<std::filesystem::path>& text_files,
                                           const SentencePieceTrainOptions& options) {
  check_train_options(options);
  check_files_readable(text_files);
  FileSentences lines(text_files);
  ATTN_CHECK(!lines.done() || !lines.status().ok() || lines.num_sentences() > 0,
             "train_sentencepiece: the files hold no non-empty line");
  std::string failure;
  std::string model_bytes;
  try {
    model_bytes = train_on(lines, options);
  } catch (const Error& error) {
    failure = error.what();
  }
  // A read error ends the lines early; report it rather than what SentencePiece made of it.
  ATTN_CHECK(lines.status().ok(), "train_sentencepiece: ", lines.status().message());
  ATTN_CHECK(failure.empty(), failure);
  return SentencePieceTokenizer::from_serialized(std::move(model_bytes), "train_sentencepiece");
}

SentencePieceTokenizer train_sentencepiece_on_sentences(std::span<const std::string> sentences,
                                                        const SentencePieceTrainOptions& options) {
  check_train_options(options);
  MemorySentences source(sentences);
  ATTN_CHECK(!source.done(), "train_sentencepiece: no non-empty sentence to train on");
  std::string model_bytes = train_on(source, options);
  return SentencePieceTokenizer::from_serialized(std::move(model_bytes), "train_sentencepiece");
}

// ---- the tokenizer ----------------------------------------------------------------------

SentencePieceTokenizer::SentencePieceTokenizer(std::unique_ptr<State> state)
    : state_(std::move(state)) {}
SentencePieceTokenizer::SentencePieceTokenizer(SentencePieceTokenizer&&) noexcept = default;
SentencePieceTokenizer& SentencePieceTokenizer::operator=(SentencePieceTokenizer&&) noexcept = default;
SentencePieceTokenizer::~SentencePieceTokenizer() = default;

SentencePieceTokenizer SentencePieceTokenizer::load(const std::filesystem::path& model_file) {
  std::string bytes = read_tokenizer_file(model_file, "SentencePieceTokenizer::load");
  return from_serialized(std::move(bytes), "SentencePieceTokenizer: " + model_file.string());
}

SentencePieceTokenizer SentencePieceTokenizer::from_serialized(std::string model_bytes,
                                                               std::string_view source) {
  auto state = std::make_unique<State>();
  const spm::util::Status status = state->processor.LoadFromSerializedProto(model_bytes);
  ATTN_CHECK(status.ok(), source, ": not a valid SentencePiece model: ", status.ToString());
  check_reserved_ids(state->processor, source);
  state->model_bytes = std::move(model_bytes);
  return SentencePieceTokenizer(std::move(state));
}

std::int64_t SentencePieceTokenizer::vocab_size() const {
  return state_->processor.GetPieceSize();
}

std::vector<std::int64_t> SentencePieceTokenizer::encode(std::string_view text) const {
  check_utf8(text, "SentencePieceTokenizer::encode");
  std::vector<int> ids;
  check_status(state_->processor.Encode(text, &ids), "SentencePieceTokenizer::encode");
  return std::vector<std::int64_t>(ids.begin(), ids.end());
}

std::string SentencePieceTokenizer::decode(std::span<const std::int64_t> ids) const {
  std::vector<int> kept;
  kept.reserve(ids.size());
  for (std::int64_t id : ids) {
    check_token_id(id, vocab_size(), "SentencePieceTokenizer::decode");
    if (!is_reserved_id(id)) kept.push_back(static_cast<int>(id));
  }
  std::string text;
  check_status(state_->processor.Decode(kept, &text), "SentencePieceTokenizer::decode");
  return text;
}

std::string SentencePieceTokenizer::id_to_piece(std::int64_t id) const {
  check_token_id(id, vocab_size(), "SentencePieceTokenizer::id_to_piece");
  return state_->processor.IdToPiece(static_cast<int>(id));
}

std::int64_t SentencePieceTokenizer::piece_to_id(std::string_view piece) const {
  return state_->processor.PieceToId(piece);
}

std::vector<std::string> SentencePieceTokenizer::encode_pieces(std::string_view text) const {
  check_utf8(text, "SentencePieceTokenizer::encode_pieces");
  std::vector<std::string> pieces;
  check_status(state_->processor.Encode(text, &pieces), "SentencePieceTokenizer::encode_pieces");
  return pieces;
}

const std::string& SentencePieceTokenizer::serialized_model() const { return state_->model_bytes; }

void SentencePieceTokenizer::save(const std::filesystem::path& directory,
                                  const std::string& name) const {
  tokenizer_descriptor_path(directory, name);  // checks the name before anything is written
  const std::string file_name = name + ".model";
  io::write_file_atomic((directory / file_name).string(), state_->model_bytes);
  write_tokenizer_descriptor(directory, name, kind(), vocab_size(), "model", file_name);
}

}  // namespace attn::text
