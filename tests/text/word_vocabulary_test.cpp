#include "attn/text/word_vocabulary.h"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "attn/core/error.h"
#include "support/temporary_directory.h"

namespace attn::text {
namespace {

using Words = std::vector<std::string>;
using Ids = std::vector<std::int64_t>;

WordSplitOptions keep_punctuation() {
  WordSplitOptions options;
  options.keep_punctuation = true;
  return options;
}

// "the" 3 times, "sat" twice, then cat, on, mat, dog once each, in that order of first use.
WordVocabulary cat_vocabulary(std::int64_t max_size = 0, std::int64_t min_count = 1) {
  const std::vector<std::string> texts = {"The cat sat on the mat.", "The dog sat."};
  WordVocabularyOptions options;
  options.max_size = max_size;
  options.min_count = min_count;
  return WordVocabulary::build(texts, options);
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

void write_file(const std::string& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary) << contents;
}

TEST(TextWordSplitTest, KerasLikeDefaults) {
  EXPECT_EQ(split_words("Hello, World! It's a don't-stop 'quoted' test."),
            (Words{"hello", "world", "it's", "a", "don't", "stop", "quoted", "test"}));
  EXPECT_EQ(split_words("  tabs\tand\nnew lines  "), (Words{"tabs", "and", "new", "lines"}));
  EXPECT_EQ(split_words("route 66, 3.14"), (Words{"route", "66", "3", "14"}));
}

TEST(TextWordSplitTest, KeepPunctuationMakesEachMarkAWord) {
  EXPECT_EQ(split_words("Hello, World! don't-stop 'quoted'", keep_punctuation()),
            (Words{"hello", ",", "world", "!", "don't", "-", "stop", "'", "quoted", "'"}));
  EXPECT_EQ(split_words("...", keep_punctuation()), (Words{".", ".", "."}));
  EXPECT_EQ(split_words("''", keep_punctuation()), (Words{"'", "'"}));
}

TEST(TextWordSplitTest, SpanishPunctuationAndCase) {
  EXPECT_EQ(split_words("¿Dónde está ÉL? «Sí», dijo—y calló…"),
            (Words{"dónde", "está", "él", "sí", "dijo", "y", "calló"}));
  WordSplitOptions keep_case;
  keep_case.lowercase = false;
  EXPECT_EQ(split_words("¿Dónde está ÉL?", keep_case), (Words{"Dónde", "está", "ÉL"}));
}

TEST(TextWordSplitTest, CurlyApostropheIsWrittenAsAscii) {
  EXPECT_EQ(split_words("God\u2019s \u2018word\u2019"), (Words{"god's", "word"}));
}

TEST(TextWordSplitTest, EmptyAndBlankTextsHaveNoWords) {
  EXPECT_TRUE(split_words("").empty());
  EXPECT_TRUE(split_words(" \t\n\u00A0\u3000").empty());
  EXPECT_TRUE(split_words("!?.,;").empty());
}

TEST(TextWordSplitTest, EmojiAndCombiningMarksStayInWords) {
  // U+2764 U+FE0F (a heart with its emoji selector) is one word; e + U+0301 stays one word,
  // distinct from the precomposed é.
  EXPECT_EQ(split_words("I \u2764\uFE0F caf\u00E9 cafe\u0301 \U0001F600!"),
            (Words{"i", "\u2764\uFE0F", "caf\u00E9", "cafe\u0301", "\U0001F600"}));
}

TEST(TextWordSplitTest, InvalidUtf8NamesTheByte) {
  EXPECT_EQ(error_of([] { split_words("ok \xC3("); }), "split_words: invalid UTF-8 at byte 3 (0xC3)");
}

TEST(TextWordVocabularyTest, RanksByCountThenFirstOccurrence) {
  const WordVocabulary vocabulary = cat_vocabulary();
  EXPECT_EQ(vocabulary.pieces(),
            (Words{"<pad>", "<unk>", "<s>", "</s>", "the", "sat", "cat", "on", "mat", "dog"}));
  EXPECT_EQ(vocabulary.vocab_size(), 10);
  EXPECT_EQ(vocabulary.kind(), TokenizerKind::kWord);
}

TEST(TextWordVocabularyTest, ReservedIds) {
  const WordVocabulary vocabulary = cat_vocabulary();
  EXPECT_EQ(vocabulary.id_to_piece(kPadId), "<pad>");
  EXPECT_EQ(vocabulary.id_to_piece(kUnkId), "<unk>");
  EXPECT_EQ(vocabulary.id_to_piece(kBosId), "<s>");
  EXPECT_EQ(vocabulary.id_to_piece(kEosId), "</s>");
  EXPECT_EQ(vocabulary.piece_to_id("</s>"), kEosId);
  EXPECT_EQ(vocabulary.piece_to_id("the"), 4);  // rank 1 + INDEX_FROM 3
  EXPECT_EQ(vocabulary.piece_to_id("zebra"), kUnkId);
  EXPECT_EQ(vocabulary.pad_id(), 0);
  EXPECT_EQ(vocabulary.eos_id(), 3);
}

TEST(TextWordVocabularyTest, EncodeMapsUnseenWordsToUnk) {
  const WordVocabulary vocabulary = cat_vocabulary();
  EXPECT_EQ(vocabulary.encode("The dog sat on a zebra!"), (Ids{4, 9, 5, 7, 1, 1}));
  EXPECT_TRUE(vocabulary.encode("").empty());
  EXPECT_TRUE(vocabulary.encode(" ?! ").empty());
}

TEST(TextWordVocabularyTest, DecodeJoinsWithSpacesAndSkipsReservedIds) {
  const WordVocabulary vocabulary = cat_vocabulary();
  EXPECT_EQ(vocabulary.decode(Ids{kBosId, 4, 6, kUnkId, 5, kEosId, kPadId, kPadId}), "the cat sat");
  EXPECT_EQ(vocabulary.decode(Ids{}), "");
  EXPECT_EQ(vocabulary.decode(vocabulary.encode("the mat, the cat!")), "the mat the cat");
}

TEST(TextWordVocabularyTest, DecodeRejectsIdsOutOfRange) {
  const WordVocabulary vocabulary = cat_vocabulary();
  EXPECT_EQ(error_of([&] { vocabulary.decode(Ids{4, 10}); }),
            "WordVocabulary::decode: id 10 is out of range for a vocabulary of 10");
  EXPECT_THROW(vocabulary.decode(Ids{-1}), Error);
  EXPECT_THROW(vocabulary.id_to_piece(10), Error);
}

TEST(TextWordVocabularyTest, MaxSizeCountsTheReservedIds) {
  const WordVocabulary vocabulary = cat_vocabulary(/*max_size=*/6);
  EXPECT_EQ(vocabulary.vocab_size(), 6);
  EXPECT_EQ(vocabulary.encode("the cat sat"), (Ids{4, 1, 5}));  // "cat" has rank 3 > 6 - 4

  const WordVocabulary reserved_only = cat_vocabulary(/*max_size=*/4);
  EXPECT_EQ(reserved_only.vocab_size(), 4);
  EXPECT_EQ(reserved_only.encode("the cat"), (Ids{1, 1}));

  EXPECT_EQ(cat_vocabulary(/*max_size=*/1000).vocab_size(), 10);
}

TEST(TextWordVocabularyTest, MinCountDropsRareWords) {
  EXPECT_EQ(cat_vocabulary(0, /*min_count=*/2).pieces(),
            (Words{"<pad>", "<unk>", "<s>", "</s>", "the", "sat"}));
}

TEST(TextWordVocabularyTest, BuilderStreamsTexts) {
  WordVocabularyOptions options;
  options.split.keep_punctuation = true;
  WordVocabularyBuilder builder(options);
  builder.add("b a, b");
  builder.add("");
  builder.add("a, c");
  EXPECT_EQ(builder.build().pieces(), (Words{"<pad>", "<unk>", "<s>", "</s>", "b", "a", ",", "c"}));
}

TEST(TextWordVocabularyTest, RejectsBadOptions) {
  WordVocabularyOptions options;
  options.max_size = 3;
  EXPECT_EQ(error_of([&] { WordVocabularyBuilder builder(options); }),
            "WordVocabulary: max_size must be 0 (no limit) or at least 4 (the reserved ids), got 3");
  options.max_size = 0;
  options.min_count = 0;
  EXPECT_THROW(WordVocabularyBuilder builder(options), Error);
}

TEST(TextWordVocabularyTest, ConstructorChecksPieces) {
  EXPECT_EQ(error_of([] { WordVocabulary({"<pad>", "<unk>", "<s>"}, {}); }),
            "WordVocabulary: a vocabulary needs at least the 4 reserved pieces, got 3 pieces");
  EXPECT_EQ(error_of([] { WordVocabulary({"<pad>", "<s>", "<unk>", "</s>"}, {}); }),
            "WordVocabulary: piece 1 must be \"<unk>\", got \"<s>\"");
  EXPECT_EQ(error_of([] { WordVocabulary({"<pad>", "<unk>", "<s>", "</s>", "a", "b", "a"}, {}); }),
            "WordVocabulary: piece \"a\" appears twice (ids 4 and 6)");
  EXPECT_EQ(error_of([] { WordVocabulary({"<pad>", "<unk>", "<s>", "</s>", "Word"}, {}); }),
            "WordVocabulary: piece 4 (\"Word\") is not one word under the vocabulary's splitting "
            "rules");
  EXPECT_THROW(WordVocabulary({"<pad>", "<unk>", "<s>", "</s>", "two words"}, {}), Error);
  EXPECT_THROW(WordVocabulary({"<pad>", "<unk>", "<s>", "</s>", ""}, {}), Error);
}

TEST(TextWordVocabularyTest, SaveLoadRoundTrip) {
  testing::TemporaryDirectory directory;
  WordVocabularyOptions options;
  options.split.lowercase = false;
  options.split.keep_punctuation = true;
  const std::vector<std::string> texts = {"Él dijo: «Sí.»", "It's \U0001F600 time, Él."};
  const WordVocabulary original = WordVocabulary::build(texts, options);
  original.save(directory.path(), "words");
  EXPECT_EQ(directory.entries(), (Words{"words.tokenizer.json", "words.vocab.json"}));

  const std::unique_ptr<Tokenizer> loaded = load_tokenizer(directory.path(), "words");
  ASSERT_EQ(loaded->kind(), TokenizerKind::kWord);
  const auto& words = dynamic_cast<const WordVocabulary&>(*loaded);
  EXPECT_EQ(words.pieces(), original.pieces());
  EXPECT_FALSE(words.split_options().lowercase);
  EXPECT_TRUE(words.split_options().keep_punctuation);
  for (const std::string& text : texts) EXPECT_EQ(loaded->encode(text), original.encode(text));
  EXPECT_EQ(loaded->encode("Él"), (Ids{original.piece_to_id("Él")}));
}

TEST(TextWordVocabularyTest, LoadRejectsMalformedVocabularyFiles) {
  testing::TemporaryDirectory directory;
  const std::string path = directory.file("bad.vocab.json");
  const auto load_error = [&](const std::string& contents) {
    write_file(path, contents);
    return error_of([&] { WordVocabulary::load(path); });
  };
  const std::string header =
      R"("format": "attn-vocabulary", "format_version": 1, "kind": "word", )";
  const std::string flags = R"("lowercase": true, "keep_punctuation": false, )";
  const std::string reserved = R"("<pad>", "<unk>", "<s>", "</s>")";

  EXPECT_NE(load_error("{not json").find(path + ": not valid JSON"), std::string::npos);
  EXPECT_EQ(load_error("[]"), "vocabulary: " + path + ": expected a JSON object, got array");
  EXPECT_EQ(load_error(R"({"format": "attn-vocabulary", "format_version": 1, "kind": "char", "pieces": []})"),
            "vocabulary: " + path + ": \"kind\" is \"char\", expected \"word\"");
  EXPECT_EQ(load_error("{" + header + flags + R"("tokens": []})"),
            "vocabulary: " + path + ": missing the \"pieces\" array");
  EXPECT_EQ(load_error("{" + header + flags + R"("pieces": [)" + reserved + ", 7]}"),
            "vocabulary: " + path + ": pieces[4] must be a string, got 7");
  EXPECT_EQ(load_error("{" + header + R"("lowercase": true, "pieces": [)" + reserved + "]}"),
            "WordVocabulary: " + path + ": missing \"keep_punctuation\"");
  EXPECT_EQ(load_error("{" + header + flags + R"("stem": true, "pieces": [)" + reserved + "]}"),
            "WordVocabulary: " + path + ": unknown option among the file's fields (expected only "
            "\"lowercase\" and \"keep_punctuation\")");
  EXPECT_EQ(load_error("{" + header + R"("lowercase": "yes", "keep_punctuation": false, "pieces": []})"),
            "vocabulary: " + path + ": \"lowercase\" must be true or false, got \"yes\"");
  EXPECT_EQ(load_error("{" + header + flags + R"("pieces": ["<pad>", "<unk>", "</s>", "<s>"]})"),
            "WordVocabulary: " + path + ": piece 2 must be \"<s>\", got \"</s>\"");
  EXPECT_EQ(load_error("{" + header + flags + R"("pieces": [)" + reserved + R"(, "a", "a"]})"),
            "WordVocabulary: " + path + ": piece \"a\" appears twice (ids 4 and 5)");
  EXPECT_EQ(load_error("{" + header + flags + R"("pieces": [)" + reserved + R"(, "a b"]})"),
            "WordVocabulary: " + path + ": piece 4 (\"a b\") is not one word under the "
            "vocabulary's splitting rules");
  EXPECT_EQ(load_error(R"({"format": "other", "kind": "word", "pieces": []})"),
            "vocabulary: " + path + ": \"format\" must be \"attn-vocabulary\"");
  EXPECT_NE(load_error("").find("not valid JSON"), std::string::npos);
}

TEST(TextWordVocabularyTest, LoadNamesAMissingFile) {
  testing::TemporaryDirectory directory;
  const std::string path = directory.file("absent.vocab.json");
  EXPECT_EQ(error_of([&] { WordVocabulary::load(path); }),
            "vocabulary: cannot read " + path + ": No such file or directory");
}

}  // namespace
}  // namespace attn::text
