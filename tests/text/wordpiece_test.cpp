// Parity of the WordPiece tokenizer with Hugging Face's fast BERT tokenizer (tokenizers
// 0.23.3): every case in tests/fixtures/text/wordpiece/*.jsonl holds the ids the package
// gave (tools/make_wordpiece_fixtures.py writes them). minilm.jsonl needs the real
// all-MiniLM-L6-v2 tokenizer, which scripts/setup.sh installs; its files are not copied
// into the repository.
#include "attn/text/wordpiece.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "attn/core/error.h"
#include "support/temporary_directory.h"

namespace attn::text {
namespace {

using Ids = std::vector<std::int64_t>;
using Json = nlohmann::json;

const std::filesystem::path kFixtures =
    std::filesystem::path(ATTN_FIXTURE_DIR) / "text" / "wordpiece";

// The installed all-MiniLM-L6-v2 folder: $ATTN_MINILM_DIR, else the build's definition.
std::optional<std::filesystem::path> minilm_directory() {
  std::vector<std::filesystem::path> candidates;
  if (const char* variable = std::getenv("ATTN_MINILM_DIR")) candidates.emplace_back(variable);
#ifdef ATTN_MINILM_DIR
  candidates.emplace_back(ATTN_MINILM_DIR);
#endif
  for (const auto& candidate : candidates) {
    if (std::filesystem::exists(candidate / "tokenizer.json")) return candidate;
  }
  return std::nullopt;
}

#define REQUIRE_MINILM(directory)                                                                  \
  const std::optional<std::filesystem::path> directory = minilm_directory();                       \
  ASSERT_TRUE(directory.has_value())                                                               \
      << "the all-MiniLM-L6-v2 tokenizer was not found (neither $ATTN_MINILM_DIR nor the build's " \
         "ATTN_MINILM_DIR has a tokenizer.json): run scripts/setup.sh"

const WordPieceTokenizer& minilm() {
  static const WordPieceTokenizer tokenizer =
      WordPieceTokenizer::from_tokenizer_json(*minilm_directory() / "tokenizer.json");
  return tokenizer;
}

std::vector<Json> read_cases(const std::filesystem::path& path) {
  std::ifstream stream(path, std::ios::binary);
  std::vector<Json> cases;
  for (std::string line; std::getline(stream, line);) cases.push_back(Json::parse(line));
  return cases;
}

std::string describe(const Json& fixture_case, std::size_t line) {
  std::string text = fixture_case.contains("text")
                         ? fixture_case["text"].dump()
                         : fixture_case["first"].dump() + " + " + fixture_case["second"].dump();
  if (fixture_case.contains("max_length"))
    text += " max_length " + fixture_case["max_length"].dump();
  return "line " + std::to_string(line) + ": " + text;
}

// Encodes every case and counts those whose ids, type ids or decoded text differ from the
// fixture; the first few are printed in full.
std::size_t count_mismatches(const WordPieceTokenizer& tokenizer, const std::vector<Json>& cases) {
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Json& fixture_case = cases[i];
    const std::int64_t max_length = fixture_case.value("max_length", 0);
    const bool add_special_tokens = fixture_case.value("add_special_tokens", true);
    const bool is_pair = fixture_case.contains("first");
    const WordPieceEncoding encoding =
        is_pair ? tokenizer.encode_pair(fixture_case["first"].get<std::string>(),
                                        fixture_case["second"].get<std::string>(), max_length,
                                        add_special_tokens)
                : tokenizer.encode(fixture_case["text"].get<std::string>(), max_length,
                                   add_special_tokens);
    const Ids expected_ids = fixture_case["ids"].get<Ids>();
    const Ids expected_type_ids =
        is_pair ? fixture_case["type_ids"].get<Ids>() : Ids(expected_ids.size(), 0);
    bool same = encoding.ids == expected_ids && encoding.type_ids == expected_type_ids &&
                encoding.tokens.size() == encoding.ids.size();
    if (fixture_case.contains("decoded"))
      same = same && tokenizer.decode(encoding.ids) == fixture_case["decoded"];
    if (!same && ++mismatches <= 5) {
      ADD_FAILURE() << describe(fixture_case, i + 1) << "\n  expected " << Json(expected_ids).dump()
                    << "\n       got " << Json(encoding.ids).dump() << "\n  type ids "
                    << Json(encoding.type_ids).dump();
    }
  }
  return mismatches;
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

void write_file(const std::filesystem::path& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary) << contents;
}

// A minimal valid tokenizer.json that a test then breaks in one place.
Json small_tokenizer_json() {
  Json added_tokens = Json::array();
  for (const char* token : {"[PAD]", "[UNK]", "[CLS]", "[SEP]"}) {
    added_tokens.push_back({{"id", added_tokens.size()},
                            {"content", token},
                            {"single_word", false},
                            {"lstrip", false},
                            {"rstrip", false},
                            {"normalized", false},
                            {"special", true}});
  }
  Json json = Json::parse(R"({
    "version": "1.0", "truncation": null, "padding": null,
    "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                   "strip_accents": null, "lowercase": true},
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
    "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
              "max_input_chars_per_word": 100,
              "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "un": 4, "##aff": 5,
                        "##able": 6, "!": 7}}
  })");
  json["added_tokens"] = added_tokens;
  return json;
}

