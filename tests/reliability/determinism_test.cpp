// Determinism: the same seed and thread count give bit-identical losses and weights, for a
// Transformer language model (GEMM, fused attention, layer norm, dropout, AdamW) and a BiGRU
// attention classifier (recurrent cells, additive attention pooling). Each is trained twice
// in this process with train::Trainer and compared byte for byte.
//
// With another thread count the row kernels and the attention kernels still give the same
// bits (their reductions use fixed chunks), and so, as measured, does GEMM as attn shares it
// out (whole rows or columns of C per oneDNN call). The last two tests pin that for whole
// training runs and for the kernels; docs/RELIABILITY.md says what is and is not promised.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attn/core/parallel.h"
#include "attn/core/random.h"
#include "attn/data/text_files.h"
#include "attn/ops/attention.h"
#include "attn/ops/functional.h"
#include "attn/ops/ops.h"
#include "attn/optim/adam.h"
#include "attn/tasks/registry.h"
#include "attn/train/trainer.h"
#include "support/temporary_directory.h"

namespace attn {
namespace {

namespace fs = std::filesystem;
using attn::testing::TemporaryDirectory;

// Restores the process's thread count when a test ends.
class ThreadCountGuard {
 public:
  ThreadCountGuard() : saved_(get_num_threads()) {}
  ~ThreadCountGuard() { set_num_threads(saved_); }
  ThreadCountGuard(const ThreadCountGuard&) = delete;
  ThreadCountGuard& operator=(const ThreadCountGuard&) = delete;

