#!/usr/bin/env bash
# Runs bench_gemm with repetitions and prints a Markdown table of GFLOP/s per library and
# threading, as a fraction of the FMA peak measured in the same run.
#
#   bench/run_gemm.sh [BUILD_DIR] [REPETITIONS] [FILTER]
#
# Environment settings that matter (see docs/PERFORMANCE.md, "GEMM") must be given on the
# command line, because the OpenMP runtime and OpenBLAS read them when they load:
#   GOMP_SPINCOUNT=1000 bench/run_gemm.sh build
set -euo pipefail

build_dir=${1:-build}
repetitions=${2:-5}
filter=${3:-.}
output=${build_dir}/bench_gemm.json

"${build_dir}/bench/bench_gemm" \
  --benchmark_filter="${filter}" \
  --benchmark_repetitions="${repetitions}" \
  --benchmark_report_aggregates_only="$([ "${repetitions}" -gt 1 ] && echo true || echo false)" \
  --benchmark_min_time=0.3 \
  --benchmark_out="${output}" --benchmark_out_format=json > /dev/null

python3 - "${output}" <<'PYTHON'
import collections
import json
import sys

report = json.load(open(sys.argv[1]))
# name -> statistic ("median", "max", "mean") -> counters
results = collections.defaultdict(dict)
for entry in report["benchmarks"]:
    name = entry["run_name"].replace("/real_time", "")
    if entry.get("run_type") == "aggregate":
        results[name][entry["aggregate_name"]] = entry
    else:  # a single repetition stands for every statistic
        for statistic in ("mean", "median", "max"):
            results[name].setdefault(statistic, entry)

def gflops(name, statistic):
    entry = results.get(name, {}).get(statistic)
    return entry["GFLOP/s"] if entry else None

peak = {threads: gflops(f"fma_peak/threads:{threads}", "max") for threads in (1, 2)}
context = report["context"]
print(f"Libraries: {context.get('gemm_libraries')}")
print("Environment: " + ", ".join(f"{key}={context.get(key)}" for key in
      ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_PROC_BIND", "OMP_PLACES",
       "OPENBLAS_CORETYPE")))
print(f"FMA peak (max over repetitions): 1 thread {peak[1]:.1f} GFLOP/s, 2 threads {peak[2]:.1f} GFLOP/s\n")

variants = ["gemm", "onednn_library", "onednn_split", "openblas_library", "openblas_split"]
print("| problem | threads | " + " | ".join(variants) + " | other CPUs |")
print("|---|---|" + "---|" * len(variants) + "---|")
problems = []
for name in results:
    parts = name.split("/")
    if parts[0] == "float" and parts[1] not in problems:
        problems.append(parts[1])
for problem in problems:
    for threads in (1, 2):
        cells, load = [], []
        for variant in variants:
            name = f"float/{problem}/{variant}/threads:{threads}"
            best, median = gflops(name, "max"), gflops(name, "median")
            if best is None:
                cells.append("")
                continue
            cells.append(f"{median:.0f} / {best:.0f} ({100 * best / peak[threads]:.0f}%)")
            load.append(results[name]["mean"]["other_cpus"])
        if any(cells):
            print(f"| {problem} | {threads} | " + " | ".join(cells) + f" | {max(load):.2f} |")
print("\nCells: median / max GFLOP/s over repetitions (max as a percentage of the FMA peak"
      " for that thread count). Other CPUs: the most cores other processes kept busy during"
      " any variant of the row, averaged over its repetitions.")
print("\nOne thread, per second of CPU time received (robust to other processes):")
print("| problem | " + " | ".join(v for v in variants if "split" not in v) + " |")
print("|---|" + "---|" * 3)
for problem in problems:
    cells = []
    for variant in (v for v in variants if "split" not in v):
        entry = results.get(f"float/{problem}/{variant}/threads:1", {}).get("max")
        cells.append(f"{entry['GFLOP/cpu_s']:.0f} ({100 * entry['cpu_efficiency']:.0f}%)"
                     if entry and "cpu_efficiency" in entry else "")
    print(f"| {problem} | " + " | ".join(cells) + " |")
print("\nCells: max GFLOP per CPU-second (percentage of the FMA loop's GFLOP per CPU-second).\n")
for name in results:
    if name.startswith("double/"):
        print(f"{name}: median {gflops(name, 'median'):.1f}, max {gflops(name, 'max'):.1f} GFLOP/s")
PYTHON
