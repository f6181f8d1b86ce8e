#include "attn/text/sentencepiece.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "attn/core/error.h"
#include "support/temporary_directory.h"

namespace attn::text {
namespace {

using Ids = std::vector<std::int64_t>;

// Genesis 1-3 in Spanish (Reina-Valera 1909) and English (King James), one verse per line;
// tools/make_text_fixtures.py writes it.
const std::string kCorpusPath = std::string(ATTN_FIXTURE_DIR) + "/text/genesis_1_3.txt";

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream stream(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

const std::vector<std::string>& corpus() {
  static const std::vector<std::string> lines = read_lines(kCorpusPath);
  return lines;
}

SentencePieceTrainOptions small_options(SentencePieceModelType type = SentencePieceModelType::kUnigram) {
  SentencePieceTrainOptions options;
  options.vocab_size = 300;
  options.model_type = type;
  return options;
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::vector<std::string> all_pieces(const Tokenizer& tokenizer) {
  std::vector<std::string> pieces;
  for (std::int64_t id = 0; id < tokenizer.vocab_size(); ++id) pieces.push_back(tokenizer.id_to_piece(id));
  return pieces;
}

// One unigram model, trained once for the tests that only read it.
class TextSentencePieceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_EQ(corpus().size(), 160u) << "missing fixture " << kCorpusPath;
    unigram_.emplace(train_sentencepiece_on_sentences(corpus(), small_options()));
  }
  static void TearDownTestSuite() { unigram_.reset(); }
  static const SentencePieceTokenizer& unigram() { return *unigram_; }

 private:
  static inline std::optional<SentencePieceTokenizer> unigram_;
};

TEST_F(TextSentencePieceTest, ReservedIdsAndSize) {
  EXPECT_EQ(unigram().kind(), TokenizerKind::kSentencePiece);
  EXPECT_EQ(unigram().vocab_size(), 300);
  EXPECT_EQ(unigram().id_to_piece(kPadId), "<pad>");
  EXPECT_EQ(unigram().id_to_piece(kUnkId), "<unk>");
  EXPECT_EQ(unigram().id_to_piece(kBosId), "<s>");
  EXPECT_EQ(unigram().id_to_piece(kEosId), "</s>");
  EXPECT_EQ(unigram().piece_to_id("</s>"), kEosId);
  EXPECT_EQ(unigram().piece_to_id("no such piece"), kUnkId);
  EXPECT_NE(unigram().piece_to_id("\u2581Dios"), kUnkId);  // a frequent word is one piece
}

TEST_F(TextSentencePieceTest, RoundTripsTheTrainingText) {
  for (const std::string& line : corpus()) {
    EXPECT_EQ(unigram().decode(unigram().encode(line)), line);
  }
}

TEST_F(TextSentencePieceTest, EncodeAddsNoReservedIds) {
  for (const std::string& line : corpus()) {
    for (std::int64_t id : unigram().encode(line)) {
      ASSERT_GE(id, kNumReservedIds) << line;
      ASSERT_LT(id, unigram().vocab_size()) << line;
    }
  }
  EXPECT_TRUE(unigram().encode("").empty());
  EXPECT_EQ(unigram().decode(Ids{}), "");
}

TEST_F(TextSentencePieceTest, DecodeSkipsReservedIds) {
  const Ids ids = unigram().encode("la luz");
  Ids framed = {kBosId};
  framed.insert(framed.end(), ids.begin(), ids.end());
  framed.insert(framed.end(), {kEosId, kPadId, kPadId});
  EXPECT_EQ(unigram().decode(framed), "la luz");
}

TEST_F(TextSentencePieceTest, NormalizesLikeSentencePiece) {
  // nmt_nfkc: runs of spaces collapse, the ends are trimmed, compatibility forms decompose.
  EXPECT_EQ(unigram().decode(unigram().encode("  la   luz  ")), "la luz");
  EXPECT_EQ(unigram().decode(unigram().encode("\uFB01rmament")), "firmament");  // the ﬁ ligature
}

TEST_F(TextSentencePieceTest, UnseenCharactersBecomeUnk) {
  const Ids ids = unigram().encode("luz \U0001F600");
  EXPECT_NE(std::find(ids.begin(), ids.end(), kUnkId), ids.end());
  const std::string decoded = unigram().decode(ids);
  EXPECT_EQ(decoded.rfind("luz", 0), 0u);
  EXPECT_FALSE(contains(decoded, "\U0001F600"));
}

TEST_F(TextSentencePieceTest, RejectsBadInputAndIds) {
  EXPECT_EQ(error_of([] { unigram().encode("la \xFF"); }),
            "SentencePieceTokenizer::encode: invalid UTF-8 at byte 3 (0xFF)");
  EXPECT_EQ(error_of([] { unigram().decode(Ids{5, 300}); }),
            "SentencePieceTokenizer::decode: id 300 is out of range for a vocabulary of 300");
  EXPECT_THROW(unigram().decode(Ids{-1}), Error);
  EXPECT_THROW(unigram().id_to_piece(300), Error);
}

TEST_F(TextSentencePieceTest, SaveLoadRoundTrip) {
  testing::TemporaryDirectory directory;
  unigram().save(directory.path(), "spm");
  EXPECT_EQ(directory.entries(), (std::vector<std::string>{"spm.model", "spm.tokenizer.json"}));

  const std::unique_ptr<Tokenizer> loaded = load_tokenizer(directory.path(), "spm");
  ASSERT_EQ(loaded->kind(), TokenizerKind::kSentencePiece);
  EXPECT_EQ(loaded->vocab_size(), unigram().vocab_size());
  EXPECT_EQ(dynamic_cast<const SentencePieceTokenizer&>(*loaded).serialized_model(),
            unigram().serialized_model());
  for (const std::string& line : corpus()) EXPECT_EQ(loaded->encode(line), unigram().encode(line));

  const SentencePieceTokenizer direct = SentencePieceTokenizer::load(directory.path() / "spm.model");
  EXPECT_EQ(direct.encode(corpus()[0]), unigram().encode(corpus()[0]));
}

TEST(TextSentencePieceTrainTest, BpeRoundTrips) {
  const SentencePieceTokenizer bpe =
      train_sentencepiece_on_sentences(corpus(), small_options(SentencePieceModelType::kBpe));
  EXPECT_EQ(bpe.vocab_size(), 300);
  EXPECT_EQ(bpe.id_to_piece(kBosId), "<s>");
  for (const std::string& line : corpus()) EXPECT_EQ(bpe.decode(bpe.encode(line)), line);
}

TEST(TextSentencePieceTrainTest, ByteFallbackRoundTripsUnseenCharacters) {
  SentencePieceTrainOptions options = small_options();
  options.vocab_size = 400;  // 256 byte pieces besides the others
  options.byte_fallback = true;
  const SentencePieceTokenizer tokenizer = train_sentencepiece_on_sentences(corpus(), options);
  const Ids ids = tokenizer.encode("luz \U0001F600");
  EXPECT_EQ(std::find(ids.begin(), ids.end(), kUnkId), ids.end());
  EXPECT_EQ(tokenizer.decode(ids), "luz \U0001F600");
}

TEST(TextSentencePieceTrainTest, TrainingIsRepeatable) {
  // BPE trains fastest; the sample does not depend on the model type.
  const SentencePieceTrainOptions bpe = small_options(SentencePieceModelType::kBpe);
  SentencePieceTrainOptions options = bpe;
  options.max_sentences = 80;  // a seeded sample of the 160 lines
  const SentencePieceTokenizer first = train_sentencepiece_on_sentences(corpus(), options);
  const SentencePieceTokenizer second = train_sentencepiece_on_sentences(corpus(), options);
  EXPECT_EQ(first.serialized_model(), second.serialized_model());

  options.seed = 2;
  const SentencePieceTokenizer other_seed = train_sentencepiece_on_sentences(corpus(), options);
  EXPECT_NE(all_pieces(other_seed), all_pieces(first));  // another sample, another vocabulary

  // A sample at least as large as the corpus is the corpus.
  options.max_sentences = 1000;
  EXPECT_EQ(all_pieces(train_sentencepiece_on_sentences(corpus(), options)),
            all_pieces(train_sentencepiece_on_sentences(corpus(), bpe)));
}

TEST(TextSentencePieceTrainTest, SamplingFilesMatchesSamplingTheirLines) {
  SentencePieceTrainOptions options = small_options(SentencePieceModelType::kBpe);
  options.max_sentences = 100;
  options.seed = 7;
  EXPECT_EQ(train_sentencepiece({kCorpusPath}, options).serialized_model(),
            train_sentencepiece_on_sentences(corpus(), options).serialized_model());
}

// Repeatable for a given thread count; BPE also across thread counts, while the unigram
// trainer's per-thread sums can tip a piece's score (docs/TOKENIZATION.md).
TEST(TextSentencePieceTrainTest, RepeatableWithSeveralThreads) {
  SentencePieceTrainOptions unigram = small_options();
  unigram.num_threads = 2;
  EXPECT_EQ(train_sentencepiece_on_sentences(corpus(), unigram).serialized_model(),
            train_sentencepiece_on_sentences(corpus(), unigram).serialized_model());

  SentencePieceTrainOptions bpe = small_options(SentencePieceModelType::kBpe);
  const SentencePieceTokenizer one_thread = train_sentencepiece_on_sentences(corpus(), bpe);
  bpe.num_threads = 2;
  EXPECT_EQ(all_pieces(train_sentencepiece_on_sentences(corpus(), bpe)), all_pieces(one_thread));
}

TEST(TextSentencePieceTrainTest, FilesGiveTheSameModelAsTheirLines) {
  testing::TemporaryDirectory directory;
  // Two files, one with Windows line ends and blank lines, which training skips.
  const std::size_t half = corpus().size() / 2;
  {
    std::ofstream first(directory.file("a.txt"), std::ios::binary);
    for (std::size_t index = 0; index < half; ++index) first << corpus()[index] << "\r\n\r\n";
    std::ofstream second(directory.file("b.txt"), std::ios::binary);
    for (std::size_t index = half; index < corpus().size(); ++index) second << "\n" << corpus()[index];
  }
  const SentencePieceTokenizer from_files =
      train_sentencepiece({directory.file("a.txt"), directory.file("b.txt")}, small_options(SentencePieceModelType::kBpe));
  const SentencePieceTokenizer from_lines = train_sentencepiece_on_sentences(corpus(), small_options(SentencePieceModelType::kBpe));
  EXPECT_EQ(from_files.serialized_model(), from_lines.serialized_model());

  const SentencePieceTokenizer from_fixture = train_sentencepiece({kCorpusPath}, small_options(SentencePieceModelType::kBpe));
  EXPECT_EQ(from_fixture.serialized_model(), from_lines.serialized_model());
}

TEST(TextSentencePieceTrainTest, TrainingIsQuietUnlessVerbose) {
  ::testing::internal::CaptureStderr();
  train_sentencepiece_on_sentences(corpus(), small_options(SentencePieceModelType::kBpe));
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");

  SentencePieceTrainOptions verbose = small_options(SentencePieceModelType::kBpe);
  verbose.verbose = true;
  ::testing::internal::CaptureStderr();
  train_sentencepiece_on_sentences(corpus(), verbose);
  EXPECT_TRUE(contains(::testing::internal::GetCapturedStderr(), "trainer_spec"));

  ::testing::internal::CaptureStderr();  // and quiet again
  train_sentencepiece_on_sentences(corpus(), small_options(SentencePieceModelType::kBpe));
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST(TextSentencePieceTrainTest, MissingOrEmptyInputs) {
  testing::TemporaryDirectory directory;
  const std::string missing = directory.file("missing.txt");
  EXPECT_EQ(error_of([&] { train_sentencepiece({kCorpusPath, missing}, small_options()); }),
            "train_sentencepiece: cannot read " + missing + ": No such file or directory");
  EXPECT_EQ(error_of([&] { train_sentencepiece({directory.path()}, small_options()); }),
            "train_sentencepiece: cannot read " + directory.path().string() + ": it is a directory");
  std::ofstream(directory.file("blank.txt")) << "\n\n\r\n";
  EXPECT_EQ(error_of([&] { train_sentencepiece({directory.file("blank.txt")}, small_options()); }),
            "train_sentencepiece: the files hold no non-empty line");
  EXPECT_EQ(error_of([] { train_sentencepiece({}, small_options()); }),
            "train_sentencepiece: no text files given");
  const std::vector<std::string> empty_lines = {"", ""};
  EXPECT_EQ(error_of([&] { train_sentencepiece_on_sentences(empty_lines, small_options()); }),
            "train_sentencepiece: no non-empty sentence to train on");
}

TEST(TextSentencePieceTrainTest, VocabularyTooLargeForTheText) {
  SentencePieceTrainOptions options = small_options(SentencePieceModelType::kBpe);
  options.vocab_size = 5000;
  const std::string error = error_of([&] { train_sentencepiece_on_sentences(corpus(), options); });
  EXPECT_TRUE(contains(error, "train_sentencepiece: SentencePiece failed:")) << error;
  EXPECT_TRUE(contains(error, "Vocabulary size too high (5000)")) << error;

  options.hard_vocab_limit = false;
  const SentencePieceTokenizer smaller = train_sentencepiece_on_sentences(corpus(), options);
  EXPECT_GT(smaller.vocab_size(), kNumReservedIds);
  EXPECT_LT(smaller.vocab_size(), 5000);
}

TEST(TextSentencePieceTrainTest, RejectsBadOptions) {
  const auto train_error = [](const std::function<void(SentencePieceTrainOptions&)>& change) {
    SentencePieceTrainOptions options = small_options();
    change(options);
    return error_of([&] { train_sentencepiece_on_sentences(corpus(), options); });
  };
  EXPECT_EQ(train_error([](auto& options) { options.vocab_size = 4; }),
            "train_sentencepiece: vocab_size must exceed the 4 reserved ids, got 4");
  EXPECT_EQ(train_error([](auto& options) { options.character_coverage = 0; }),
            "train_sentencepiece: character_coverage must be in (0, 1], got 0");
  EXPECT_EQ(train_error([](auto& options) { options.max_sentences = -1; }),
            "train_sentencepiece: max_sentences must be >= 0, got -1");
  EXPECT_EQ(train_error([](auto& options) { options.num_threads = 0; }),
            "train_sentencepiece: num_threads must be >= 1, got 0");
  EXPECT_EQ(train_error([](auto& options) { options.normalization = "lowercase"; }),
            "train_sentencepiece: normalization must be nmt_nfkc, nfkc, nmt_nfkc_cf, nfkc_cf or "
            "identity, got 'lowercase'");
  EXPECT_EQ(train_error([](auto& options) { options.seed = std::numeric_limits<std::uint32_t>::max(); }),
            "train_sentencepiece: the seed 4294967295 is reserved by SentencePiece");
  EXPECT_EQ(error_of([] { sentencepiece_model_type_from_string("word"); }),
            "SentencePiece model type: expected unigram or bpe, got 'word'");
  EXPECT_EQ(sentencepiece_model_type_from_string("bpe"), SentencePieceModelType::kBpe);
  EXPECT_EQ(to_string(SentencePieceModelType::kUnigram), "unigram");
}

TEST(TextSentencePieceTrainTest, RejectsModelsWithOtherSpecialIds) {
  // Trained by spm_train with SentencePiece's defaults: unk 0, bos 1, eos 2, no pad.
  const std::string path = std::string(ATTN_FIXTURE_DIR) + "/text/default_ids.model";
  EXPECT_EQ(error_of([&] { SentencePieceTokenizer::load(path); }),
            "SentencePieceTokenizer: " + path +
                ": the model's special ids must be pad=0 unk=1 bos=2 eos=3 (attn's reserved ids), "
                "got pad=-1 unk=0 bos=1 eos=2");
}

TEST(TextSentencePieceTrainTest, RejectsCorruptAndMissingModels) {
  testing::TemporaryDirectory directory;
  const std::string path = directory.file("broken.model");
  std::ofstream(path, std::ios::binary) << "this is not a model";
  const std::string error = error_of([&] { SentencePieceTokenizer::load(path); });
  EXPECT_TRUE(contains(error, "SentencePieceTokenizer: " + path + ": not a valid SentencePiece model"))
      << error;
  EXPECT_EQ(error_of([&] { SentencePieceTokenizer::load(directory.file("none.model")); }),
            "SentencePieceTokenizer::load: cannot read " + directory.file("none.model") +
                ": No such file or directory");
}

}  // namespace
}  // namespace attn::text
