// `attn demo`: trains a small bidirectional-GRU classifier on a toy task (is the majority of
// a random bit string ones?) and prints the loss as it falls, then the held-out accuracy.
#include <chrono>
#include <cstdio>
#include <iostream>

#include "attn/autograd/grad_mode.h"
#include "attn/core/parallel.h"
#include "attn/core/random.h"
#include "attn/nn/nn.h"
#include "attn/ops/ops.h"
#include "attn/optim/adam.h"
#include "attn/optim/clip.h"
#include "commands.h"

namespace attn::cli {
namespace {

struct DemoOptions {
  int steps = 200;
  int batch_size = 64;
  int sequence_length = 11;
  std::uint64_t seed = 1;
  int threads = 2;
};

class MajorityClassifier : public nn::Module {
 public:
  MajorityClassifier()
      : embedding_(register_module("embedding", std::make_shared<nn::Embedding>(2, 16))),
        encoder_(register_module("encoder", std::make_shared<nn::GRU>(nn::RNNOptions{
                                                .input_size = 16, .hidden_size = 32,
                                                .bidirectional = true}))),
        classifier_(register_module("classifier", std::make_shared<nn::Linear>(64, 2))) {}

  // tokens int64 [T, B] -> logits [B, 2]
  Tensor forward(const Tensor& tokens) const {
    Tensor states = encoder_->forward(embedding_->forward(tokens)).output;  // [T, B, 64]
    return classifier_->forward(ops::mean(states, {0}));
  }

 private:
  std::shared_ptr<nn::Embedding> embedding_;
  std::shared_ptr<nn::GRU> encoder_;
  std::shared_ptr<nn::Linear> classifier_;
};

struct Batch {
  Tensor tokens;  // int64 [T, B]
  Tensor labels;  // int64 [B]
};

Batch make_batch(const DemoOptions& options, std::uint64_t batch_index) {
  std::int64_t length = options.sequence_length, size = options.batch_size;
  std::vector<std::int64_t> tokens(length * size), labels(size);
  for (std::int64_t b = 0; b < size; ++b) {
    std::int64_t ones = 0;
    for (std::int64_t t = 0; t < length; ++t) {
      float draw = philox_uniform(options.seed + 1000, batch_index * length * size, t * size + b);
      tokens[t * size + b] = draw < 0.5f ? 1 : 0;
      ones += tokens[t * size + b];
    }
    labels[b] = 2 * ones > length ? 1 : 0;
  }
  return {Tensor::from_vector<std::int64_t>({length, size}, tokens),
          Tensor::from_vector<std::int64_t>({size}, labels)};
}

double accuracy(const MajorityClassifier& model, const Batch& batch) {
  NoGradGuard no_grad;
  std::vector<std::int64_t> predicted = ops::argmax(model.forward(batch.tokens), 1).to_vector<std::int64_t>();
  std::vector<std::int64_t> expected = batch.labels.to_vector<std::int64_t>();
  std::int64_t correct = 0;
  for (std::size_t i = 0; i < predicted.size(); ++i) correct += predicted[i] == expected[i];
  return double(correct) / double(predicted.size());
}

void run_demo(const DemoOptions& options) {
  set_num_threads(options.threads);
  manual_seed(options.seed);
  MajorityClassifier model;
  optim::Adam optimizer(model.parameters(), {.learning_rate = 1e-2});
  std::printf("attn demo: BiGRU classifier (%lld parameters), 'majority of %d bits', %d steps\n",
              static_cast<long long>(model.num_parameters()), options.sequence_length, options.steps);
  auto start = std::chrono::steady_clock::now();
  for (int step = 1; step <= options.steps; ++step) {
    Batch batch = make_batch(options, step);
    Tensor loss = ops::cross_entropy(model.forward(batch.tokens), batch.labels);
    optimizer.zero_grad();
    loss.backward();
    optim::clip_grad_norm(model.parameters(), 1.0);
    optimizer.step();
    if (step % 25 == 0 || step == 1) std::printf("step %4d  loss %.4f\n", step, loss.item<double>());
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Batch held_out = make_batch(options, 1u << 30);
  std::printf("held-out accuracy %.3f  (%.1f s)\n", accuracy(model, held_out), seconds);
}

}  // namespace

int run_guarded(const std::function<void()>& body) {
  try {
    body();
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "attn: " << error.what() << "\n";
    return 1;
  }
}

void add_demo_command(CLI::App& app) {
  auto options = std::make_shared<DemoOptions>();
  CLI::App* demo = app.add_subcommand("demo", "train a tiny BiGRU classifier on a toy task");
  demo->add_option("--steps", options->steps, "training steps")->check(CLI::PositiveNumber);
  demo->add_option("--batch-size", options->batch_size, "sequences per step")->check(CLI::PositiveNumber);
  demo->add_option("--seed", options->seed, "random seed");
  demo->add_option("--threads", options->threads, "CPU threads")->check(CLI::PositiveNumber);
  demo->callback([options] {
    int status = run_guarded([&] { run_demo(*options); });
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace attn::cli
