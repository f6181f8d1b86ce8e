// A pretrained encoder's forward pass (all-MiniLM-L6-v2, the folder scripts/setup.sh
// installs, or ATTN_MINILM_DIR): a batch of 32 texts of 128 tokens (throughput) and one
// sentence of 16 tokens (latency), on 1 and 2 threads, tokenization left out; and the batch
// again while an AttentionCapture records every layer for display, with and without
// recomputing the maps. bench/compare_pretrained.sh runs it beside PyTorch (eager and SDPA)
// and ONNX Runtime on the same shapes (tools/bench_pretrained_torch.py).
//
// Counters: tokens/s (real tokens through the encoder per wall second), other_cpus (cores
// other processes kept busy: numbers taken under load are not comparable).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "attn/autograd/grad_mode.h"
#include "attn/core/parallel.h"
#include "attn/models/pretrained.h"
#include "attn/nn/attention_capture.h"
#include "bench_support.h"

namespace {

using attn::Tensor;

std::string model_directory() {
  const char* variable = std::getenv("ATTN_MINILM_DIR");
  return variable != nullptr && *variable != '\0' ? variable : ATTN_MINILM_DIR;
}

const attn::models::PretrainedEncoder& model() {
  static const auto loaded = attn::models::load_pretrained(model_directory());
  return *loaded;
}

// Ids of real words ([CLS] w ... w [SEP]), no padding: the shapes tools/bench_pretrained_torch.py
// builds the same way.
attn::models::TokenBatch batch_of(std::int64_t batch, std::int64_t length) {
  attn::models::TokenBatch tokens;
  tokens.ids = Tensor::empty({batch, length}, attn::DType::Int64);
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t i = 0; i < length; ++i) {
      const std::int64_t id = i == 0 ? 101 : i == length - 1 ? 102 : 2000 + (b * 131 + i * 7) % 20000;
      tokens.ids.data<std::int64_t>()[b * length + i] = id;
    }
  }
  tokens.type_ids = Tensor::zeros({batch, length}, attn::DType::Int64);
  tokens.padding = Tensor::zeros({batch, length}, attn::DType::Bool);
  return tokens;
}

enum class Capture { Off, Record, RecordAndMaps };

void bench_forward(benchmark::State& state, std::int64_t batch, std::int64_t length, int threads,
                   Capture capture) {
  attn::set_num_threads(threads);
  const attn::models::TokenBatch tokens = batch_of(batch, length);
  attn::NoGradGuard no_grad;
  const auto run = [&] {
    if (capture == Capture::Off) {
      benchmark::DoNotOptimize(model().hidden_states(tokens));
      return;
    }
    attn::nn::AttentionCapture recorder;
    benchmark::DoNotOptimize(model().hidden_states(tokens));
    if (capture == Capture::RecordAndMaps) {
      for (const auto& entry : recorder.entries()) benchmark::DoNotOptimize(entry.weights());
    }
  };
  run();  // warm-up: pages, thread pools
  const attn::bench::LoadMeter meter;
  for (auto _ : state) run();
  state.counters["tokens/s"] = benchmark::Counter(double(batch * length),
                                                  benchmark::Counter::kIsIterationInvariantRate);
  state.counters["other_cpus"] = meter.other_cpus();
}

void register_benchmarks() {
  struct Shape {
    const char* name;
    std::int64_t batch, length;
  };
  for (const Shape& shape : {Shape{"batch32x128", 32, 128}, Shape{"single16", 1, 16}}) {
    for (int threads : {1, 2}) {
      for (Capture capture : {Capture::Off, Capture::Record, Capture::RecordAndMaps}) {
        if (capture != Capture::Off && shape.batch == 1) continue;
        const char* capture_name = capture == Capture::Off        ? "plain"
                                   : capture == Capture::Record   ? "capture"
                                                                  : "capture+maps";
        const std::string name = std::string("forward/") + shape.name + "/" + capture_name +
                                 "/threads:" + std::to_string(threads);
        benchmark::RegisterBenchmark(name.c_str(), bench_forward, shape.batch, shape.length,
                                     threads, capture)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond)
            ->MinTime(shape.batch == 1 ? 0.5 : 2.0);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_benchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
