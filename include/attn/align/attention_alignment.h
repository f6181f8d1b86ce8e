// Hard word alignments from attention weights over subword pieces.
//
// The rows of a cross-attention map are target pieces, its columns source pieces. Each target
// piece is linked to the source piece it attends to most, </s> and the other reserved tokens
// left out (a Transformer often parks attention on </s>, which aligns to no word); a target
// word and a source word are linked when any of their pieces are (Garg et al. 2019, Zenkel
// et al. 2019). Which row belongs to which target piece is the caller's choice: in forced
// decoding, attn uses the row of the step that predicts the piece (inspect/attention_maps.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "attn/align/gold.h"
#include "attn/core/tensor.h"

namespace attn::align {

// The word of each SentencePiece piece: a piece that starts with U+2581 ("▁") begins a word,
// the others continue the word before; reserved pieces (<s>, </s>, <pad>) belong to no word
// (-1). A first piece without "▁" still begins word 0.
std::vector<std::int64_t> word_of_pieces(const std::vector<std::string>& pieces);

// The number of words word_of_pieces found (its largest index + 1).
std::int64_t count_words(const std::vector<std::int64_t>& word_of_piece);

// weights float32 [Nq, Nk]: row q = target piece q, column k = source piece k. Rows with
// target word -1 link nothing; each other row links its target word to the source word of
// its largest weight among the columns with a source word (the first on ties). Throws when
// the sizes disagree or when a row has no column to choose.
Alignment hard_alignment(const Tensor& weights,
                         const std::vector<std::int64_t>& target_word_of_row,
                         const std::vector<std::int64_t>& source_word_of_column);

// The baseline that ignores the words: target word j (of J) links to source word
// floor((j + 1/2) I / J), the source word at the same relative position (of I).
Alignment diagonal_alignment(std::int64_t num_source_words, std::int64_t num_target_words);

}  // namespace attn::align