std::string load_error(const testing::TemporaryDirectory& directory, const std::string& contents) {
  const std::filesystem::path path = directory.path() / "tokenizer.json";
  write_file(path, contents);
  return error_of([&] { WordPieceTokenizer::from_tokenizer_json(path); });
}

// ---- parity with the package ----------------------------------------------------------------

TEST(TextWordPieceTest, MiniLmMatchesTheFastTokenizerOnEveryFixtureCase) {
  REQUIRE_MINILM(directory);
  const std::vector<Json> cases = read_cases(kFixtures / "minilm.jsonl");
  ASSERT_GE(cases.size(), 1400u);
  EXPECT_EQ(count_mismatches(minilm(), cases), 0u) << "of " << cases.size() << " cases";
}

TEST(TextWordPieceTest, MiniLmFromVocabTxtMatchesToo) {
  REQUIRE_MINILM(directory);
  const WordPieceTokenizer tokenizer = WordPieceTokenizer::from_vocab(
      *directory / "vocab.txt", *directory / "tokenizer_config.json");
  EXPECT_EQ(count_mismatches(tokenizer, read_cases(kFixtures / "minilm.jsonl")), 0u);
}

TEST(TextWordPieceTest, CasedMatchesFromTokenizerJsonAndFromVocabTxt) {
  const std::vector<Json> cases = read_cases(kFixtures / "cased.jsonl");
  ASSERT_GE(cases.size(), 500u);
  const auto from_json =
      WordPieceTokenizer::from_tokenizer_json(kFixtures / "cased" / "tokenizer.json");
  EXPECT_EQ(count_mismatches(from_json, cases), 0u);
  const auto from_vocab = WordPieceTokenizer::from_vocab(
      kFixtures / "cased" / "vocab.txt", kFixtures / "cased" / "tokenizer_config.json");
  EXPECT_EQ(count_mismatches(from_vocab, cases), 0u);
  EXPECT_FALSE(from_vocab.normalizer_options().lowercase);
  EXPECT_FALSE(from_vocab.normalizer_options().handle_chinese_chars);
  EXPECT_EQ(from_vocab.vocab_size(), from_json.vocab_size());
}

TEST(TextWordPieceTest, VariantFlagsMatch) {
  // clean_text off, strip_accents without lowercase, BertProcessing, [MASK] with lstrip and
  // rstrip, and added tokens matched before and after normalization.
  const std::vector<Json> cases = read_cases(kFixtures / "variant.jsonl");
  ASSERT_GE(cases.size(), 400u);
  EXPECT_EQ(
      count_mismatches(
          WordPieceTokenizer::from_tokenizer_json(kFixtures / "variant.tokenizer.json"), cases),
      0u);
}

TEST(TextWordPieceTest, FromDirectoryPrefersTokenizerJsonElseVocabTxt) {
  const auto from_directory = WordPieceTokenizer::from_directory(kFixtures / "cased");
  EXPECT_EQ(from_directory.encode("Hello World").ids,
            WordPieceTokenizer::from_tokenizer_json(kFixtures / "cased" / "tokenizer.json")
                .encode("Hello World")
                .ids);
  testing::TemporaryDirectory directory;
  std::filesystem::copy_file(kFixtures / "cased" / "vocab.txt", directory.path() / "vocab.txt");
  std::filesystem::copy_file(kFixtures / "cased" / "tokenizer_config.json",
                             directory.path() / "tokenizer_config.json");
  const auto from_vocab = WordPieceTokenizer::from_directory(directory.path());
  EXPECT_FALSE(from_vocab.normalizer_options().lowercase);
  EXPECT_EQ(from_vocab.encode("Hello World").ids, from_directory.encode("Hello World").ids);
}

