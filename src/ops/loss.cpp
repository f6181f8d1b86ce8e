// Cross-entropy with ignore_index and label smoothing, as torch.nn.functional.cross_entropy:
//   loss_i = (1 - ε) · (−log p_i[t_i]) + ε · (−(1/C) Σ_c log p_i[c])
// averaged over the targets that are not ignored (NaN when every target is ignored, as in
// PyTorch). The backward is the closed form p − (1 − ε)·onehot(t) − ε/C per row. Both passes
// run in kernels::cross_entropy_rows / cross_entropy_backward_rows, which keep only each row's
// maximum and log-sum-exp: the [N, C] log-probabilities are never stored.
#include <algorithm>
#include <cmath>
#include <limits>

#include "attn/kernels/vector_ops.h"
#include "attn/ops/functional.h"
#include "internal.h"

namespace attn::ops {

using autograd::record;
using namespace internal;

namespace {

struct CrossEntropyProblem {
  Tensor logits;   // [N, C], contiguous
  Tensor targets;  // [N], int64, contiguous
  std::int64_t rows = 0;
  std::int64_t classes = 0;
};

CrossEntropyProblem check_cross_entropy(const Tensor& logits, const Tensor& targets,
                                        const CrossEntropyOptions& options) {
  check_defined(logits, "cross_entropy", "logits");
  check_defined(targets, "cross_entropy", "targets");
  ATTN_CHECK(targets.dtype() == DType::Int64, "cross_entropy: targets must be int64 class indices, got ",
             targets.describe());
  bool batched = logits.dim() == 2 && targets.dim() == 1 && targets.shape()[0] == logits.shape()[0];
  bool single = logits.dim() == 1 && targets.dim() == 0;
  ATTN_CHECK(batched || single, "cross_entropy: expected logits [N, C] with targets [N] (or [C] with []), got ",
             logits.describe(), " and ", targets.describe());
  ATTN_CHECK(options.label_smoothing >= 0.0 && options.label_smoothing <= 1.0,
             "cross_entropy: label_smoothing must be in [0, 1], got ", options.label_smoothing);
  CrossEntropyProblem problem;
  problem.classes = logits.shape().back();
  problem.rows = single ? 1 : logits.shape()[0];
  problem.logits = logits.contiguous();
  problem.targets = targets.contiguous();
  const std::int64_t* target = problem.targets.data<std::int64_t>();
  for (std::int64_t i = 0; i < problem.rows; ++i) {
    ATTN_CHECK(target[i] == options.ignore_index || (target[i] >= 0 && target[i] < problem.classes),
               "cross_entropy: target ", target[i], " at position ", i, " is out of range for ",
               problem.classes, " classes");
  }
  return problem;
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& targets,
                     const CrossEntropyOptions& options) {
  CrossEntropyProblem problem = check_cross_entropy(logits, targets, options);
  const std::int64_t rows = problem.rows, classes = problem.classes;
  const double smoothing = options.label_smoothing;
  const std::int64_t ignore_index = options.ignore_index;
  // One loss, maximum and log-sum-exp per row; the log-probabilities are never stored.
  Tensor per_row = Tensor::empty({rows}, logits.dtype());
  Tensor row_max = Tensor::empty({rows}, logits.dtype());
  Tensor log_total = Tensor::empty({rows}, logits.dtype());
  const std::int64_t* target = problem.targets.data<std::int64_t>();
  dispatch_floating(logits.dtype(), "cross_entropy", [&](auto tag) {
    using T = decltype(tag);
    kernels::cross_entropy_rows<T>(problem.logits.data<T>(), target, per_row.data<T>(),
                                   row_max.data<T>(), log_total.data<T>(), rows, classes,
                                   ignore_index, smoothing);
  });
  const std::int64_t counted =
      std::count_if(target, target + rows, [&](std::int64_t t) { return t != ignore_index; });
  Tensor loss;
  double scale = 1.0;
  if (options.reduction == Reduction::None) {
    loss = logits.dim() == 1 ? per_row.as_strided({}, {}, 0) : per_row;
  } else {
    scale = options.reduction == Reduction::Mean
                ? (counted > 0 ? 1.0 / double(counted) : std::numeric_limits<double>::quiet_NaN())
                : 1.0;
    double total = 0.0;
    for (double value : per_row.to_vector<double>()) total += value;
    loss = Tensor::full({}, total * scale, logits.dtype());
  }
  const Reduction reduction = options.reduction;
  Tensor saved_logits = problem.logits.detach(), saved_targets = problem.targets;
  Shape logits_shape = logits.shape();
  return record(loss, "cross_entropy", {logits}, [=](const Tensor& gradient) {
    // d loss / d logit_c = weight · (p_c − smoothing / C − [c = target] (1 − smoothing)),
    // with weight the upstream gradient of the row (times 1/count for the mean).
    Tensor upstream = gradient.to(DType::Float64).contiguous();
    const bool per_row_weights = reduction == Reduction::None;
    const double shared_weight = per_row_weights ? 0.0 : upstream.data<double>()[0] * scale;
    Tensor grad_logits = Tensor::empty({rows, classes}, saved_logits.dtype());
    dispatch_floating(saved_logits.dtype(), "cross_entropy", [&](auto tag) {
      using T = decltype(tag);
      kernels::cross_entropy_backward_rows<T>(
          saved_logits.data<T>(), saved_targets.data<std::int64_t>(), row_max.data<T>(),
          log_total.data<T>(), per_row_weights ? upstream.data<double>() : &shared_weight,
          per_row_weights ? 1 : 0, grad_logits.data<T>(), rows, classes, ignore_index, smoothing);
    });
    return std::vector<Tensor>{
        grad_logits.as_strided(logits_shape, contiguous_strides(logits_shape), 0)};
  });
}

}  // namespace attn::ops
