#include "attn/text/char_vocabulary.h"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "attn/core/error.h"
#include "support/temporary_directory.h"

namespace attn::text {
namespace {

using Pieces = std::vector<std::string>;
using Ids = std::vector<std::int64_t>;

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

CharVocabulary build(const std::vector<std::string>& texts, std::int64_t max_size = 0,
                     std::int64_t min_count = 1) {
  CharVocabularyOptions options;
  options.max_size = max_size;
  options.min_count = min_count;
  return CharVocabulary::build(texts, options);
}

TEST(TextCharVocabularyTest, RanksByCountThenFirstOccurrence) {
  // counts: c 3, then a, b, d twice each (first seen in that order), e once.
  const CharVocabulary vocabulary = build({"abcc", "dcba", "de"});
  EXPECT_EQ(vocabulary.pieces(), (Pieces{"<pad>", "<unk>", "<s>", "</s>", "c", "a", "b", "d", "e"}));
  EXPECT_EQ(vocabulary.kind(), TokenizerKind::kChar);
  EXPECT_EQ(vocabulary.vocab_size(), 9);
}

TEST(TextCharVocabularyTest, ReservedIdsAndLookups) {
  const CharVocabulary vocabulary = build({"ab"});
  for (std::int64_t id = 0; id < kNumReservedIds; ++id) {
    EXPECT_EQ(vocabulary.id_to_piece(id), reserved_piece(id));
  }
  EXPECT_EQ(vocabulary.piece_to_id("a"), 4);
  EXPECT_EQ(vocabulary.piece_to_id("<s>"), kBosId);
  EXPECT_EQ(vocabulary.piece_to_id("z"), kUnkId);
  EXPECT_THROW(vocabulary.id_to_piece(6), Error);
}

TEST(TextCharVocabularyTest, UnseenCharactersBecomeUnk) {
  const CharVocabulary vocabulary = build({"abc"});
  EXPECT_EQ(vocabulary.encode("abzc"), (Ids{4, 5, kUnkId, 6}));
  EXPECT_EQ(vocabulary.decode(vocabulary.encode("abzc")), "abc");  // <unk> is skipped
  EXPECT_EQ(vocabulary.encode("<s>"), (Ids{kUnkId, kUnkId, kUnkId}));  // not the reserved piece
  EXPECT_TRUE(vocabulary.encode("").empty());
  EXPECT_EQ(vocabulary.decode(Ids{}), "");
}

TEST(TextCharVocabularyTest, MultibyteCharactersEmojiAndCombiningMarks) {
  // "ñandú", a space, a grinning face, a newline, and e + U+0301 (combining acute).
  const std::string text = "\u00F1and\u00FA \U0001F600\ne\u0301";
  const CharVocabulary vocabulary = build({text});
  EXPECT_EQ(vocabulary.vocab_size(), kNumReservedIds + 10);
  const Ids ids = vocabulary.encode(text);
  EXPECT_EQ(ids.size(), 10u);  // 10 code points
  EXPECT_EQ(vocabulary.decode(ids), text);
  EXPECT_NE(vocabulary.piece_to_id("\U0001F600"), kUnkId);
  EXPECT_NE(vocabulary.piece_to_id("\u0301"), kUnkId);
  EXPECT_NE(vocabulary.piece_to_id("\n"), kUnkId);
  // The precomposed é is a different character, unseen here.
  EXPECT_EQ(vocabulary.encode("\u00E9"), (Ids{kUnkId}));
}

TEST(TextCharVocabularyTest, DecodeSkipsReservedIdsAndChecksRange) {
  const CharVocabulary vocabulary = build({"hi"});
  EXPECT_EQ(vocabulary.decode(Ids{kBosId, 4, kPadId, 5, kEosId}), "hi");
  EXPECT_EQ(error_of([&] { vocabulary.decode(Ids{4, 99}); }),
            "CharVocabulary::decode: id 99 is out of range for a vocabulary of 6");
  EXPECT_THROW(vocabulary.decode(Ids{-3}), Error);
}

TEST(TextCharVocabularyTest, InvalidUtf8NamesTheByteOffset) {
  const CharVocabulary vocabulary = build({"abc"});
  EXPECT_EQ(error_of([&] { vocabulary.encode("ab\xFF"); }),
            "CharVocabulary::encode: invalid UTF-8 at byte 2 (0xFF)");
  EXPECT_EQ(error_of([] { build({"ok", "\xE2\x82"}); }),
            "CharVocabulary::build: invalid UTF-8 at byte 0 (0xE2)");
}

TEST(TextCharVocabularyTest, SizeLimits) {
  const std::vector<std::string> texts = {"aaabbc"};
  EXPECT_EQ(build(texts, /*max_size=*/6).pieces(), (Pieces{"<pad>", "<unk>", "<s>", "</s>", "a", "b"}));
  EXPECT_EQ(build(texts, /*max_size=*/4).vocab_size(), 4);
  EXPECT_EQ(build(texts, 0, /*min_count=*/3).pieces(), (Pieces{"<pad>", "<unk>", "<s>", "</s>", "a"}));
  EXPECT_EQ(build({}).vocab_size(), 4);
  EXPECT_THROW(build(texts, /*max_size=*/2), Error);
  EXPECT_THROW(build(texts, 0, /*min_count=*/0), Error);
}

TEST(TextCharVocabularyTest, ConstructorChecksPieces) {
  EXPECT_EQ(error_of([] { CharVocabulary({"<pad>", "<unk>", "<s>", "</s>", "ab"}); }),
            "CharVocabulary: piece 4 (\"ab\") must be one character, got 2");
  EXPECT_EQ(error_of([] { CharVocabulary({"<pad>", "<unk>", "<s>", "</s>", "a", "a"}); }),
            "CharVocabulary: piece \"a\" appears twice (ids 4 and 5)");
  EXPECT_EQ(error_of([] { CharVocabulary({"<pad>", "<unk>", "<s>", "</s>", "\xC3"}); }),
            "CharVocabulary: invalid UTF-8 at byte 0 (0xC3)");
}

TEST(TextCharVocabularyTest, SaveLoadRoundTrip) {
  testing::TemporaryDirectory directory;
  const std::string text = "Y dijo Dios: Sea la luz \u2014 \U0001F600 e\u0301\t\"quoted\"\n";
  const CharVocabulary original = build({text});
  original.save(directory.path(), "chars");
  EXPECT_EQ(directory.entries(), (Pieces{"chars.tokenizer.json", "chars.vocab.json"}));
  const std::unique_ptr<Tokenizer> loaded = load_tokenizer(directory.path(), "chars");
  ASSERT_EQ(loaded->kind(), TokenizerKind::kChar);
  EXPECT_EQ(dynamic_cast<const CharVocabulary&>(*loaded).pieces(), original.pieces());
  EXPECT_EQ(loaded->encode(text), original.encode(text));
  EXPECT_EQ(loaded->decode(loaded->encode(text)), text);
}

TEST(TextCharVocabularyTest, LoadRejectsOptionsAndBadPieces) {
  testing::TemporaryDirectory directory;
  const std::string path = directory.file("c.vocab.json");
  const auto load_error = [&](const std::string& contents) {
    std::ofstream(path, std::ios::binary) << contents;
    return error_of([&] { CharVocabulary::load(path); });
  };
  const std::string header = R"({"format": "attn-vocabulary", "format_version": 1, "kind": "char", )";
  EXPECT_EQ(load_error(header + R"("lowercase": true, "pieces": ["<pad>", "<unk>", "<s>", "</s>"]})"),
            "CharVocabulary: " + path + ": unexpected option \"lowercase\" (a character vocabulary "
            "has none)");
  EXPECT_EQ(load_error(header + R"("pieces": ["<pad>", "<unk>", "<s>", "</s>", "xy"]})"),
            "CharVocabulary: " + path + ": piece 4 (\"xy\") must be one character, got 2");
  EXPECT_EQ(load_error(R"({"format": "attn-vocabulary", "format_version": 2, "kind": "char", "pieces": []})"),
            "vocabulary: " + path + ": \"format_version\" must be an integer in 1..1");
  EXPECT_EQ(load_error(header + R"("pieces": ["<pad>", "<unk>", "<s>", "</s>", "a"]})"), "(no error)");
}

}  // namespace
}  // namespace attn::text