// ---- the API on the real model ------------------------------------------------------------

TEST(TextWordPieceTest, MiniLmSpecialIdsAndLookups) {
  REQUIRE_MINILM(directory);
  const WordPieceTokenizer& tokenizer = minilm();
  EXPECT_EQ(tokenizer.vocab_size(), 30522);
  EXPECT_EQ(tokenizer.pad_id(), 0);
  EXPECT_EQ(tokenizer.unk_id(), 100);
  EXPECT_EQ(tokenizer.cls_id(), 101);
  EXPECT_EQ(tokenizer.sep_id(), 102);
  EXPECT_EQ(tokenizer.id_to_token(7592), "hello");
  EXPECT_EQ(tokenizer.token_to_id("hello"), 7592);
  EXPECT_EQ(tokenizer.token_to_id("[MASK]"), 103);
  EXPECT_EQ(tokenizer.token_to_id("no such token"), std::nullopt);
  EXPECT_THROW(tokenizer.id_to_token(30522), Error);
  EXPECT_THROW(tokenizer.id_to_token(-1), Error);
  EXPECT_TRUE(tokenizer.normalizer_options().strips_accents());
}

TEST(TextWordPieceTest, MiniLmEncodesAsBert) {
  REQUIRE_MINILM(directory);
  const WordPieceEncoding encoding = minilm().encode("Héllo, WORLD! unaffable");
  EXPECT_EQ(encoding.tokens, (std::vector<std::string>{"[CLS]", "hello", ",", "world", "!", "una",
                                                       "##ffa", "##ble", "[SEP]"}));
  EXPECT_EQ(encoding.ids, (Ids{101, 7592, 1010, 2088, 999, 14477, 20961, 3468, 102}));
  EXPECT_EQ(encoding.type_ids, Ids(9, 0));
  // Rust's per-character lowercase has no final sigma, unlike Python's str.lower().
  EXPECT_EQ(minilm().normalize("ΟΔΟΣ Ünïcödé\tx\u00A0y\x01"), "οδοσ unicode x y");
  EXPECT_EQ(minilm().encode("").ids, (Ids{101, 102}));
  EXPECT_EQ(minilm().encode("", 0, false).ids, Ids{});
}

TEST(TextWordPieceTest, PairsAndTruncation) {
  REQUIRE_MINILM(directory);
  const WordPieceTokenizer& tokenizer = minilm();
  const WordPieceEncoding pair = tokenizer.encode_pair("hello world", "foo bar");
  EXPECT_EQ(pair.ids, (Ids{101, 7592, 2088, 102, 29379, 3347, 102}));
  EXPECT_EQ(pair.type_ids, (Ids{0, 0, 0, 0, 1, 1, 1}));
  // 2 + 4 tokens into 4 places: each keeps 2 (the longer one would get the odd one).
  EXPECT_EQ(tokenizer.encode_pair("hello world", "foo bar baz", 7).ids,
            (Ids{101, 7592, 2088, 102, 29379, 3347, 102}));
  EXPECT_EQ(tokenizer.encode_pair("hello world", "foo bar baz", 4).ids,
            (Ids{101, 102, 29379, 102}));
  EXPECT_EQ(tokenizer.encode("hello world", 3).ids, (Ids{101, 7592, 102}));
  EXPECT_EQ(tokenizer.encode("hello world", 2).ids, (Ids{101, 102}));
  EXPECT_EQ(tokenizer.encode("hello world", 100).ids, (Ids{101, 7592, 2088, 102}));
  EXPECT_EQ(tokenizer.encode("hello world", 1, false).ids, (Ids{7592}));
  EXPECT_EQ(
      error_of([&] { tokenizer.encode_pair("a", "b", 2); }),
      "WordPieceTokenizer::encode: max_length 2 leaves no room: the pair has 3 special tokens");
  EXPECT_THROW(tokenizer.encode("a", -1), Error);
}

