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
// throughput (one 512-bit FMA per cycle on Zen 4, two on Zen 5 and server Intel parts).
// Each inner step is 12 vector FMAs of 16 lanes: 12 * 16 * 2 flops.
constexpr int kFmaAccumulators = 12;
constexpr double kFmaFlopsPerStep = kFmaAccumulators * 16 * 2;

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

}  // namespace attn::bench
