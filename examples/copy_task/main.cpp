// Trains a small Transformer to copy strings of digits, then copies one by greedy decoding.
#include <cstdio>
#include <vector>

#include "attn/core/random.h"
#include "attn/decode/search.h"
#include "attn/models/transformer.h"
#include "attn/ops/ops.h"
#include "attn/optim/adam.h"

using namespace attn;
constexpr std::int64_t kBos = 2, kEos = 3, kDigits = 10, kLength = 8, kBatch = 64;

// Random digit strings (ids 4..13) as source + </s>, <s> + target, target + </s>.
struct Batch { Tensor source, target_in, target_out; };
Batch make_batch(std::uint64_t step) {
  std::vector<std::int64_t> source, target_in, target_out;
  for (std::int64_t row = 0; row < kBatch; ++row) {
    target_in.push_back(kBos);
    for (std::int64_t i = 0; i < kLength; ++i) {
      auto digit = 4 + std::int64_t(philox_uniform(7, step, row * kLength + i) * kDigits);
      source.push_back(digit), target_in.push_back(digit), target_out.push_back(digit);
    }
    source.push_back(kEos), target_out.push_back(kEos);
  }
  return {Tensor::from_vector<std::int64_t>({kBatch, kLength + 1}, source),
          Tensor::from_vector<std::int64_t>({kBatch, kLength + 1}, target_in),
          Tensor::from_vector<std::int64_t>({kBatch, kLength + 1}, target_out)};
}

int main() {
  manual_seed(1);
  models::TransformerOptions options;
  options.source_vocab_size = options.target_vocab_size = 4 + kDigits;
  options.d_model = 64, options.num_heads = 4, options.d_ff = 128, options.dropout = 0.0;
  options.encoder_layers = options.decoder_layers = 2, options.max_length = 16;
  options.norm = models::NormPlacement::Pre;
  models::Transformer model(options);
  optim::Adam optimizer(model.parameters(), {.learning_rate = 3e-3});
  for (int step = 1; step <= 200; ++step) {
    Batch batch = make_batch(step);
    Tensor logits = model.forward(batch.source, batch.target_in);  // [B, T, V]
    Tensor loss = ops::cross_entropy(ops::reshape(logits, {-1, 4 + kDigits}),
                                     ops::reshape(batch.target_out, {-1}));
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    if (step % 50 == 0) std::printf("step %d  loss %.4f\n", step, loss.item<double>());
  }
  model.eval();
  Batch test = make_batch(100000);
  auto copies = decode::greedy(*model.start_decoding(test.source), kBos, kEos, kLength + 1);
  std::vector<std::int64_t> source = test.source.to_vector<std::int64_t>();
  bool equal = copies[0].tokens == std::vector<std::int64_t>(source.begin(), source.begin() + kLength);
  for (std::int64_t token : copies[0].tokens) std::printf("%lld", (long long)token - 4);
  std::printf(equal ? "  (the source, copied)\n" : "  (not the source)\n");
  return equal ? 0 : 1;
}
