// StepModel: what every search (greedy, beam, sampling) needs from a model that writes a
// sequence one token at a time. The Transformer decoder (with its key/value cache), the RNN
// seq2seq decoder and the decoder-only language model all implement it, so one beam search
// serves them all.
//
// A StepModel holds a set of live hypotheses ("rows"), each with its own state (cached keys
// and values, a recurrent hidden state, the encoder output it attends to). It starts with
// one row per source sentence (or per prompt); searches grow, shrink and reorder the rows
// with select().
#pragma once

#include <cstdint>
#include <vector>

#include "attn/core/tensor.h"

namespace attn::decode {

class StepModel {
 public:
  virtual ~StepModel() = default;

  // Number of live rows.
  virtual std::int64_t num_rows() const = 0;

  // Feeds each row the token it emitted last (one per row; the first call gets the
  // begin-of-sequence token or the prompt's last token) and returns the log-probabilities
  // of the next token: float32 [num_rows, vocab_size], no gradient.
  virtual Tensor next_log_probs(const std::vector<std::int64_t>& last_tokens) = 0;

  // Keeps the rows listed, in that order; an index may repeat (beam search copies a
  // hypothesis into several beams) and rows not listed are dropped.
  virtual void select(const std::vector<std::int64_t>& rows) = 0;

  // Sequences longer than this (in generated tokens) are cut; 0 means no limit.
  virtual std::int64_t max_length() const { return 0; }
};

}  // namespace attn::decode
