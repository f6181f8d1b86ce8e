// The descriptor (NAME.tokenizer.json) and load_tokenizer, shared by every kind.
#include "attn/text/tokenizer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attn/core/error.h"
#include "attn/text/char_vocabulary.h"
#include "attn/text/word_vocabulary.h"
#include "support/temporary_directory.h"

namespace attn::text {
namespace {

using Names = std::vector<std::string>;

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

std::string read_file(const std::string& path) {
  std::ifstream stream(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(stream), std::istreambuf_iterator<char>());
}

void write_file(const std::string& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary) << contents;
}

CharVocabulary small_chars() {
  const std::vector<std::string> texts = {"abc"};
  return CharVocabulary::build(texts);
}

TEST(TextTokenizerTest, ReservedIdsAndKindNames) {
  EXPECT_EQ(kPadId, 0);
  EXPECT_EQ(kUnkId, 1);
  EXPECT_EQ(kBosId, 2);
  EXPECT_EQ(kEosId, 3);
  EXPECT_STREQ(reserved_piece(kBosId), "<s>");
  EXPECT_THROW(reserved_piece(4), Error);
  EXPECT_TRUE(is_reserved_id(3));
  EXPECT_FALSE(is_reserved_id(4));
  EXPECT_FALSE(is_reserved_id(-1));
  for (TokenizerKind kind : {TokenizerKind::kSentencePiece, TokenizerKind::kWord, TokenizerKind::kChar,
                             TokenizerKind::kWordPiece}) {
    EXPECT_EQ(tokenizer_kind_from_string(to_string(kind)), kind);
  }
  EXPECT_EQ(error_of([] { tokenizer_kind_from_string("bytes"); }),
            "tokenizer kind: expected sentencepiece, word, char or wordpiece, got 'bytes'");
}

TEST(TextTokenizerTest, DescriptorContents) {
  testing::TemporaryDirectory directory;
  small_chars().save(directory.path(), "target");
  const auto descriptor = nlohmann::json::parse(read_file(directory.file("target.tokenizer.json")));
  EXPECT_EQ(descriptor["format"], "attn-tokenizer");
  EXPECT_EQ(descriptor["format_version"], 1);
  EXPECT_EQ(descriptor["kind"], "char");
  EXPECT_EQ(descriptor["vocab_size"], 7);
  EXPECT_EQ(descriptor["files"], nlohmann::json({{"vocab", "target.vocab.json"}}));
  EXPECT_EQ(tokenizer_descriptor_path(directory.path(), "target"),
            directory.path() / "target.tokenizer.json");
}

TEST(TextTokenizerTest, SavingAgainReplacesTheFilesWithoutLeftovers) {
  testing::TemporaryDirectory directory;
  small_chars().save(directory.path(), "t");
  const std::vector<std::string> texts = {"the words"};
  WordVocabulary::build(texts).save(directory.path(), "t");
  EXPECT_EQ(directory.entries(), (Names{"t.tokenizer.json", "t.vocab.json"}));
  EXPECT_EQ(load_tokenizer(directory.path(), "t")->kind(), TokenizerKind::kWord);
}

TEST(TextTokenizerTest, SaveRejectsBadNamesAndMissingDirectories) {
  testing::TemporaryDirectory directory;
  for (const std::string name : {"", ".", "..", "a/b"}) {
    EXPECT_EQ(error_of([&] { small_chars().save(directory.path(), name); }),
              "tokenizer: the tokenizer name must be a plain file name stem, got '" + name + "'");
  }
  EXPECT_TRUE(directory.is_empty());
  EXPECT_THROW(small_chars().save(directory.path() / "absent", "t"), Error);
}

TEST(TextTokenizerTest, LoadNamesAMissingDescriptor) {
  testing::TemporaryDirectory directory;
  const std::string path = directory.file("none.tokenizer.json");
  EXPECT_EQ(error_of([&] { load_tokenizer(directory.path(), "none"); }),
            "load_tokenizer: cannot read " + path + ": No such file or directory");
}

TEST(TextTokenizerTest, LoadRejectsMalformedDescriptors) {
  testing::TemporaryDirectory directory;
  small_chars().save(directory.path(), "good");
  const std::string path = directory.file("bad.tokenizer.json");
  const auto load_error = [&](const std::string& contents) {
    write_file(path, contents);
    return error_of([&] { load_tokenizer(directory.path(), "bad"); });
  };
  const auto descriptor = [](const std::string& kind, const std::string& files, int vocab_size = 7) {
    return R"({"format": "attn-tokenizer", "format_version": 1, "kind": )" + kind +
           R"(, "vocab_size": )" + std::to_string(vocab_size) + R"(, "files": )" + files + "}";
  };
  const std::string good_files = R"({"vocab": "good.vocab.json"})";
  EXPECT_EQ(load_error(descriptor(R"("char")", good_files)), "(no error)");

  EXPECT_TRUE(load_error("{\"format\": ").find("load_tokenizer: " + path + ": not valid JSON") == 0);
  EXPECT_EQ(load_error("42"), "load_tokenizer: " + path + ": expected a JSON object, got number");
  EXPECT_EQ(load_error(R"({"format": "attn-tokenizer", "format_version": 1})"),
            "load_tokenizer: " + path + ": missing \"kind\"");
  EXPECT_EQ(load_error(R"({"format": "checkpoint", "format_version": 1})"),
            "load_tokenizer: " + path + ": \"format\" is \"checkpoint\", expected \"attn-tokenizer\"");
  EXPECT_EQ(load_error(R"({"format": "attn-tokenizer", "format_version": 9, "kind": "char"})"),
            "load_tokenizer: " + path + ": format_version 9 is not one this build reads (1..1)");
  EXPECT_EQ(load_error(R"({"format": "attn-tokenizer", "format_version": "1"})"),
            "load_tokenizer: " + path + ": \"format_version\" must be an integer, got \"1\"");
  EXPECT_EQ(load_error(descriptor(R"("bytes")", good_files)),
            "load_tokenizer: " + path +
                ": tokenizer kind: expected sentencepiece, word, char or wordpiece, got 'bytes'");
  EXPECT_EQ(load_error(descriptor(R"(7)", good_files)),
            "load_tokenizer: " + path + ": \"kind\" must be a string, got 7");
  EXPECT_EQ(load_error(descriptor(R"("char")", R"({"model": "good.vocab.json"})")),
            "load_tokenizer: " + path + ": \"files\" must name the \"vocab\" file, got " +
                R"({"model":"good.vocab.json"})");
  EXPECT_EQ(load_error(descriptor(R"("char")", R"({"vocab": "../good.vocab.json"})")),
            "load_tokenizer: " + path +
                ": files.vocab: the tokenizer name must be a plain file name stem, got "
                "'../good.vocab.json'");
  EXPECT_EQ(load_error(descriptor(R"("char")", good_files, 8)),
            "load_tokenizer: " + path +
                ": \"vocab_size\" is 8 but the char vocabulary it names has 7 ids");
  // A wordpiece descriptor names a tokenizer.json or a vocab.txt.
  EXPECT_EQ(load_error(descriptor(R"("wordpiece")", R"({"merges": "good.vocab.json"})")),
            "load_tokenizer: " + path + ": \"files\" must name the \"vocab\" file, got " +
                R"({"merges":"good.vocab.json"})");
  // The file named is of another kind.
  const std::string vocab_path = directory.file("good.vocab.json");
  EXPECT_EQ(load_error(descriptor(R"("word")", good_files)),
            "vocabulary: " + vocab_path + ": \"kind\" is \"char\", expected \"word\"");
  EXPECT_TRUE(load_error(descriptor(R"("sentencepiece")", R"({"model": "good.vocab.json"})"))
                  .find("SentencePieceTokenizer: " + vocab_path + ": not a valid SentencePiece model") == 0);
  EXPECT_EQ(load_error(descriptor(R"("char")", R"({"vocab": "missing.vocab.json"})")),
            "vocabulary: cannot read " + directory.file("missing.vocab.json") +
                ": No such file or directory");
}

TEST(TextTokenizerTest, ReadTokenizerFileRejectsDirectories) {
  testing::TemporaryDirectory directory;
  EXPECT_EQ(error_of([&] { read_tokenizer_file(directory.path(), "test"); }),
            "test: cannot read " + directory.path().string() + ": it is a directory");
}

}  // namespace
}  // namespace attn::text
