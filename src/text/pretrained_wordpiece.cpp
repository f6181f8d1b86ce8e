// PretrainedWordPiece: a model folder's WordPiece vocabulary as a Tokenizer, saved as the
// bytes it was read from.
#include <filesystem>

#include "attn/core/error.h"
#include "attn/io/atomic_file.h"
#include "attn/text/wordpiece.h"

namespace attn::text {
namespace {

constexpr const char* kContext = "PretrainedWordPiece";

// The file each role is saved as, beside NAME.tokenizer.json.
std::string saved_file_name(const std::string& name, const std::string& role) {
  if (role == "tokenizer") return name + ".wordpiece.json";
  if (role == "vocab") return name + ".vocab.txt";
  return name + ".tokenizer_config.json";
}

}  // namespace

PretrainedWordPiece::PretrainedWordPiece(WordPieceTokenizer wordpiece, SourceFiles sources)
    : wordpiece_(std::move(wordpiece)), sources_(std::move(sources)) {
  // A vocabulary without a pad token still pads: padded positions are masked, so any id
  // serves, and 0 is BERT's [PAD].
  const std::optional<std::int64_t> pad = wordpiece_.token_to_id("[PAD]");
  try {
    pad_id_ = wordpiece_.pad_id();
  } catch (const Error&) {
    pad_id_ = pad.value_or(0);
  }
}

PretrainedWordPiece PretrainedWordPiece::from_tokenizer_json(const std::filesystem::path& path) {
  WordPieceTokenizer wordpiece = WordPieceTokenizer::from_tokenizer_json(path);
  return PretrainedWordPiece(std::move(wordpiece),
                             {{"tokenizer", read_tokenizer_file(path, kContext)}});
}

PretrainedWordPiece PretrainedWordPiece::from_vocab(const std::filesystem::path& vocab_path,
                                                    const std::filesystem::path& config_path) {
  WordPieceTokenizer wordpiece = WordPieceTokenizer::from_vocab(vocab_path, config_path);
  SourceFiles sources{{"vocab", read_tokenizer_file(vocab_path, kContext)}};
  if (!config_path.empty()) sources.emplace_back("config", read_tokenizer_file(config_path, kContext));
  return PretrainedWordPiece(std::move(wordpiece), std::move(sources));
}

PretrainedWordPiece PretrainedWordPiece::from_directory(const std::filesystem::path& directory) {
  if (std::filesystem::exists(directory / "tokenizer.json"))
    return from_tokenizer_json(directory / "tokenizer.json");
  const std::filesystem::path config = directory / "tokenizer_config.json";
  return from_vocab(directory / "vocab.txt",
                    std::filesystem::exists(config) ? config : std::filesystem::path());
}

std::vector<std::int64_t> PretrainedWordPiece::encode(std::string_view text) const {
  return wordpiece_.encode(text, 0, /*add_special_tokens=*/false).ids;
}

std::string PretrainedWordPiece::decode(std::span<const std::int64_t> ids) const {
  return wordpiece_.decode(ids, /*skip_special_tokens=*/true);
}

std::int64_t PretrainedWordPiece::piece_to_id(std::string_view piece) const {
  return wordpiece_.token_to_id(piece).value_or(unk_id());
}

void PretrainedWordPiece::save(const std::filesystem::path& directory,
                               const std::string& name) const {
  // The descriptor checks the name; the files first, so that a descriptor never names a
  // file that is not there.
  tokenizer_descriptor_path(directory, name);
  std::vector<std::pair<std::string, std::string>> files;
  for (const auto& [role, bytes] : sources_) {
    const std::string file_name = saved_file_name(name, role);
    io::write_file_atomic((directory / file_name).string(), bytes);
    files.emplace_back(role, file_name);
  }
  write_tokenizer_descriptor(directory, name, kind(), vocab_size(), files);
}

}  // namespace attn::text
