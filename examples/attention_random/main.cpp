// Attention on random tensors: the same call through the readable reference and the fused
// kernel, the weights recomputed from the log-sum-exp, and a gradient.
#include <cstdio>

#include "attn/core/random.h"
#include "attn/nn/init.h"
#include "attn/ops/attention.h"
#include "attn/ops/ops.h"

// A tensor of standard normal values.
attn::Tensor random_normal(const attn::Shape& shape) {
  attn::Tensor tensor = attn::Tensor::empty(shape);
  attn::nn::init::normal_(tensor, 0.0, 1.0);
  return tensor;
}

int main() {
  using namespace attn;
  manual_seed(0);
  // q [B, H, Nq, d], k and v [B, H, Nk, d]: 2 sentences, 4 heads, 5 queries, 7 keys.
  Tensor q = random_normal({2, 4, 5, 16}).set_requires_grad(true);
  Tensor k = random_normal({2, 4, 7, 16});
  Tensor v = random_normal({2, 4, 7, 16});

  ops::AttentionOptions options;  // scaled dot product, 1/sqrt(d)
  options.mask.causal = true;     // query i sees keys j <= i + (Nk - Nq)
  options.need_weights = true;
  options.impl = ops::AttentionImpl::Reference;
  ops::AttentionResult reference = ops::attention(q, k, v, options);
  options.impl = ops::AttentionImpl::Fused;
  ops::AttentionResult fused = ops::attention(q, k, v, options);

  Tensor error = reference.out - fused.out;
  double difference = ops::max(ops::reshape(error * error, {-1}), 0).item<double>();
  std::printf("out %s, largest squared difference reference vs fused: %.2e\n",
              to_string(fused.out.shape()).c_str(), difference);
  // Row 0 of head 0 of sentence 0: it may attend to keys 0..2 only.
  std::printf("weights of query 0:");
  Tensor row = ops::select(ops::select(ops::select(fused.weights, 0, 0), 0, 0), 0, 0);
  for (float weight : row.contiguous().to_vector<float>()) std::printf(" %.3f", weight);
  std::printf("\n");

  ops::sum(fused.out).backward();
  std::printf("gradient of q: %s, its sum %.4f\n", to_string(q.grad().shape()).c_str(),
              ops::sum(q.grad()).item<double>());
  return difference < 1e-10 ? 0 : 1;
}
