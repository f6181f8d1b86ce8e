// Attention cases: one attention computation described in a safetensors file, run by attn
// and written back as a safetensors file. This is what `attn attention run` executes; the
// schema is in docs/ATTENTION.md ("attn attention run"). In short:
//
//   single op (score dot | scaled_dot | general | additive | cosine):
//     q [B,H,Nq,d], k [B,H,Nk,d], v [B,H,Nk,dv]; optional mask (bool, true = may attend,
//     broadcastable to [B,H,Nq,Nk]), grad_out [B,H,Nq,dv], w [d,d] (general),
//     w_q [d,a], w_k [d,a], v_a [a] (additive), scale [] (cosine, learned)
//   multihead (torch.nn.MultiheadAttention, batch first):
//     query [B,Nq,E], key [B,Nk,kdim], value [B,Nk,vdim]; in_proj_weight [3E,E] or
//     q_proj_weight [E,E], k_proj_weight [E,kdim], v_proj_weight [E,vdim]; out_proj.weight
//     [E,E]; optional in_proj_bias [3E] with out_proj.bias [E]; key_padding_mask [B,Nk] and
//     attn_mask [Nq,Nk] or [B·H,Nq,Nk] with PyTorch's meaning; grad_out [B,Nq,E]
//   settings (strings in __metadata__): score, causal, scale, num_heads, impl, need_weights,
//     average_attn_weights
//
// Results: out, lse, weights (when need_weights) and grad_<name> for every floating input
// tensor and parameter when grad_out is given. Every problem with a case (a missing or
// unexpected tensor, a wrong shape or dtype, a bad setting) is an attn::Error naming the
// file and the problem, raised before anything is computed or written.
//
// This sits above the op (it drives nn::MultiHeadAttention and reads and writes files) but
// is kept in the library so that the tests exercise exactly what the command runs.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "attn/core/tensor.h"
#include "attn/io/safetensors.h"
#include "attn/ops/attention.h"

namespace attn::tasks {

struct AttentionCaseResult {
  io::TensorMap tensors;  // out, lse, weights, grad_<name>
  io::Metadata metadata;  // the settings the case ran with (score, impl, causal, ...)
};

// Validates a case and computes its results. `impl` overrides the case's own "impl"
// setting; `source_name` labels error messages ("attention case 'x.safetensors': ...").
AttentionCaseResult run_attention_case(const io::SafetensorsData& input,
                                       const std::string& source_name,
                                       std::optional<ops::AttentionImpl> impl = std::nullopt);

// The largest differences between two results, tensor by tensor. The relative difference
// of two elements is |a - b| / max(|a|, |b|) (0 when they are equal, infinities included).
struct TensorDifference {
  std::string name;
  Shape shape;
  double max_absolute = 0.0;
  double max_relative = 0.0;
  // The largest |element| of the expected tensor: the scale against which to read
  // max_absolute where elements near zero make relative differences large (a gradient that
  // is zero in exact arithmetic, such as that of the key bias, is all rounding noise).
  double max_expected = 0.0;
};
// Every tensor of `expected`, in name order; a tensor missing from `actual` or of another
// shape is an error.
std::vector<TensorDifference> compare_results(const io::TensorMap& actual,
                                              const io::TensorMap& expected);

struct AttentionCaseRun {
  AttentionCaseResult result;  // with the case's own impl setting; what output_path holds
  // With compare: fused against reference, for every result tensor.
  std::vector<TensorDifference> differences;
};

// Loads `input_path`, runs the case and, when output_path is not empty, writes the results
// there atomically. On any error nothing is written. With compare, the reference and fused
// implementations both run and their differences are returned.
AttentionCaseRun run_attention_case_file(const std::string& input_path,
                                         const std::string& output_path, bool compare);

}  // namespace attn::tasks