TEST(TextWordPieceTest, Decode) {
  REQUIRE_MINILM(directory);
  const WordPieceTokenizer& tokenizer = minilm();
  const Ids ids = {101, 7592, 1010, 2088, 999, 2009, 1005, 1055, 14477, 4246, 3085, 100, 102};
  // Cleanup works within one token, so the separate "'" of "it's" keeps its spaces.
  EXPECT_EQ(tokenizer.decode(ids), "hello, world! it ' s unaffable");
  EXPECT_EQ(tokenizer.decode(ids, false), "[CLS] hello, world! it ' s unaffable [UNK] [SEP]");
  EXPECT_EQ(tokenizer.decode(Ids{}), "");
  EXPECT_EQ(error_of([&] {
              tokenizer.decode(Ids{7592, 30522});
            }),
            "WordPieceTokenizer: id 30522 is not in the vocabulary (30522 ids)");
}

TEST(TextWordPieceTest, LongWordsBecomeUnknown) {
  REQUIRE_MINILM(directory);
  const std::string limit(100, 'a'), over(101, 'a');
  EXPECT_NE(minilm().encode(limit).ids, (Ids{101, 100, 102}));
  EXPECT_EQ(minilm().encode(over).ids, (Ids{101, 100, 102}));
  // Counted in code points, not bytes: 100 two-byte letters are still one word.
  std::string accented;
  for (int i = 0; i < 100; ++i) accented += "\xC3\xB1";  // ñ
  EXPECT_NE(minilm().encode(accented).ids, (Ids{101, 100, 102}));
}

