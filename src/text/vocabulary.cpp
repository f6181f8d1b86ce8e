#include "attn/text/vocabulary.h"

#include <nlohmann/json.hpp>

#include "attn/core/error.h"
#include "attn/io/atomic_file.h"
#include "attn/text/tokenizer.h"

namespace attn::text {
namespace {

constexpr const char* kVocabularyFormat = "attn-vocabulary";
constexpr int kVocabularyFormatVersion = 1;

nlohmann::json parse_vocabulary_json(const std::filesystem::path& path) {
  const std::string text = read_tokenizer_file(path, "vocabulary");
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& error) {
    throw Error(detail::concat("vocabulary: ", path.string(), ": not valid JSON: ", error.what()));
  }
  ATTN_CHECK(json.is_object(), "vocabulary: ", path.string(), ": expected a JSON object, got ",
             json.type_name());
  return json;
}

void check_vocabulary_header(const nlohmann::json& json, TokenizerKind expected_kind,
                             const std::filesystem::path& path) {
  const std::string where = detail::concat("vocabulary: ", path.string());
  auto format = json.find("format");
  ATTN_CHECK(format != json.end() && *format == kVocabularyFormat, where,
             ": \"format\" must be \"", kVocabularyFormat, "\"");
  auto version = json.find("format_version");
  ATTN_CHECK(version != json.end() && version->is_number_integer() &&
                 version->get<std::int64_t>() >= 1 &&
                 version->get<std::int64_t>() <= kVocabularyFormatVersion,
             where, ": \"format_version\" must be an integer in 1..", kVocabularyFormatVersion);
  auto kind = json.find("kind");
  ATTN_CHECK(kind != json.end() && kind->is_string(), where, ": missing \"kind\"");
  ATTN_CHECK(*kind == to_string(expected_kind), where, ": \"kind\" is ", kind->dump(),
             ", expected \"", to_string(expected_kind), "\"");
}

std::vector<std::string> read_pieces(const nlohmann::json& json, const std::filesystem::path& path) {
  auto pieces = json.find("pieces");
  ATTN_CHECK(pieces != json.end() && pieces->is_array(), "vocabulary: ", path.string(),
             ": missing the \"pieces\" array");
  std::vector<std::string> result;
  result.reserve(pieces->size());
  for (const auto& piece : *pieces) {
    ATTN_CHECK(piece.is_string(), "vocabulary: ", path.string(), ": pieces[", result.size(),
               "] must be a string, got ", piece.dump());
    result.push_back(piece.get<std::string>());
  }
  return result;
}

}  // namespace

void write_vocabulary_file(const std::filesystem::path& path, const VocabularyFile& file) {
  nlohmann::ordered_json json;
  json["format"] = kVocabularyFormat;
  json["format_version"] = kVocabularyFormatVersion;
  json["kind"] = std::string(to_string(file.kind));
  for (const auto& [key, value] : file.flags) json[key] = value;
  json["pieces"] = file.pieces;
  // One piece per line keeps the file readable and diffable.
  io::write_file_atomic(path.string(), json.dump(1) + "\n");
}

VocabularyFile read_vocabulary_file(const std::filesystem::path& path, TokenizerKind expected_kind) {
  const nlohmann::json json = parse_vocabulary_json(path);
  check_vocabulary_header(json, expected_kind, path);
  VocabularyFile file;
  file.kind = expected_kind;
  file.pieces = read_pieces(json, path);
  for (const auto& [key, value] : json.items()) {
    if (key == "format" || key == "format_version" || key == "kind" || key == "pieces") continue;
    ATTN_CHECK(value.is_boolean(), "vocabulary: ", path.string(), ": \"", key,
               "\" must be true or false, got ", value.dump());
    file.flags[key] = value.get<bool>();
  }
  return file;
}

PieceTable::PieceTable(std::vector<std::string> pieces, std::string_view source)
    : pieces_(std::move(pieces)) {
  ATTN_CHECK(size() >= kNumReservedIds, source, ": a vocabulary needs at least the ",
             kNumReservedIds, " reserved pieces, got ", size(), " pieces");
  for (std::int64_t id = 0; id < size(); ++id) {
    const std::string& piece = pieces_[id];
    if (is_reserved_id(id)) {
      ATTN_CHECK(piece == reserved_piece(id), source, ": piece ", id, " must be \"",
                 reserved_piece(id), "\", got \"", piece, "\"");
    }
    ATTN_CHECK(!piece.empty(), source, ": piece ", id, " is empty");
    auto [existing, inserted] = ids_.emplace(piece, id);
    ATTN_CHECK(inserted, source, ": piece \"", piece, "\" appears twice (ids ", existing->second,
               " and ", id, ")");
  }
}

PieceTable PieceTable::with_reserved(const std::vector<std::string>& ranked,
                                     std::string_view source) {
  std::vector<std::string> pieces;
  pieces.reserve(kNumReservedIds + ranked.size());
  for (std::int64_t id = 0; id < kNumReservedIds; ++id) pieces.emplace_back(reserved_piece(id));
  pieces.insert(pieces.end(), ranked.begin(), ranked.end());
  return PieceTable(std::move(pieces), source);
}

std::int64_t PieceTable::id(const std::string& piece) const {
  auto found = ids_.find(piece);
  return found == ids_.end() ? kUnkId : found->second;
}

const std::string& PieceTable::piece(std::int64_t id, std::string_view context) const {
  check_token_id(id, size(), context);
  return pieces_[id];
}

void check_token_id(std::int64_t id, std::int64_t vocab_size, std::string_view context) {
  ATTN_CHECK(id >= 0 && id < vocab_size, context, ": id ", id,
             " is out of range for a vocabulary of ", vocab_size);
}

}  // namespace attn::text
