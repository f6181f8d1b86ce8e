// Softmax and layer-norm row kernels, forward and backward: the SIMD kernels (Highway, best
// instruction set of this CPU) with 1 and 2 threads next to the scalar references (one
// thread, they have no threading).
//
// Names: kernel/implementation/type/rowsxcols/threads:N. Counters:
//   bytes       bytes read + written by the kernel (each array counted once) per second of
//               real time, shown as e.g. 7.2G/s; each rows x cols array is 8-128 MB.
//   other_cpus  CPU time used by other processes during the benchmark, in cores: the load
//               from elsewhere on a shared machine that distorts the numbers.
// Run with repetitions, e.g.
//   bench_vector_ops --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <hwy/targets.h>

#include "attn/core/parallel.h"
#include "attn/kernels/vector_ops.h"

#include "bench_support.h"

namespace {

namespace kernels = attn::kernels;
using Index = std::int64_t;

using attn::bench::LoadMeter;

// ---- problems ---------------------------------------------------------------------------

// Inputs and outputs of one rows x cols problem, filled once.
template <typename T>
struct RowProblem {
  Index rows, cols;
  std::vector<T> x, y, grad_out, grad_in, gamma, beta, mean, rstd, grad_gamma, grad_beta;

  RowProblem(Index rows_, Index cols_) : rows(rows_), cols(cols_) {
    const std::size_t n = std::size_t(rows * cols);
    std::mt19937 random(42);
    std::uniform_real_distribution<double> distribution(-4, 4);
    const auto fill = [&](std::vector<T>& values, std::size_t count) {
      values.resize(count);
      for (T& value : values) value = T(distribution(random));
    };
    fill(x, n);
    fill(grad_out, n);
    fill(gamma, std::size_t(cols));
    fill(beta, std::size_t(cols));
    y.assign(n, T(0));
    grad_in.assign(n, T(0));
    mean.assign(std::size_t(rows), T(0));
    rstd.assign(std::size_t(rows), T(0));
    grad_gamma.assign(std::size_t(cols), T(0));
    grad_beta.assign(std::size_t(cols), T(0));
    // Softmax backward reads probabilities; layer norm backward reads mean and rstd.
    kernels::softmax_rows(x.data(), y.data(), rows, cols);
    kernels::layer_norm_rows(x.data(), gamma.data(), beta.data(), grad_in.data(), mean.data(),
                             rstd.data(), rows, cols, T(1e-5));
  }
};

// One benchmarked operation: the kernel call and the bytes it reads and writes.
template <typename T>
struct Operation {
  const char* name;
  double matrices;  // rows x cols arrays read or written
  double vectors;   // length-cols arrays read or written (gamma, beta, their gradients)
  double per_row;   // length-rows arrays read or written (mean, rstd)
  void (*simd)(RowProblem<T>&);
  void (*reference)(RowProblem<T>&);
};

template <typename T>
std::vector<Operation<T>> operations() {
  using P = RowProblem<T>;
  return {
      {"softmax_rows", 2, 0, 0,
       [](P& p) { kernels::softmax_rows(p.x.data(), p.y.data(), p.rows, p.cols); },
       [](P& p) { kernels::reference::softmax_rows(p.x.data(), p.y.data(), p.rows, p.cols); }},
      {"softmax_backward_rows", 3, 0, 0,
       [](P& p) {
         kernels::softmax_backward_rows(p.y.data(), p.grad_out.data(), p.grad_in.data(), p.rows,
                                        p.cols);
       },
       [](P& p) {
         kernels::reference::softmax_backward_rows(p.y.data(), p.grad_out.data(), p.grad_in.data(),
                                                   p.rows, p.cols);
       }},
      {"layer_norm_rows", 2, 2, 2,
       [](P& p) {
         kernels::layer_norm_rows(p.x.data(), p.gamma.data(), p.beta.data(), p.y.data(),
                                  p.mean.data(), p.rstd.data(), p.rows, p.cols, T(1e-5));
       },
       [](P& p) {
         kernels::reference::layer_norm_rows(p.x.data(), p.gamma.data(), p.beta.data(), p.y.data(),
                                             p.mean.data(), p.rstd.data(), p.rows, p.cols, T(1e-5));
       }},
      // reads x, grad_y, gamma, mean, rstd; writes grad_x; updates grad_gamma, grad_beta
      {"layer_norm_backward_rows", 3, 5, 2,
       [](P& p) {
         kernels::layer_norm_backward_rows(p.x.data(), p.gamma.data(), p.mean.data(), p.rstd.data(),
                                           p.grad_out.data(), p.grad_in.data(), p.grad_gamma.data(),
                                           p.grad_beta.data(), p.rows, p.cols);
       },
       [](P& p) {
         kernels::reference::layer_norm_backward_rows(
             p.x.data(), p.gamma.data(), p.mean.data(), p.rstd.data(), p.grad_out.data(),
             p.grad_in.data(), p.grad_gamma.data(), p.grad_beta.data(), p.rows, p.cols);
       }},
  };
}

template <typename T>
void run(benchmark::State& state, const Operation<T>& operation, bool simd, Index rows, Index cols,
         int threads) {
  attn::set_num_threads(threads);
  RowProblem<T> problem(rows, cols);
  const auto kernel = simd ? operation.simd : operation.reference;
  kernel(problem);  // warm up: page in the outputs
  const LoadMeter load;
  for (auto _ : state) {
    kernel(problem);
    benchmark::ClobberMemory();
  }
  const double bytes =
      sizeof(T) * (operation.matrices * double(rows * cols) + operation.vectors * double(cols) +
                   operation.per_row * double(rows));
  state.counters["bytes"] =
      benchmark::Counter(bytes * double(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["other_cpus"] = load.other_cpus();
}

template <typename T>
void register_all(const char* type_name) {
  const Index rows = 4096;
  for (const Operation<T>& operation : operations<T>()) {
    for (const Index cols : {512, 1024, 4096}) {
      const std::string shape = std::to_string(rows) + "x" + std::to_string(cols);
      const auto add = [&](const char* implementation, bool simd, int threads) {
        const std::string name = std::string(operation.name) + "/" + implementation + "/" +
                                 type_name + "/" + shape + "/threads:" + std::to_string(threads);
        benchmark::RegisterBenchmark(
            name.c_str(),
            [=](benchmark::State& state) { run<T>(state, operation, simd, rows, cols, threads); })
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
      };
      add("reference", false, 1);
      add("simd", true, 1);
      add("simd", true, 2);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  // The instruction set the SIMD kernels dispatch to (the first is the best).
  benchmark::AddCustomContext("simd_target",
                              hwy::TargetName(hwy::SupportedAndGeneratedTargets().front()));
  register_all<float>("float");
  register_all<double>("double");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
