// GEMM throughput: oneDNN and OpenBLAS side by side through attn::kernels::gemm, with 1 and
// 2 threads, next to the machine's measured fp32 FMA peak from the same run.
//
// Counters:
//   GFLOP/s         rate over real time;
//   peak_fraction   GFLOP/s over the best FMA peak measured earlier in this run with the same
//                   thread count;
//   GFLOP/cpu_s     flops per second of CPU time this process received (all its threads,
//                   spin-waiting included);
//   cpu_efficiency  GFLOP/cpu_s over the FMA loop's best GFLOP/cpu_s: how close to peak the
//                   kernel runs while it has a core, which other processes cannot distort;
//   other_cpus      cores kept busy by other processes meanwhile (the load behind the numbers).
// bench/run_gemm.sh runs it with repetitions and turns the JSON into a table.
#include <benchmark/benchmark.h>
#include <immintrin.h>
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "attn/kernels/gemm.h"

#include "bench_support.h"

namespace {

using attn::kernels::GemmArgs;
using attn::kernels::GemmLibrary;
using attn::kernels::GemmPlan;
using attn::kernels::GemmThreading;
using Index = std::int64_t;
using Clock = std::chrono::steady_clock;

using attn::bench::LoadMeter;

// ---- FMA peak ---------------------------------------------------------------------------

// The loop of the SIMD target in use (ATTN_SIMD_TARGET may pin a lower one).
const attn::bench::FmaPeakLoop& fma_peak_loop() {
  static const attn::bench::FmaPeakLoop loop = attn::bench::fma_peak_loop();
  return loop;
}

std::map<int, double> best_peak_gflops;      // by thread count, filled by BM_FmaPeak
double best_peak_gflops_per_cpu_second = 0;  // one core's peak, from CPU time

void BM_FmaPeak(benchmark::State& state, int threads) {
  const attn::bench::FmaPeakLoop& loop = fma_peak_loop();
  if (loop.run == nullptr) {
    const std::string message = "SIMD target " + loop.target + " has no FMA: no peak to measure";
    state.SkipWithError(message.c_str());
    return;
  }
  constexpr Index kSteps = 1 << 16;  // about 1 ms per thread
  float sink = 0;
  const LoadMeter meter;
  for (auto _ : state) {
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    sink += loop.run(kSteps, 1.0f + float(omp_get_thread_num()));
  }
  benchmark::DoNotOptimize(sink);
  const double flops = loop.flops_per_step() * double(kSteps) * threads;
  const double gflops = flops * double(state.iterations()) / meter.seconds() / 1e9;
  const double gflops_per_cpu_second =
      flops * double(state.iterations()) / meter.process_seconds() / 1e9;
  // The framework's first short trial runs are too brief for per-thread CPU accounting.
  if (meter.seconds() > 0.1) {
    best_peak_gflops[threads] = std::max(best_peak_gflops[threads], gflops);
    best_peak_gflops_per_cpu_second =
        std::max(best_peak_gflops_per_cpu_second, gflops_per_cpu_second);
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/cpu_s"] = gflops_per_cpu_second;
  state.counters["other_cpus"] = meter.other_cpus();
  state.SetLabel(loop.target);
}

// ---- GEMM -------------------------------------------------------------------------------

struct Problem {
  std::string name;
  Index batch, m, n, k;
  bool transpose_a = false, transpose_b = false;
};

// Square sizes, then the shapes of a Transformer with d_model 512, d_ff 2048, 8 heads and
// B * T = 4096 tokens (linear layers as x Wᵀ, W stored [out, in]), and attention.
const std::vector<Problem> kProblems = {
    {"square_128", 1, 128, 128, 128},
    {"square_256", 1, 256, 256, 256},
    {"square_512", 1, 512, 512, 512},
    {"square_1024", 1, 1024, 1024, 1024},
    {"square_2048", 1, 2048, 2048, 2048},
    {"ffn_up_4096x512x2048", 1, 4096, 2048, 512},
    {"ffn_up_xWt_4096x512x2048", 1, 4096, 2048, 512, false, true},
    {"ffn_down_xWt_4096x2048x512", 1, 4096, 512, 2048, false, true},
    {"out_proj_xWt_4096x512x512", 1, 4096, 512, 512, false, true},
    {"ffn_up_weight_grad_dYtX", 1, 2048, 512, 4096, true, false},
    {"attn_scores_QKt_64x128x128x64", 64, 128, 128, 64, false, true},
    {"attn_context_PV_64x128x64x128", 64, 128, 64, 128},
    {"attn_scores_QKt_16x512x512x64", 16, 512, 512, 64, false, true},
    {"attn_context_PV_16x512x64x512", 16, 512, 64, 512},
};

template <typename T>
struct Operands {
  std::vector<T> a, b, c;
  GemmArgs<T> args;

  explicit Operands(const Problem& problem) {
    args.batch = problem.batch;
    args.m = problem.m;
    args.n = problem.n;
    args.k = problem.k;
    args.transpose_a = problem.transpose_a;
    args.transpose_b = problem.transpose_b;
    args.lda = problem.transpose_a ? problem.m : problem.k;
    args.ldb = problem.transpose_b ? problem.k : problem.n;
    args.ldc = problem.n;
    args.stride_a = problem.m * problem.k;
    args.stride_b = problem.k * problem.n;
    args.stride_c = problem.m * problem.n;
    a.assign(std::size_t(problem.batch * args.stride_a), T(0.5));
    b.assign(std::size_t(problem.batch * args.stride_b), T(0.25));
    c.assign(std::size_t(problem.batch * args.stride_c), T(0));
    args.a = a.data();
    args.b = b.data();
    args.c = c.data();
  }
};

double problem_flops(const Problem& problem) {
  return 2.0 * double(problem.batch) * double(problem.m) * double(problem.n) * double(problem.k);
}

void set_counters(benchmark::State& state, double flops, int threads, const LoadMeter& meter) {
  const double total_gflops = flops * double(state.iterations()) / 1e9;
  const double gflops_per_cpu_second = total_gflops / meter.process_seconds();
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/cpu_s"] = gflops_per_cpu_second;
  const auto peak = best_peak_gflops.find(threads);
  if (peak != best_peak_gflops.end()) {
    state.counters["peak_fraction"] = total_gflops / meter.seconds() / peak->second;
  }
  if (best_peak_gflops_per_cpu_second > 0) {
    state.counters["cpu_efficiency"] = gflops_per_cpu_second / best_peak_gflops_per_cpu_second;
  }
  state.counters["other_cpus"] = meter.other_cpus();
}

// Threads are set per benchmark through OpenMP, which gemm follows for both libraries.
template <typename Call>
void run_gemm(benchmark::State& state, const Problem& problem, int threads, Call call) {
  omp_set_num_threads(threads);
  call();  // warm-up: first-touch pages, library initialisation, thread pools
  const LoadMeter meter;
  for (auto _ : state) {
    call();
    benchmark::ClobberMemory();
  }
  set_counters(state, problem_flops(problem), threads, meter);
}

void bench_float(benchmark::State& state, Problem problem, GemmPlan plan, int threads) {
  Operands<float> operands(problem);
  if (plan.threading == GemmThreading::automatic && plan.library == GemmLibrary::onednn) {
    run_gemm(state, problem, threads, [&] { attn::kernels::gemm(operands.args); });
  } else {
    run_gemm(state, problem, threads, [&] { attn::kernels::gemm(operands.args, plan); });
  }
}

void bench_double(benchmark::State& state, Problem problem, int threads) {
  Operands<double> operands(problem);
  run_gemm(state, problem, threads, [&] { attn::kernels::gemm(operands.args); });
}

double maximum(const std::vector<double>& values) {
  return values.empty() ? 0.0 : *std::max_element(values.begin(), values.end());
}

struct Variant {
  const char* name;
  GemmPlan plan;
  bool multi_thread_only;  // with one thread, split is the same as library
};

const Variant kVariants[] = {
    {"gemm", {GemmLibrary::onednn, GemmThreading::automatic}, false},
    {"onednn_library", {GemmLibrary::onednn, GemmThreading::library}, false},
    {"onednn_split", {GemmLibrary::onednn, GemmThreading::split}, true},
    {"openblas_library", {GemmLibrary::openblas, GemmThreading::library}, false},
    {"openblas_split", {GemmLibrary::openblas, GemmThreading::split}, true},
};

void register_benchmarks() {
  for (int threads : {1, 2}) {
    benchmark::RegisterBenchmark(("fma_peak/threads:" + std::to_string(threads)).c_str(),
                                 BM_FmaPeak, threads)
        ->UseRealTime()
        ->ComputeStatistics("max", maximum);
  }
  for (const Problem& problem : kProblems) {
    for (int threads : {1, 2}) {
      for (const Variant& variant : kVariants) {
        if (threads == 1 && variant.multi_thread_only) continue;
        const std::string name =
            "float/" + problem.name + "/" + variant.name + "/threads:" + std::to_string(threads);
        benchmark::RegisterBenchmark(name.c_str(), bench_float, problem, variant.plan, threads)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond)
            ->ComputeStatistics("max", maximum);
      }
    }
  }
  for (const Problem& problem : {kProblems[2], kProblems[3]}) {
    for (int threads : {1, 2}) {
      const std::string name =
          "double/" + problem.name + "/openblas/threads:" + std::to_string(threads);
      benchmark::RegisterBenchmark(name.c_str(), bench_double, problem, threads)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond)
          ->ComputeStatistics("max", maximum);
    }
  }
}

void add_context() {
  benchmark::AddCustomContext("gemm_libraries", attn::kernels::gemm_library_description());
  for (const char* variable : {"OMP_PROC_BIND", "OMP_PLACES", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT",
                               "OPENBLAS_CORETYPE", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"}) {
    const char* value = std::getenv(variable);
    benchmark::AddCustomContext(variable, value ? value : "(unset)");
  }
}

}  // namespace

int main(int argc, char** argv) {
  attn::kernels::apply_simd_target_from_environment();  // ATTN_SIMD_TARGET pins the kernels
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  add_context();
  // OpenBLAS starts its worker threads when it loads, and they spin for about 0.1 s
  // before sleeping: wait that out so that it is not charged to the first benchmark.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  register_benchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
