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
// The op level ("op_reference", "op_fused") calls ops::attention on tensors, as a model
// does: "op_reference" is attn's readable implementation (scores materialised, GEMM for QKᵀ
// and PV, row softmax), "op_fused" the fused kernels plus the op's bookkeeping. Its
// "forward+backward" pass builds the graph and runs the backward, so its FLOPs are 3.5
// times the forward's.
//
// Memory mode, instead of the benchmarks:
//   bench_attention --memory=N [--head-dim=D] [--additive] [--heads=H]
//                   [--op=reference|fused] [--forward-only]
// runs N queries and N keys forward and backward once and prints the peak resident memory
// beyond the inputs and outputs, from getrusage: the kernels' workspace, or with --op the
// whole op (its intermediates and what autograd keeps for the backward). --additive uses
// the additive score with attention size a = head_dim.
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
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "attn/autograd/grad_mode.h"
#include "attn/core/parallel.h"
#include "attn/core/tensor.h"
#include "attn/kernels/flash_attention.h"
#include "attn/kernels/flash_attention_reference.h"
#include "attn/ops/attention.h"

#include "bench_support.h"

namespace {

namespace kernels = attn::kernels;
using Index = std::int64_t;
using Clock = std::chrono::steady_clock;

using attn::bench::LoadMeter;

// ---- FMA peak (bench_support.h) ------------------------------------------------------------

// The loop of the SIMD target in use (ATTN_SIMD_TARGET may pin a lower one).
const attn::bench::FmaPeakLoop& fma_peak_loop() {
  static const attn::bench::FmaPeakLoop loop = attn::bench::fma_peak_loop();
  return loop;
}

std::map<int, double> best_peak_gflops;  // by thread count, filled by BM_FmaPeak

void BM_FmaPeak(benchmark::State& state, int threads) {
  const attn::bench::FmaPeakLoop& loop = fma_peak_loop();
  if (loop.run == nullptr) {
    const std::string message = "SIMD target " + loop.target + " has no FMA: no peak to measure";
    state.SkipWithError(message.c_str());
    return;
  }
  // About 16 ms per thread: long enough that a thread descheduled by another process for a
  // moment (the machine is shared) costs little at the barrier.
  constexpr Index kSteps = 1 << 20;
  float sink = 0;
  const LoadMeter meter;
  for (auto _ : state) {
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    sink += loop.run(kSteps, 1.0f + float(omp_get_thread_num()));
  }
  benchmark::DoNotOptimize(sink);
  const double flops = loop.flops_per_step() * double(kSteps) * threads;
  const double gflops = flops * double(state.iterations()) / meter.seconds() / 1e9;
  best_peak_gflops[threads] = std::max(best_peak_gflops[threads], gflops);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["other_cpus"] = meter.other_cpus();
  state.SetLabel(loop.target);
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

// Small problems for the op level only, where the Auto rule (src/ops/attention.cpp) chooses
// between the two implementations: a model's training batch of short sentences (B32 H8), and
// one decoding step of such a batch against a growing key/value cache (Nq = 1).
const std::vector<Shape> kAutoRuleShapes = {
    {"B32_H8_N8_d64", 32, 8, 8, 8, 64, false},
    {"B32_H8_N16_d64", 32, 8, 16, 16, 64, false},
    {"B32_H8_N32_d64", 32, 8, 32, 32, 64, false},
    {"B32_H8_N64_d64", 32, 8, 64, 64, 64, false},
    {"B32_H8_N128_d64", 32, 8, 128, 128, 64, false},
    {"decode_B32_H8_Nq1_Nk8_d64", 32, 8, 1, 8, 64, false},
    {"decode_B32_H8_Nq1_Nk32_d64", 32, 8, 1, 32, 64, false},
    {"decode_B32_H8_Nq1_Nk128_d64", 32, 8, 1, 128, 64, false},
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

enum class Pass { Forward, Backward, ForwardBackward };
enum class Impl { Fused, Reference, OpReference, OpFused };

const char* impl_name(Impl impl) {
  switch (impl) {
    case Impl::Fused: return "fused";
    case Impl::Reference: return "reference";
    case Impl::OpReference: return "op_reference";
    case Impl::OpFused: return "op_fused";
  }
  return "?";
}

const char* pass_name(Pass pass) {
  switch (pass) {
    case Pass::Forward: return "forward";
    case Pass::Backward: return "backward";
    case Pass::ForwardBackward: return "forward+backward";
  }
  return "?";
}

// The same problem as attn tensors [B, H, N, d] for ops::attention.
struct OpProblem {
  attn::Tensor q, k, v, grad_out;
  attn::ops::AttentionOptions options;

  OpProblem(const Problem& problem, const Shape& shape, bool causal, Impl impl) {
    q = tensor(problem.q, {shape.batch, shape.heads, shape.queries, shape.head_dim});
    k = tensor(problem.k, {shape.batch, shape.heads, shape.keys, shape.head_dim});
    v = tensor(problem.v, {shape.batch, shape.heads, shape.keys, shape.head_dim});
    grad_out = tensor(problem.grad_out, {shape.batch, shape.heads, shape.queries, shape.head_dim});
    options.mask.causal = causal;
    options.impl = impl == Impl::OpFused ? attn::ops::AttentionImpl::Fused
                                         : attn::ops::AttentionImpl::Reference;
  }

  void forward() {
    attn::NoGradGuard no_grad;
    benchmark::DoNotOptimize(attn::ops::attention(q, k, v, options).out.data<float>());
  }

  void forward_backward() {
    for (attn::Tensor* input : {&q, &k, &v}) input->set_requires_grad(true);
    attn::ops::attention(q, k, v, options).out.backward(grad_out);
    for (attn::Tensor* input : {&q, &k, &v}) *input = input->detach();  // drops the gradients
  }

 private:
  static attn::Tensor tensor(const std::vector<float>& values, attn::Shape shape) {
    return attn::Tensor::from_vector<float>(shape, values);
  }
};

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

double pass_flops(const Shape& shape, bool causal, Pass pass) {
  const double forward = forward_flops(shape, causal);
  switch (pass) {
    case Pass::Forward: return forward;
    case Pass::Backward: return 2.5 * forward;
    case Pass::ForwardBackward: return 3.5 * forward;
  }
  return forward;
}

void bench_attention(benchmark::State& state, Shape shape, bool causal, Pass pass, Impl impl,
                     int threads) {
  omp_set_num_threads(threads);
  attn::set_num_threads(threads);
  Problem problem(shape.batch, shape.heads, shape.queries, shape.keys, shape.head_dim, causal);
  const bool op_level = impl == Impl::OpReference || impl == Impl::OpFused;
  std::optional<OpProblem> op_problem;
  if (op_level) op_problem.emplace(problem, shape, causal, impl);
  const auto run = [&] {
    if (!op_level) return run_pass(problem, pass, impl);
    if (pass == Pass::Forward) return op_problem->forward();
    op_problem->forward_backward();
  };
  if (!op_level) kernels::flash_attention_forward(problem.params, problem.outputs());  // the backward's input
  run();  // warm-up: pages, thread pools
  const LoadMeter meter;
  for (auto _ : state) {
    run();
    benchmark::ClobberMemory();
  }
  const double flops = pass_flops(shape, causal, pass);
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

void register_one(const Shape& shape, bool causal, Pass pass, Impl impl, int threads) {
  const std::string name = std::string(pass_name(pass)) + "/" + impl_name(impl) + "/" +
                           shape.name + (causal ? "/causal" : "/full") +
                           "/threads:" + std::to_string(threads);
  benchmark::RegisterBenchmark(name.c_str(), bench_attention, shape, causal, pass, impl, threads)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond)
      ->MinTime(impl == Impl::Reference ? 0.01 : 0.5)
      ->ComputeStatistics("max", maximum);
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
            register_one(shape, causal, pass, impl, threads);
          }
        }
      }
      for (const Pass pass : {Pass::Forward, Pass::ForwardBackward}) {
        for (const Impl impl : {Impl::OpReference, Impl::OpFused}) {
          for (const int threads : {1, 2}) register_one(shape, causal, pass, impl, threads);
        }
      }
    }
  }
  for (const Shape& shape : kAutoRuleShapes) {
    for (const bool causal : {false, true}) {
      for (const Pass pass : {Pass::Forward, Pass::ForwardBackward}) {
        for (const Impl impl : {Impl::OpReference, Impl::OpFused}) {
          for (const int threads : {1, 2}) register_one(shape, causal, pass, impl, threads);
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

// The whole op, as a model runs it: ops::attention on tensors that need gradients, then the
// backward. For the additive score the attention size a is head_dim.
int measure_op_memory(Index n, Index heads, Index head_dim, bool additive, Impl impl,
                      bool forward_only) {
  namespace ops = attn::ops;
  const auto random_tensor = [](attn::Shape shape, std::uint32_t seed) {
    std::mt19937 generator(seed);
    std::normal_distribution<float> normal;
    attn::Tensor tensor = attn::Tensor::empty(shape, attn::DType::Float32);
    float* values = tensor.data<float>();
    for (std::int64_t i = 0; i < tensor.numel(); ++i) values[i] = 0.1f * normal(generator);
    return tensor;
  };
  attn::Tensor q = random_tensor({1, heads, n, head_dim}, 1);
  attn::Tensor k = random_tensor({1, heads, n, head_dim}, 2);
  attn::Tensor v = random_tensor({1, heads, n, head_dim}, 3);
  attn::Tensor grad_out = random_tensor({1, heads, n, head_dim}, 4);
  ops::AttentionOptions options;
  options.impl = impl == Impl::OpFused ? ops::AttentionImpl::Fused : ops::AttentionImpl::Reference;
  if (additive) {
    options.score = ops::Score::Additive;
    options.parameters.w_q = random_tensor({head_dim, head_dim}, 5).set_requires_grad(true);
    options.parameters.w_k = random_tensor({head_dim, head_dim}, 6).set_requires_grad(true);
    options.parameters.v_a = random_tensor({head_dim}, 7).set_requires_grad(true);
  }
  for (attn::Tensor* input : {&q, &k, &v}) input->set_requires_grad(true);
  const double inputs = peak_resident_mib();
  const auto start = Clock::now();
  double after_forward = 0;
  {
    attn::Tensor out = ops::attention(q, k, v, options).out;
    after_forward = peak_resident_mib();
    if (!forward_only) out.backward(grad_out);
  }
  const double after_backward = peak_resident_mib();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf(
      "op %s %s N=%lld heads=%lld head_dim=%lld threads=%d: peak resident %.1f MiB, op memory "
      "beyond its inputs %.1f MiB (forward %.1f MiB), %s %.1f s\n",
      impl_name(impl), additive ? "additive" : "scaled_dot", (long long)n, (long long)heads,
      (long long)head_dim, omp_get_max_threads(), after_backward, after_backward - inputs,
      after_forward - inputs, forward_only ? "forward" : "forward+backward", seconds);
  return 0;
}

// --memory=N [--head-dim=D] [--additive] [--heads=H] [--op=reference|fused] [--forward-only];
// returns false when not in memory mode.
bool memory_mode(int argc, char** argv, int& status) {
  Index n = 0, head_dim = 64, heads = 1;
  bool additive = false, forward_only = false;
  std::string op;
  for (int index = 1; index < argc; ++index) {
    const std::string argument = argv[index];
    if (argument.rfind("--memory=", 0) == 0) n = std::stoll(argument.substr(9));
    if (argument.rfind("--head-dim=", 0) == 0) head_dim = std::stoll(argument.substr(11));
    if (argument.rfind("--heads=", 0) == 0) heads = std::stoll(argument.substr(8));
    if (argument.rfind("--op=", 0) == 0) op = argument.substr(5);
    if (argument == "--additive") additive = true;
    if (argument == "--forward-only") forward_only = true;
  }
  if (n <= 0) return false;
  if (op.empty()) {
    status = measure_memory(n, head_dim, additive);
  } else if (op == "reference" || op == "fused") {
    status = measure_op_memory(n, heads, head_dim, additive,
                               op == "fused" ? Impl::OpFused : Impl::OpReference, forward_only);
  } else {
    std::fprintf(stderr, "bench_attention: --op must be reference or fused, got '%s'\n", op.c_str());
    status = 2;
  }
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
  attn::kernels::apply_simd_target_from_environment();  // ATTN_SIMD_TARGET pins the kernels
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
