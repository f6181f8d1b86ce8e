// PretrainedWordPiece: a model folder's WordPiece vocabulary behind the Tokenizer interface,
// saved beside a checkpoint and read back by load_tokenizer, id for id.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "attn/core/error.h"
#include "attn/text/tokenizer.h"
#include "attn/text/wordpiece.h"
#include "support/pretrained_model.h"
#include "support/temporary_directory.h"
#include "support/tiny_bert_folder.h"

namespace attn::text {
namespace {

namespace fs = std::filesystem;
using attn::testing::TemporaryDirectory;

std::string bytes_of(const fs::path& path) {
  std::ifstream stream(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(stream), std::istreambuf_iterator<char>()};
}

const std::vector<std::string> kTexts = {
    "The cats sat on the mat.", "Héllo, WORLD!  naïve café", "日本語のテキスト 🙂", "", "   ",
    "unaffable [MASK] tokens", "ΣΊΣΥΦΟΣ"};

void expect_same_tokenizer(const Tokenizer& loaded, const PretrainedWordPiece& original) {
  EXPECT_EQ(loaded.kind(), TokenizerKind::kWordPiece);
  EXPECT_EQ(loaded.vocab_size(), original.vocab_size());
  EXPECT_EQ(loaded.pad_id(), original.pad_id());
  EXPECT_EQ(loaded.unk_id(), original.unk_id());
  EXPECT_EQ(loaded.bos_id(), original.bos_id());
  EXPECT_EQ(loaded.eos_id(), original.eos_id());
  for (const std::string& text : kTexts) EXPECT_EQ(loaded.encode(text), original.encode(text)) << text;
}

TEST(PretrainedMiniLM, WordPieceAsATokenizerKeepsTheModelsIdsAndRoundTrips) {
  const fs::path folder = attn::testing::minilm_directory();
  const PretrainedWordPiece tokenizer = PretrainedWordPiece::from_directory(folder);
  // The model's own ids: [PAD] 0, [UNK] 100, [CLS] 101, [SEP] 102; no specials in encode().
  EXPECT_EQ(tokenizer.pad_id(), 0);
  EXPECT_EQ(tokenizer.unk_id(), 100);
  EXPECT_EQ(tokenizer.bos_id(), 101);
  EXPECT_EQ(tokenizer.eos_id(), 102);
  const std::vector<std::int64_t> ids = tokenizer.encode("Hello, world!");
  EXPECT_EQ(ids, tokenizer.wordpiece().encode("Hello, world!", 0, false).ids);
  EXPECT_EQ(tokenizer.wordpiece().encode("Hello, world!").ids.front(), 101);
  EXPECT_EQ(tokenizer.decode(ids), "hello, world!");
  EXPECT_EQ(tokenizer.piece_to_id("hello"), ids.front());
  EXPECT_EQ(tokenizer.piece_to_id("no-such-piece"), 100);
  EXPECT_EQ(tokenizer.id_to_piece(101), "[CLS]");

  TemporaryDirectory directory("attn_pretrained_wordpiece");
  tokenizer.save(directory.path(), "input");
  EXPECT_EQ(directory.entries(), (std::vector<std::string>{"input.tokenizer.json", "input.wordpiece.json"}));
  // The very bytes of the folder's tokenizer.json.
  EXPECT_EQ(bytes_of(directory.path() / "input.wordpiece.json"), bytes_of(folder / "tokenizer.json"));
  expect_same_tokenizer(*load_tokenizer(directory.path(), "input"), tokenizer);
}

TEST(PretrainedWordPiece, AVocabFolderSavesVocabAndConfigAndReadsBackTheSame) {
  attn::testing::TinyBertFolder folder;
  folder.write();
  const PretrainedWordPiece tokenizer = PretrainedWordPiece::from_directory(folder.path());
  EXPECT_EQ(tokenizer.encode("The cats sat"), (std::vector<std::int64_t>{5, 6, 8, 7}));
  TemporaryDirectory directory("attn_pretrained_wordpiece");
  tokenizer.save(directory.path(), "input");
  EXPECT_EQ(directory.entries(),
            (std::vector<std::string>{"input.tokenizer.json", "input.tokenizer_config.json",
                                      "input.vocab.txt"}));
  expect_same_tokenizer(*load_tokenizer(directory.path(), "input"), tokenizer);

  // A descriptor whose file is gone is an error naming the file.
  fs::remove(directory.path() / "input.vocab.txt");
  try {
    load_tokenizer(directory.path(), "input");
    ADD_FAILURE() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("input.vocab.txt"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace attn::text
