// Fused attention kernels (include/attn/kernels/flash_attention.h) against their scalar
// reference, forward and backward, with 1 and 2 threads, next to the machine's fp32 FMA peak
// measured in the same run.
//
// FLOPs are counted as FlashAttention counts them: forward 4·B·H·Nq·Nk·d, halved when
// causal; backward 2.5 times the forward. Names: kernel/implementation/shape/causal/threads.
// Counters:
//   GFLOP/s          FLOPs per second of real (wall) time
//   peak_fraction    GFLOP/s over the best FMA peak measured earlier in this run for the same
//                    thread count
//   per_core_GFLOP/s FLOPs per second of this process's CPU time: the rate while it actually
//                    ran, which other processes on a shared machine distort far less than the
//                    wall-clock rate (OpenMP threads waiting at a barrier count as busy)
//   other_cpus       CPU time used by other processes during the benchmark, in cores
// The scalar reference runs only on the small shapes (it takes minutes on the others).
//
// Memory mode, instead of the benchmarks:
//   bench_attention --memory=N [--head-dim=D] [--additive]
// runs one head of N queries and N keys forward and backward once and prints the peak
// resident memory beyond the inputs and outputs (the kernels' workspace), from getrusage.
//
// Run with repetitions, e.g.
//   bench_attention --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <immintrin.h>
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "attn/kernels/flash_attention.h"
#include "attn/kernels/flash_attention_reference.h"

#include "bench_support.h"

namespace {

namespace kernels = attn::kernels;
using Index = std::int64_t;
using Clock = std::chrono::steady_clock;

using attn::bench::LoadMeter;

// ---- FMA peak (bench_support.h) ------------------------------------------------------------

using attn::bench::fma_peak_avx512;
constexpr double kFlopsPerStep = attn::bench::kFmaFlopsPerStep;

std::map<int, double> best_peak_gflops;  // by thread count, filled by BM_FmaPeak

void BM_FmaPeak(benchmark::State& state, int threads) {
  if (!__builtin_cpu_supports("avx512f")) {
    state.SkipWithError("the FMA peak loop needs AVX-512");
    return;
  }
  // About 16 ms per thread: long enough that a thread descheduled by another process for a
  // moment (the machine is shared) costs little at the barrier.
  constexpr Index kSteps = 1 << 20;
  float sink = 0;
  const LoadMeter meter;
  for (auto _ : state) {
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    sink += fma_peak_avx512(kSteps, 1.0f + float(omp_get_thread_num()));
  }
  benchmark::DoNotOptimize(sink);
  const double flops = kFlopsPerStep * double(kSteps) * threads;
  const double gflops = flops * double(state.iterations()) / meter.seconds() / 1e9;
  best_peak_gflops[threads] = std::max(best_peak_gflops[threads], gflops);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["other_cpus"] = meter.other_cpus();
}

// ---- problems -------------------------------------------------------------------------------

struct Shape {
  std::string name;
  Index batch, heads, queries, keys, head_dim;
  bool reference;  // small enough for the scalar reference
};

// The shapes of the issue: B1 H8 N{512, 2048, 4096} d64, B8 H8 N512 d64, B1 H16 N2048 d128,
// and decoding (one query against 4096 cached keys).
const std::vector<Shape> kShapes = {
    {"B1_H8_N512_d64", 1, 8, 512, 512, 64, true},
    {"B1_H8_N2048_d64", 1, 8, 2048, 2048, 64, false},
    {"B1_H8_N4096_d64", 1, 8, 4096, 4096, 64, false},
    {"B8_H8_N512_d64", 8, 8, 512, 512, 64, false},
    {"B1_H16_N2048_d128", 1, 16, 2048, 2048, 128, false},
    {"decode_B1_H8_Nq1_Nk4096_d64", 1, 8, 1, 4096, 64, true},
};

double forward_flops(const Shape& shape, bool causal) {
  const double flops = 4.0 * double(shape.batch * shape.heads) * double(shape.queries) *
                       double(shape.keys) * double(shape.head_dim);
  return causal ? flops / 2 : flops;
}

// Contiguous [B, H, N, d] inputs with random values, the forward's outputs and the gradients.
struct Problem {
  std::vector<float> q, k, v, v_a, grad_out, out, lse, grad_q, grad_k, grad_v, grad_v_a;
  kernels::FlashAttentionParams<float> params;

