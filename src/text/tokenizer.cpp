#include "attn/text/tokenizer.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "attn/core/error.h"
#include "attn/io/atomic_file.h"
#include "attn/text/char_vocabulary.h"
#include "attn/text/sentencepiece.h"
#include "attn/text/word_vocabulary.h"
#include "attn/text/wordpiece.h"

namespace attn::text {
namespace {

constexpr const char* kDescriptorFormat = "attn-tokenizer";
constexpr int kDescriptorFormatVersion = 1;
constexpr const char* kDescriptorSuffix = ".tokenizer.json";

void check_name(const std::string& name, std::string_view context) {
  const bool plain = !name.empty() && name != "." && name != ".." &&
                     name.find('/') == std::string::npos && name.find('\0') == std::string::npos;
  ATTN_CHECK(plain, context, ": the tokenizer name must be a plain file name stem, got '", name,
             "'");
}

nlohmann::json parse_descriptor(const std::filesystem::path& path) {
  const std::string text = read_tokenizer_file(path, "load_tokenizer");
  try {
    nlohmann::json descriptor = nlohmann::json::parse(text);
    ATTN_CHECK(descriptor.is_object(), "load_tokenizer: ", path.string(),
               ": expected a JSON object, got ", descriptor.type_name());
    return descriptor;
  } catch (const nlohmann::json::exception& error) {
    throw Error(detail::concat("load_tokenizer: ", path.string(), ": not valid JSON: ",
                               error.what()));
  }
}

const char* describe(nlohmann::json::value_t type) {
  switch (type) {
    case nlohmann::json::value_t::string: return "a string";
    case nlohmann::json::value_t::object: return "an object";
    case nlohmann::json::value_t::number_integer: return "an integer";
    default: return "another type";
  }
}

// A field of the descriptor, or an error naming the file and the field.
const nlohmann::json& field(const nlohmann::json& descriptor, const std::string& key,
                            nlohmann::json::value_t type, const std::filesystem::path& path) {
  auto found = descriptor.find(key);
  ATTN_CHECK(found != descriptor.end(), "load_tokenizer: ", path.string(), ": missing \"", key,
             "\"");
  const bool type_matches = type == nlohmann::json::value_t::number_integer
                                ? found->is_number_integer()
                                : found->type() == type;
  ATTN_CHECK(type_matches, "load_tokenizer: ", path.string(), ": \"", key, "\" must be ",
             describe(type), ", got ", found->dump());
  return *found;
}

void check_format(const nlohmann::json& descriptor, const std::filesystem::path& path) {
  const auto& format = field(descriptor, "format", nlohmann::json::value_t::string, path);
  ATTN_CHECK(format.get<std::string>() == kDescriptorFormat, "load_tokenizer: ", path.string(),
             ": \"format\" is ", format.dump(), ", expected \"", kDescriptorFormat, "\"");
  const auto& version = field(descriptor, "format_version", nlohmann::json::value_t::number_integer, path);
  ATTN_CHECK(version.get<std::int64_t>() >= 1 && version.get<std::int64_t>() <= kDescriptorFormatVersion,
             "load_tokenizer: ", path.string(), ": format_version ", version.dump(),
             " is not one this build reads (1..", kDescriptorFormatVersion, ")");
}

// Whether the descriptor names a file for `role`.
bool names_file(const nlohmann::json& descriptor, const std::string& role,
                const std::filesystem::path& path) {
  const auto& files = field(descriptor, "files", nlohmann::json::value_t::object, path);
  return files.contains(role);
}

// The file the descriptor names for `role`, which must lie in the descriptor's directory.
std::filesystem::path named_file(const nlohmann::json& descriptor, const std::string& role,
                                 const std::filesystem::path& path) {
  const auto& files = field(descriptor, "files", nlohmann::json::value_t::object, path);
  auto found = files.find(role);
  ATTN_CHECK(found != files.end() && found->is_string(), "load_tokenizer: ", path.string(),
             ": \"files\" must name the \"", role, "\" file, got ", files.dump());
  const std::string file_name = found->get<std::string>();
  check_name(file_name, detail::concat("load_tokenizer: ", path.string(), ": files.", role));
  return path.parent_path() / file_name;
}

std::unique_ptr<Tokenizer> load_of_kind(TokenizerKind kind, const nlohmann::json& descriptor,
                                        const std::filesystem::path& path) {
  switch (kind) {
    case TokenizerKind::kSentencePiece:
      return std::make_unique<SentencePieceTokenizer>(
          SentencePieceTokenizer::load(named_file(descriptor, "model", path)));
    case TokenizerKind::kWord:
      return std::make_unique<WordVocabulary>(
          WordVocabulary::load(named_file(descriptor, "vocab", path)));
    case TokenizerKind::kChar:
      return std::make_unique<CharVocabulary>(
          CharVocabulary::load(named_file(descriptor, "vocab", path)));
    case TokenizerKind::kWordPiece:
      // A tokenizer.json, or vocab.txt with an optional tokenizer_config.json.
      if (names_file(descriptor, "tokenizer", path)) {
        return std::make_unique<PretrainedWordPiece>(
            PretrainedWordPiece::from_tokenizer_json(named_file(descriptor, "tokenizer", path)));
      }
      return std::make_unique<PretrainedWordPiece>(PretrainedWordPiece::from_vocab(
          named_file(descriptor, "vocab", path),
          names_file(descriptor, "config", path) ? named_file(descriptor, "config", path)
                                                 : std::filesystem::path()));
  }
  ATTN_ASSERT(false, "unhandled tokenizer kind");
}

}  // namespace

const char* reserved_piece(std::int64_t id) {
  static constexpr const char* kPieces[] = {kPadPiece, kUnkPiece, kBosPiece, kEosPiece};
  ATTN_CHECK(is_reserved_id(id), "reserved_piece: expected an id in [0, ", kNumReservedIds,
             "), got ", id);
  return kPieces[id];
}

std::string_view to_string(TokenizerKind kind) {
  switch (kind) {
    case TokenizerKind::kSentencePiece: return "sentencepiece";
    case TokenizerKind::kWord: return "word";
    case TokenizerKind::kChar: return "char";
    case TokenizerKind::kWordPiece: return "wordpiece";
  }
  ATTN_ASSERT(false, "unhandled tokenizer kind");
}

TokenizerKind tokenizer_kind_from_string(std::string_view name) {
  for (TokenizerKind kind : {TokenizerKind::kSentencePiece, TokenizerKind::kWord,
                             TokenizerKind::kChar, TokenizerKind::kWordPiece}) {
    if (name == to_string(kind)) return kind;
  }
  throw Error(detail::concat("tokenizer kind: expected sentencepiece, word, char or wordpiece, got '",
                             name, "'"));
}

std::filesystem::path tokenizer_descriptor_path(const std::filesystem::path& directory,
                                                const std::string& name) {
  check_name(name, "tokenizer");
  return directory / (name + kDescriptorSuffix);
}

void write_tokenizer_descriptor(const std::filesystem::path& directory, const std::string& name,
                                TokenizerKind kind, std::int64_t vocab_size,
                                const std::string& file_role, const std::string& file_name) {
  write_tokenizer_descriptor(directory, name, kind, vocab_size, {{file_role, file_name}});
}

void write_tokenizer_descriptor(const std::filesystem::path& directory, const std::string& name,
                                TokenizerKind kind, std::int64_t vocab_size,
                                const std::vector<std::pair<std::string, std::string>>& files) {
  nlohmann::ordered_json descriptor;
  descriptor["format"] = kDescriptorFormat;
  descriptor["format_version"] = kDescriptorFormatVersion;
  descriptor["kind"] = std::string(to_string(kind));
  descriptor["vocab_size"] = vocab_size;
  descriptor["files"] = nlohmann::ordered_json::object();
  for (const auto& [role, file_name] : files) {
    check_name(file_name, "write_tokenizer_descriptor");
    descriptor["files"][role] = file_name;
  }
  io::write_file_atomic(tokenizer_descriptor_path(directory, name).string(),
                        descriptor.dump(2) + "\n");
}

std::string read_tokenizer_file(const std::filesystem::path& path, std::string_view context) {
  std::error_code error;
  ATTN_CHECK(!std::filesystem::is_directory(path, error), context, ": cannot read ",
             path.string(), ": it is a directory");
  std::ifstream stream(path, std::ios::binary);
  ATTN_CHECK(stream.is_open(), context, ": cannot read ", path.string(), ": ",
             std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(stream)), std::istreambuf_iterator<char>());
  ATTN_CHECK(!stream.bad(), context, ": error while reading ", path.string());
  return bytes;
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& directory,
                                          const std::string& name) {
  const std::filesystem::path path = tokenizer_descriptor_path(directory, name);
  const nlohmann::json descriptor = parse_descriptor(path);
  check_format(descriptor, path);
  const auto& kind_name = field(descriptor, "kind", nlohmann::json::value_t::string, path);
  TokenizerKind kind;
  try {
    kind = tokenizer_kind_from_string(kind_name.get<std::string>());
  } catch (const Error& error) {
    throw Error(detail::concat("load_tokenizer: ", path.string(), ": ", error.what()));
  }
  std::unique_ptr<Tokenizer> tokenizer = load_of_kind(kind, descriptor, path);
  const auto& vocab_size = field(descriptor, "vocab_size", nlohmann::json::value_t::number_integer, path);
  ATTN_CHECK(vocab_size.get<std::int64_t>() == tokenizer->vocab_size(), "load_tokenizer: ",
             path.string(), ": \"vocab_size\" is ", vocab_size.dump(), " but the ",
             to_string(kind), " vocabulary it names has ", tokenizer->vocab_size(), " ids");
  return tokenizer;
}

}  // namespace attn::text
