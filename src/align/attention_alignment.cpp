#include "attn/align/attention_alignment.h"

#include <algorithm>

#include "attn/core/error.h"
#include "attn/text/tokenizer.h"

namespace attn::align {
namespace {

constexpr std::string_view kWordStart = "\u2581";

bool is_reserved_piece(const std::string& piece) {
  return piece == text::kPadPiece || piece == text::kBosPiece || piece == text::kEosPiece;
}

// The column of the largest weight among those with a source word; -1 when none has one.
std::int64_t best_column(const float* row, const std::vector<std::int64_t>& source_word_of_column) {
  std::int64_t best = -1;
  for (std::size_t k = 0; k < source_word_of_column.size(); ++k) {
    if (source_word_of_column[k] < 0) continue;
    if (best < 0 || row[k] > row[best]) best = static_cast<std::int64_t>(k);
  }
  return best;
}

}  // namespace

std::vector<std::int64_t> word_of_pieces(const std::vector<std::string>& pieces) {
  std::vector<std::int64_t> words;
  words.reserve(pieces.size());
  std::int64_t word = -1;
  for (const std::string& piece : pieces) {
    if (is_reserved_piece(piece)) {
      words.push_back(-1);
      continue;
    }
    if (word < 0 || piece.starts_with(kWordStart)) ++word;
    words.push_back(word);
  }
  return words;
}

std::int64_t count_words(const std::vector<std::int64_t>& word_of_piece) {
  std::int64_t largest = -1;
  for (std::int64_t word : word_of_piece) largest = std::max(largest, word);
  return largest + 1;
}

Alignment hard_alignment(const Tensor& weights,
                         const std::vector<std::int64_t>& target_word_of_row,
                         const std::vector<std::int64_t>& source_word_of_column) {
  ATTN_CHECK(weights.dim() == 2 && weights.dtype() == DType::Float32,
             "hard_alignment: expected float32 weights [Nq, Nk], got ", weights.describe());
  const std::int64_t num_rows = weights.size(0), num_columns = weights.size(1);
  ATTN_CHECK(static_cast<std::int64_t>(target_word_of_row.size()) == num_rows &&
                 static_cast<std::int64_t>(source_word_of_column.size()) == num_columns,
             "hard_alignment: weights ", weights.describe(), " for ", target_word_of_row.size(),
             " target and ", source_word_of_column.size(), " source pieces");
  const Tensor rows = weights.contiguous();
  std::vector<Link> links;
  for (std::int64_t q = 0; q < num_rows; ++q) {
    if (target_word_of_row[q] < 0) continue;
    std::int64_t column = best_column(rows.data<float>() + q * num_columns, source_word_of_column);
    ATTN_CHECK(column >= 0, "hard_alignment: no source piece belongs to a word");
    links.push_back({source_word_of_column[column], target_word_of_row[q]});
  }
  return make_alignment(std::move(links));
}

Alignment diagonal_alignment(std::int64_t num_source_words, std::int64_t num_target_words) {
  ATTN_CHECK(num_source_words >= 0 && num_target_words >= 0,
             "diagonal_alignment: expected word counts >= 0, got ", num_source_words, " and ",
             num_target_words);
  Alignment links;
  if (num_source_words == 0) return links;
  for (std::int64_t j = 0; j < num_target_words; ++j) {
    // (2j + 1) I / 2J = (j + 1/2) I / J, in integers.
    links.push_back({(2 * j + 1) * num_source_words / (2 * num_target_words), j});
  }
  return links;
}

}  // namespace attn::align