  Problem(Index batch, Index heads, Index queries, Index keys, Index head_dim, bool causal,
          kernels::FlashScore score = kernels::FlashScore::Dot) {
    const Index slices = batch * heads;
    q = random_values(slices * queries * head_dim, 1);
    k = random_values(slices * keys * head_dim, 2);
    v = random_values(slices * keys * head_dim, 3);
    v_a = random_values(head_dim, 4);
    grad_out = random_values(slices * queries * head_dim, 5);
    out.resize(q.size());
    lse.resize(std::size_t(slices * queries));
    grad_q.resize(q.size());
    grad_k.resize(k.size());
    grad_v.resize(v.size());
    grad_v_a.resize(v_a.size());
    params.batch = batch;
    params.heads = heads;
    params.queries = queries;
    params.keys = keys;
    params.head_dim = params.value_dim = head_dim;
    params.score = score;
    params.scale = 1.0 / std::sqrt(double(head_dim));
    params.q = q.data();
    params.k = k.data();
    params.v = v.data();
    params.v_a = v_a.data();
    set_strides(params.q_strides, heads, queries, head_dim);
    set_strides(params.k_strides, heads, keys, head_dim);
    set_strides(params.v_strides, heads, keys, head_dim);
    params.mask.causal = causal;
  }

  kernels::FlashAttentionOutputs<float> outputs() { return {out.data(), lse.data()}; }
  kernels::FlashAttentionGradients<float> gradients() {
    return {out.data(),    lse.data(),    grad_out.data(), grad_q.data(),
            grad_k.data(), grad_v.data(), grad_v_a.data()};
  }

 private:
  static std::vector<float> random_values(Index count, std::uint32_t seed) {
    std::mt19937 generator(seed);
    std::normal_distribution<float> normal;
    std::vector<float> values(static_cast<std::size_t>(count));
    for (float& value : values) value = normal(generator);
    return values;
  }
  static void set_strides(std::int64_t (&strides)[4], Index heads, Index rows, Index cols) {
    strides[0] = heads * rows * cols;
    strides[1] = rows * cols;
    strides[2] = cols;
    strides[3] = 1;
  }
};

// ---- benchmarks -----------------------------------------------------------------------------

enum class Pass { Forward, Backward };
enum class Impl { Fused, Reference };

void run_pass(Problem& problem, Pass pass, Impl impl) {
  if (pass == Pass::Forward) {
    if (impl == Impl::Fused) {
      kernels::flash_attention_forward(problem.params, problem.outputs());
    } else {
      kernels::reference::flash_attention_forward(problem.params, problem.outputs());
    }
  } else {
    if (impl == Impl::Fused) {
      kernels::flash_attention_backward(problem.params, problem.gradients());
    } else {
      kernels::reference::flash_attention_backward(problem.params, problem.gradients());
    }
  }
}

void bench_attention(benchmark::State& state, Shape shape, bool causal, Pass pass, Impl impl,
                     int threads) {
  omp_set_num_threads(threads);
  Problem problem(shape.batch, shape.heads, shape.queries, shape.keys, shape.head_dim, causal);
  kernels::flash_attention_forward(problem.params, problem.outputs());  // the backward's input
  run_pass(problem, pass, impl);  // warm-up: pages, thread pools
  const LoadMeter meter;
  for (auto _ : state) {
    run_pass(problem, pass, impl);
    benchmark::ClobberMemory();
  }
  const double flops = forward_flops(shape, causal) * (pass == Pass::Backward ? 2.5 : 1.0);
  const double total = flops * double(state.iterations());
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  const auto peak = best_peak_gflops.find(threads);
  if (peak != best_peak_gflops.end())
    state.counters["peak_fraction"] = total / meter.seconds() / 1e9 / peak->second;
  state.counters["per_core_GFLOP/s"] = total / meter.process_seconds() / 1e9;
  state.counters["other_cpus"] = meter.other_cpus();
}

double maximum(const std::vector<double>& values) {
  return values.empty() ? 0.0 : *std::max_element(values.begin(), values.end());
}

void register_benchmarks() {
  for (int threads : {1, 2}) {
    benchmark::RegisterBenchmark(("fma_peak/threads:" + std::to_string(threads)).c_str(),
                                 BM_FmaPeak, threads)
        ->UseRealTime()
        ->ComputeStatistics("max", maximum);
  }
  for (const Shape& shape : kShapes) {
    for (const bool causal : {false, true}) {
      for (const Pass pass : {Pass::Forward, Pass::Backward}) {
        for (const Impl impl : {Impl::Fused, Impl::Reference}) {
          if (impl == Impl::Reference && !shape.reference) continue;
          for (const int threads : {1, 2}) {
            if (impl == Impl::Reference && threads == 2) continue;  // single-threaded
            const std::string name = std::string(pass == Pass::Forward ? "forward" : "backward") +
                                     "/" + (impl == Impl::Fused ? "fused" : "reference") + "/" +
                                     shape.name + (causal ? "/causal" : "/full") +
                                     "/threads:" + std::to_string(threads);
            benchmark::RegisterBenchmark(name.c_str(), bench_attention, shape, causal, pass, impl,
                                         threads)
                ->UseRealTime()
                ->Unit(benchmark::kMillisecond)
                ->MinTime(impl == Impl::Reference ? 0.01 : 0.5)
                ->ComputeStatistics("max", maximum);
          }
        }
      }
    }
  }
}

// ---- memory mode ----------------------------------------------------------------------------

double peak_resident_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;  // kilobytes on Linux
}