 private:
  int saved_;
};

std::vector<std::string> sentences(std::uint32_t seed, int count) {
  const std::vector<std::string> words = {"the", "cat", "sat", "on", "a", "mat", "dog", "ran",
                                          "to", "park", "bird", "tree", "red", "blue", "green"};
  std::mt19937 engine(seed);
  std::vector<std::string> result;
  for (int i = 0; i < count; ++i) {
    std::string sentence;
    for (int w = 0, n = 4 + static_cast<int>(engine() % 8); w < n; ++w)
      sentence += (w ? " " : "") + words[engine() % words.size()];
    result.push_back(sentence);
  }
  return result;
}

std::string language_model_config(const fs::path& data) {
  data::write_lines((data / "train.txt").string(), sentences(1, 60));
  data::write_lines((data / "valid.txt").string(), sentences(2, 6));
  std::ostringstream toml;
  toml << "[task]\nkind = \"language_model\"\n"
       << "[data]\nsource = \"text\"\ndir = \"" << data.string() << "\"\n"
       << "context_length = 32\nbatch_size = 6\n"
       << "[tokenizer]\nkind = \"char\"\nvocab_size = 0\n"
       << "[model.transformer]\nd_model = 32\nnum_heads = 4\nd_ff = 64\nnum_layers = 2\n"
       << "dropout = 0.1\n"
       << "[train]\noptimizer = \"adamw\"\nlearning_rate = 0.003\nmax_steps = 12\n"
       << "weight_decay = 0.01\nclip_grad_norm = 1.0\n";
  return toml.str();
}

std::string classifier_config(const fs::path& data) {
  const std::vector<std::string> colours = {"red", "blue", "green"};
  for (const auto& [split, seed] : {std::pair{"train", 3u}, std::pair{"valid", 4u}}) {
    std::vector<data::LabeledText> examples;
    std::mt19937 engine(seed);
    for (const std::string& sentence : sentences(seed, 48)) {
      auto label = static_cast<std::int64_t>(engine() % 3);
      examples.push_back({label, sentence + " " + colours[static_cast<std::size_t>(label)]});
    }
    data::write_labeled_tsv((data / (std::string(split) + ".tsv")).string(), examples);
  }
  std::ostringstream toml;
  toml << "[task]\nkind = \"classification\"\n"
       << "[data]\nsource = \"tsv\"\ndir = \"" << data.string() << "\"\nbatch_size = 8\n"
       << "[tokenizer]\nkind = \"word\"\nvocab_size = 0\n"
       << "[model.bigru]\nembedding_size = 16\nhidden_size = 16\nattention_size = 8\n"
       << "[train]\nlearning_rate = 0.01\nmax_steps = 12\n";
  return toml.str();
}

struct Outcome {
  std::vector<double> losses;  // per step, from the metrics log (17 significant digits)
  std::map<std::string, std::vector<std::uint8_t>> weights;
};

Outcome train_once(const std::string& toml, const std::string& kind, const fs::path& run_dir,
                   int threads) {
  train::Config config = train::Config::parse(toml, tasks::task_schema(kind));
  config.apply_overrides({"train.run_dir=" + run_dir.string(), "train.progress=none",
                          "train.log_every=1", "train.threads=" + std::to_string(threads),
                          "train.seed=9"});
  manual_seed(9);
  std::ostringstream log;
  std::unique_ptr<train::Task> task = tasks::make_task(kind, config, false, log);
  train::TrainerOptions options = train::trainer_options(config);
  train::Trainer(*task, options).fit();

  Outcome outcome;
  std::ifstream metrics(run_dir / "metrics.jsonl");
  for (std::string line; std::getline(metrics, line);) {
    nlohmann::json record = nlohmann::json::parse(line);
    if (record["type"] == "train") outcome.losses.push_back(record["loss"].get<double>());
  }
  for (const auto& [name, tensor] : task->model().state_dict()) {
    Tensor contiguous = tensor.contiguous();
    const auto* begin = static_cast<const std::uint8_t*>(contiguous.raw_data());
    outcome.weights[name] = {begin, begin + contiguous.numel() * dtype_size(contiguous.dtype())};
  }
  return outcome;
}

// Trains twice, with `first_threads` and then `second_threads`.
void expect_identical_runs(const std::string& kind, std::string (*make_config)(const fs::path&),
                           int first_threads, int second_threads) {
  ThreadCountGuard guard;
  TemporaryDirectory directory("attn_determinism");
  fs::create_directories(directory.path() / "data");
  const std::string toml = make_config(directory.path() / "data");
  Outcome first = train_once(toml, kind, directory.path() / "first", first_threads);
  Outcome second = train_once(toml, kind, directory.path() / "second", second_threads);
  ASSERT_EQ(first.losses.size(), 12u);
  EXPECT_EQ(first.losses, second.losses);  // exact: every bit of every step's loss
  EXPECT_EQ(first.weights, second.weights);
  EXPECT_LT(first.losses.back(), first.losses.front());  // it did train
}

TEST(Determinism, TransformerLanguageModelIsBitIdenticalForTheSameSeedAndThreads) {
  expect_identical_runs("language_model", language_model_config, 2, 2);
}

TEST(Determinism, BiGruClassifierIsBitIdenticalForTheSameSeedAndThreads) {
  expect_identical_runs("classification", classifier_config, 2, 2);
}

// Not a promise of oneDNN (docs/RELIABILITY.md): pinned so that a change shows up.
TEST(Determinism, OneAndThreeThreadsTrainTheSameBitsOnThisMachine) {
  expect_identical_runs("language_model", language_model_config, 1, 3);
  expect_identical_runs("classification", classifier_config, 1, 3);
}

// The kernels a training step spends its time in, on one thread and on two: row kernels
// (softmax, layer norm), both attention implementations forward and backward, and GEMM.
TEST(Determinism, KernelsGiveTheSameBitsWhateverTheThreadCount) {
  ThreadCountGuard guard;
  auto run = [](int threads) {
    set_num_threads(threads);
    std::vector<float> values(6 * 33 * 70);
    std::mt19937 engine(2);
    std::normal_distribution<float> normal;
    for (float& value : values) value = normal(engine);
    Tensor a = Tensor::from_vector<float>({6, 33, 70}, values);
    Tensor w = Tensor::from_vector<float>({70, 70}, std::vector<float>(values.begin(), values.begin() + 4900));
    a.set_requires_grad(true);
    std::vector<Tensor> results;
    results.push_back(ops::softmax(a, -1));
    results.push_back(ops::layer_norm(a, {70}, Tensor(), Tensor()));
    results.push_back(ops::matmul(a, w));
    // [6, 33, 64] -> [B 6, H 4, N 33, d 16]
    Tensor q = ops::permute(ops::reshape(ops::slice(a, 2, 0, 64), {6, 33, 4, 16}), {0, 2, 1, 3});
    for (ops::AttentionImpl impl : {ops::AttentionImpl::Reference, ops::AttentionImpl::Fused}) {
      ops::AttentionOptions options;
      options.impl = impl;
      options.mask.causal = true;
      results.push_back(ops::attention(q, q, q, options).out);
    }
    Tensor total = Tensor::zeros({});
    for (const Tensor& result : results) total = ops::add(total, ops::sum(ops::mul(result, result)));
    total.backward();
    results.push_back(a.grad());
    std::vector<std::vector<float>> flattened;
    for (const Tensor& result : results) flattened.push_back(result.to_vector<float>());
    return flattened;
  };
  std::vector<std::vector<float>> one = run(1);
  std::vector<std::vector<float>> two = run(2);
  ASSERT_EQ(one.size(), two.size());
  for (std::size_t i = 0; i < one.size(); ++i) {
    ASSERT_EQ(one[i].size(), two[i].size());
    EXPECT_EQ(std::memcmp(one[i].data(), two[i].data(), one[i].size() * sizeof(float)), 0)
        << "result " << i << " differs between 1 and 2 threads";
  }
}

// The optimizer's update is shared out over the elements of a large parameter; each element's
// arithmetic is its own, so the split must not change a bit (an odd size leaves a remainder).
TEST(Determinism, AdamWUpdatesGiveTheSameBitsWhateverTheThreadCount) {
  ThreadCountGuard guard;
  auto run = [](int threads) {
    set_num_threads(threads);
    const std::int64_t size = 100003;
    std::vector<float> values(size), gradient(size);
    std::mt19937 engine(5);
    std::normal_distribution<float> normal;
    for (float& value : values) value = normal(engine);
    Tensor parameter = Tensor::from_vector<float>({size}, values);
    parameter.set_requires_grad(true);
    optim::AdamOptions options;
    options.weight_decay = 0.01;
    optim::AdamW optimizer({parameter}, options);
    for (int step = 0; step < 3; ++step) {
      for (float& value : gradient) value = normal(engine);
      parameter.set_grad(Tensor::from_vector<float>({size}, gradient));
      optimizer.step();
    }
    return parameter.to_vector<float>();
  };
  const std::vector<float> one = run(1);
  for (int threads : {2, 3}) {
    const std::vector<float> other = run(threads);
    ASSERT_EQ(one.size(), other.size());
    EXPECT_EQ(std::memcmp(one.data(), other.data(), one.size() * sizeof(float)), 0)
        << "AdamW differs between 1 and " << threads << " threads";
  }
}

}  // namespace
}  // namespace attn

