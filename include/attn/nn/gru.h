// GRU, as torch.nn.GRU: same options, parameter names (weight_ih_l0, ..., _reverse) and gate
// order (r, z, n). Padded batches: see rnn.h.
#pragma once

#include "attn/nn/rnn.h"

namespace attn::nn {

struct GRUOutput {
  Tensor output;  // [T, B, D*H] ([B, T, D*H] batch-first); zero at padded steps
  Tensor h_n;     // [L*D, B, H]: the state after each sequence's last valid step
};

// One GRU step, PyTorch's formulation (the reset gate scales W_hn h + b_hn):
//   r = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr)
//   z = σ(x W_izᵀ + b_iz + h W_hzᵀ + b_hz)
//   n = tanh(x W_inᵀ + b_in + r * (h W_hnᵀ + b_hn))
//   h' = (1 - z) * n + z * h
// input_gates [B, 3H] holds the x terms with b_i*; h is [B, H].
Tensor gru_cell(const Tensor& input_gates, const Tensor& h, const Tensor& weight_hh,
                const Tensor& bias_hh);

class GRU : public RecurrentBase {
 public:
  explicit GRU(const RNNOptions& options);

  // input [T, B, I] ([B, T, I] batch-first); h0 [L*D, B, H] or undefined for zeros;
  // lengths int64 [B] or undefined when every sequence spans all T steps.
  GRUOutput forward(const Tensor& input, const Tensor& h0 = Tensor(),
                    const Tensor& lengths = Tensor()) const;

 private:
  RecurrentState cell(const Tensor& input_gates, const RecurrentState& state,
                      const RecurrentWeights& weights) const override;
};

}  // namespace attn::nn