// One head, forward then backward; the workspace is the growth of the peak resident memory
// once every input and output has been touched.
int measure_memory(Index n, Index head_dim, bool additive) {
  Problem problem(1, 1, n, n, head_dim, /*causal=*/false,
                  additive ? kernels::FlashScore::Additive : kernels::FlashScore::Dot);
  for (auto* buffer :
       {&problem.out, &problem.lse, &problem.grad_q, &problem.grad_k, &problem.grad_v}) {
    std::fill(buffer->begin(), buffer->end(), 0.0f);
  }
  const double inputs_and_outputs = peak_resident_mib();
  const auto start = Clock::now();
  kernels::flash_attention_forward(problem.params, problem.outputs());
  const double after_forward = peak_resident_mib();
  kernels::flash_attention_backward(problem.params, problem.gradients());
  const double after_backward = peak_resident_mib();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf(
      "%s N=%lld head_dim=%lld threads=%d: peak resident %.1f MiB with inputs and outputs, "
      "workspace %.1f MiB (forward %.1f MiB), forward+backward %.1f s\n",
      additive ? "additive" : "dot", (long long)n, (long long)head_dim, omp_get_max_threads(),
      after_backward, after_backward - inputs_and_outputs, after_forward - inputs_and_outputs,
      seconds);
  return 0;
}

// --memory=N [--head-dim=D] [--additive]; returns false when not in memory mode.
bool memory_mode(int argc, char** argv, int& status) {
  Index n = 0, head_dim = 64;
  bool additive = false;
  for (int index = 1; index < argc; ++index) {
    const std::string argument = argv[index];
    if (argument.rfind("--memory=", 0) == 0) n = std::stoll(argument.substr(9));
    if (argument.rfind("--head-dim=", 0) == 0) head_dim = std::stoll(argument.substr(11));
    if (argument == "--additive") additive = true;
  }
  if (n <= 0) return false;
  status = measure_memory(n, head_dim, additive);
  return true;
}

void add_context() {
  for (const char* variable :
       {"OMP_PROC_BIND", "OMP_PLACES", "OMP_WAIT_POLICY", "OMP_NUM_THREADS"}) {
    const char* value = std::getenv(variable);
    benchmark::AddCustomContext(variable, value ? value : "(unset)");
  }
}

}  // namespace

int main(int argc, char** argv) {
  int status = 0;
  if (memory_mode(argc, argv, status)) return status;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  add_context();
  register_benchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