TEST(TextWordPieceTest, ConstMethodsAreSafeAcrossThreads) {
  const auto tokenizer =
      WordPieceTokenizer::from_tokenizer_json(kFixtures / "cased" / "tokenizer.json");
  const std::vector<Json> cases = read_cases(kFixtures / "cased.jsonl");
  std::vector<std::size_t> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < mismatches.size(); ++t) {
    threads.emplace_back([&, t] {
      for (const Json& fixture_case : cases) {
        if (!fixture_case.contains("text") || fixture_case.contains("max_length")) continue;
        const Ids ids = tokenizer
                            .encode(fixture_case["text"].get<std::string>(), 0,
                                    fixture_case.value("add_special_tokens", true))
                            .ids;
        mismatches[t] += ids != fixture_case["ids"].get<Ids>();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<std::size_t>(4, 0));
}

// ---- errors ---------------------------------------------------------------------------------

TEST(TextWordPieceTest, InvalidUtf8NamesTheByte) {
  const auto tokenizer =
      WordPieceTokenizer::from_tokenizer_json(kFixtures / "cased" / "tokenizer.json");
  EXPECT_EQ(error_of([&] { tokenizer.encode("ab\xC3(x"); }),
            "WordPieceTokenizer::encode: invalid UTF-8 at byte 2 (0xC3)");
  EXPECT_EQ(error_of([&] { tokenizer.encode_pair("fine", "\xFF"); }),
            "WordPieceTokenizer::encode: invalid UTF-8 at byte 0 (0xFF)");
}

TEST(TextWordPieceTest, MalformedTokenizerJsonNamesTheFileAndField) {
  testing::TemporaryDirectory directory;
  const std::string path = (directory.path() / "tokenizer.json").string();
  EXPECT_NE(load_error(directory, "{\"model\": ")
                .find("WordPieceTokenizer: " + path + ": not valid JSON"),
            std::string::npos);
  EXPECT_EQ(load_error(directory, "[1, 2]"),
            "WordPieceTokenizer: " + path + ": expected a JSON object, got array");

  Json json = small_tokenizer_json();
  json["model"]["type"] = "BPE";
  EXPECT_EQ(load_error(directory, json.dump()),
            "WordPieceTokenizer: " + path + ": \"model.type\" is \"BPE\"; expected WordPiece");

  json = small_tokenizer_json();
  json["model"].erase("vocab");
  EXPECT_EQ(load_error(directory, json.dump()),
            "WordPieceTokenizer: " + path + ": \"model.vocab\" is missing");

  json = small_tokenizer_json();
  json["normalizer"] = {{"type", "NFKC"}};
  EXPECT_EQ(
      load_error(directory, json.dump()),
      "WordPieceTokenizer: " + path + ": \"normalizer.type\" is \"NFKC\"; expected BertNormalizer");

  json = small_tokenizer_json();
  json["pre_tokenizer"] = {{"type", "Whitespace"}};
  EXPECT_EQ(load_error(directory, json.dump()),
            "WordPieceTokenizer: " + path +
                ": \"pre_tokenizer.type\" is \"Whitespace\"; expected BertPreTokenizer");

  json = small_tokenizer_json();
  json["normalizer"]["lowercase"] = "yes";
  EXPECT_EQ(load_error(directory, json.dump()),
            "WordPieceTokenizer: " + path +
                ": \"normalizer.lowercase\" must be true or false, got string");

  json = small_tokenizer_json();
  json["model"]["unk_token"] = "<unk>";
  EXPECT_EQ(
      load_error(directory, json.dump()),
      "WordPieceTokenizer: " + path + ": the unknown token \"<unk>\" is not in the vocabulary");

  json = small_tokenizer_json();
  json["added_tokens"][1]["single_word"] = true;
  EXPECT_EQ(load_error(directory, json.dump()),
            "WordPieceTokenizer: " + path +
                ": \"added_tokens[1].single_word\" is true, which is not supported (BERT's added "
                "tokens never are)");

  json = small_tokenizer_json();
  json["post_processor"] = {{"type", "RobertaProcessing"}};
  EXPECT_EQ(load_error(directory, json.dump()),
            "WordPieceTokenizer: " + path +
                ": \"post_processor.type\" is \"RobertaProcessing\"; expected TemplateProcessing "
                "or BertProcessing");
}

TEST(TextWordPieceTest, RepeatedTokensAreRefused) {
  testing::TemporaryDirectory directory;
  const std::string path = (directory.path() / "tokenizer.json").string();
  std::string text = small_tokenizer_json().dump();
  text.replace(text.find("\"un\":4"), 6, "\"un\":4,\"un\":8");
  EXPECT_EQ(load_error(directory, text),
            "WordPieceTokenizer: " + path + ": \"model.vocab\" repeats the key \"un\"");

  Json json = small_tokenizer_json();
  json["model"]["vocab"]["again"] = 4;
  EXPECT_EQ(
      load_error(directory, json.dump()),
      "WordPieceTokenizer: " + path + ": \"model.vocab\" gives id 4 to both \"again\" and \"un\"");

  write_file(directory.path() / "vocab.txt",
             "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nword\nother\nword\n");
  EXPECT_EQ(error_of([&] { WordPieceTokenizer::from_vocab(directory.path() / "vocab.txt"); }),
            "WordPieceTokenizer: " + (directory.path() / "vocab.txt").string() +
                ": the token \"word\" is on line 6 and again on line 8");
}

TEST(TextWordPieceTest, MissingFilesAreNamed) {
  testing::TemporaryDirectory directory;
  const std::filesystem::path vocab = directory.path() / "vocab.txt";
  EXPECT_EQ(error_of([&] { WordPieceTokenizer::from_vocab(vocab); }),
            "WordPieceTokenizer: cannot read " + vocab.string() + ": No such file or directory");
  EXPECT_EQ(error_of([&] {
              WordPieceTokenizer::from_tokenizer_json(directory.path() / "tokenizer.json");
            }),
            "WordPieceTokenizer: cannot read " + (directory.path() / "tokenizer.json").string() +
                ": No such file or directory");
  EXPECT_EQ(error_of([&] { WordPieceTokenizer::from_directory(directory.path()); }),
            "WordPieceTokenizer: " + directory.path().string() +
                " has neither tokenizer.json nor vocab.txt");
  write_file(vocab, "[PAD]\n[UNK]\n[CLS]\n[SEP]\nword\n");
  EXPECT_EQ(error_of([&] { WordPieceTokenizer::from_vocab(vocab); }),
            "WordPieceTokenizer: " + vocab.string() +
                ": the mask_token \"[MASK]\" is not in the vocabulary");
}

TEST(TextWordPieceTest, SmallTokenizerJsonWorksAsWritten) {
  testing::TemporaryDirectory directory;
  write_file(directory.path() / "tokenizer.json", small_tokenizer_json().dump());
  const auto tokenizer =
      WordPieceTokenizer::from_tokenizer_json(directory.path() / "tokenizer.json");
  const WordPieceEncoding encoding = tokenizer.encode("Unaffable! [SEP]x");
  EXPECT_EQ(encoding.tokens, (std::vector<std::string>{"[CLS]", "un", "##aff", "##able", "!",
                                                       "[SEP]", "[UNK]", "[SEP]"}));
  EXPECT_EQ(tokenizer.decode(encoding.ids), "unaffable!");
  EXPECT_EQ(tokenizer.vocab_size(), 8);
  EXPECT_EQ(error_of([&] { tokenizer.pad_id(); }), "(no error)");
}

}  // namespace
}  // namespace attn::text
