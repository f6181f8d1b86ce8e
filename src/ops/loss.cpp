// Cross-entropy with ignore_index and label smoothing, as torch.nn.functional.cross_entropy:
//   loss_i = (1 - ε) · (−log p_i[t_i]) + ε · (−(1/C) Σ_c log p_i[c])
// averaged over the targets that are not ignored (NaN when every target is ignored, as in
// PyTorch). The backward is the closed form p − (1 − ε)·onehot(t) − ε/C per row.
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

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, const CrossEntropyOptions& options) {
  CrossEntropyProblem problem = check_cross_entropy(logits, targets, options);
  std::int64_t rows = problem.rows, classes = problem.classes;
  double smoothing = options.label_smoothing;
  Tensor log_probabilities = Tensor::empty({rows, classes}, logits.dtype());
  Tensor per_row = Tensor::empty({rows}, logits.dtype());
  std::int64_t counted = 0;
  const std::int64_t* target = problem.targets.data<std::int64_t>();
  dispatch_floating(logits.dtype(), "cross_entropy", [&](auto tag) {
    using T = decltype(tag);
    T* log_p = log_probabilities.data<T>();
    kernels::log_softmax_rows<T>(problem.logits.data<T>(), log_p, rows, classes);
    for (std::int64_t i = 0; i < rows; ++i) {
      if (target[i] == options.ignore_index) {
        per_row.data<T>()[i] = T(0);
        continue;
      }
      ++counted;
      T smooth = classes > 0 ? -kernels::sum<T>(log_p + i * classes, classes) / T(classes) : T(0);
      per_row.data<T>()[i] = T(1 - smoothing) * -log_p[i * classes + target[i]] + T(smoothing) * smooth;
    }
  });
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
  Reduction reduction = options.reduction;
  std::int64_t ignore_index = options.ignore_index;
  Tensor saved_log_p = log_probabilities.detach(), saved_targets = problem.targets;
  Shape logits_shape = logits.shape();
  return record(loss, "cross_entropy", {logits}, [=](const Tensor& gradient) {
    Tensor upstream = gradient.to(DType::Float64).contiguous();
    Tensor grad_logits = Tensor::empty({rows, classes}, saved_log_p.dtype());
    dispatch_floating(saved_log_p.dtype(), "cross_entropy", [&](auto tag) {
      using T = decltype(tag);
      const T* log_p = saved_log_p.data<T>();
      const std::int64_t* target = saved_targets.data<std::int64_t>();
      T* grad = grad_logits.data<T>();
      // d loss / d logit_c = weight · (p_c − smoothing / C − [c = target] (1 − smoothing)),
      // row by row: p = exp(log p) by the SIMD kernel, then one affine pass and one fix-up.
#pragma omp parallel for schedule(static) if (rows * classes > 65536)
      for (std::int64_t i = 0; i < rows; ++i) {
        T* row = grad + i * classes;
        if (target[i] == ignore_index) {
          std::fill(row, row + classes, T(0));
          continue;
        }
        const double weight = reduction == Reduction::None ? upstream.data<double>()[i]
                                                           : upstream.data<double>()[0] * scale;
        kernels::exp<T>(log_p + i * classes, row, classes);
        kernels::affine<T>(row, T(weight), T(-weight * smoothing / double(classes)), row, classes);
        row[target[i]] -= T(weight * (1.0 - smoothing));
      }
    });
    return std::vector<Tensor>{grad_logits.as_strided(logits_shape, contiguous_strides(logits_shape), 0)};
  });
}

}  // namespace attn::ops
