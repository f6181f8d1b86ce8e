// Measurement helpers shared by the benchmark programs: the load other processes put on the
// machine while a benchmark runs, and the FMA loop that measures the peak the GFLOP/s
// figures are compared with.
#pragma once

#include <immintrin.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>

#include "attn/kernels/simd_target.h"

namespace attn::bench {

// Seconds of CPU time spent by all processes (from /proc/stat).
inline double machine_busy_seconds() {
  std::ifstream stat("/proc/stat");
  std::string label;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0;
  stat >> label >> user >> nice >> system >> idle >> iowait >> irq >> softirq;
  return (user + nice + system + irq + softirq) / 100.0;  // USER_HZ is 100 on Linux
}

// Seconds of CPU time spent by this process, all its threads included.
inline double process_busy_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         1e-6 * double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

// Measures wall time, this process's CPU time and how many cores other processes kept busy.
class LoadMeter {
 public:
  using Clock = std::chrono::steady_clock;

  LoadMeter()
      : start_(Clock::now()), machine_(machine_busy_seconds()), process_(process_busy_seconds()) {}
  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  double process_seconds() const { return process_busy_seconds() - process_; }
  double other_cpus() const {
    const double others = (machine_busy_seconds() - machine_) - process_seconds();
    return std::max(0.0, others / seconds());
  }

 private:
  Clock::time_point start_;
  double machine_, process_;
};

// Twelve independent accumulator chains cover the FMA latency (4 cycles) times the FMA
// throughput (one 512-bit FMA per cycle on Zen 4, two on Zen 5 and server Intel parts; two
// 256-bit FMAs on Zen 3). Each inner step is 12 vector FMAs: 12 * lanes * 2 flops.
constexpr int kFmaAccumulators = 12;

__attribute__((target("avx512f"))) inline float fma_peak_avx512(std::int64_t steps, float seed) {
  __m512 accumulators[kFmaAccumulators];
  for (int index = 0; index < kFmaAccumulators; ++index)
    accumulators[index] = _mm512_set1_ps(seed + float(index));
  const __m512 scale = _mm512_set1_ps(0.999999f);
  const __m512 shift = _mm512_set1_ps(1e-6f);
  for (std::int64_t step = 0; step < steps; ++step) {
#pragma GCC unroll 12
    for (int index = 0; index < kFmaAccumulators; ++index) {
      accumulators[index] = _mm512_fmadd_ps(accumulators[index], scale, shift);
    }
  }
  alignas(64) float lanes[16 * kFmaAccumulators];
  for (int index = 0; index < kFmaAccumulators; ++index)
    _mm512_store_ps(lanes + 16 * index, accumulators[index]);
  float total = 0;
  for (float lane : lanes) total += lane;
  return total;  // returned so the loop is not optimised away
}

// The same with 256-bit FMA3, the AVX2 target's (Highway's AVX2 target implies FMA).
__attribute__((target("avx2,fma"))) inline float fma_peak_avx2(std::int64_t steps, float seed) {
  __m256 accumulators[kFmaAccumulators];
  for (int index = 0; index < kFmaAccumulators; ++index)
    accumulators[index] = _mm256_set1_ps(seed + float(index));
  const __m256 scale = _mm256_set1_ps(0.999999f);
  const __m256 shift = _mm256_set1_ps(1e-6f);
  for (std::int64_t step = 0; step < steps; ++step) {
#pragma GCC unroll 12
    for (int index = 0; index < kFmaAccumulators; ++index) {
      accumulators[index] = _mm256_fmadd_ps(accumulators[index], scale, shift);
    }
  }
  alignas(32) float lanes[8 * kFmaAccumulators];
  for (int index = 0; index < kFmaAccumulators; ++index)
    _mm256_store_ps(lanes + 8 * index, accumulators[index]);
  float total = 0;
  for (float lane : lanes) total += lane;
  return total;
}

// The FMA loop of the SIMD target attn's kernels run on (kernels::simd_target(), which
// ATTN_SIMD_TARGET may pin lower), so that "% of peak" is measured against the instructions
// in use. SSE4, SSSE3 and the scalar fallback have no FMA: `run` is null there.
struct FmaPeakLoop {
  std::string target;
  int lanes = 0;
  float (*run)(std::int64_t steps, float seed) = nullptr;
  double flops_per_step() const { return double(kFmaAccumulators) * lanes * 2; }
};

inline FmaPeakLoop fma_peak_loop() {
  FmaPeakLoop loop;
  loop.target = kernels::simd_target();
  if (loop.target.rfind("AVX3", 0) == 0) {
    loop.lanes = 16;
    loop.run = fma_peak_avx512;
  } else if (loop.target == "AVX2") {
    loop.lanes = 8;
    loop.run = fma_peak_avx2;
  }
  return loop;
}

}  // namespace attn::bench
