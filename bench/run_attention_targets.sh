#!/usr/bin/env bash
# The attention targets of docs/PERFORMANCE.md, side by side in one run: attn's fused
# forward and backward (B1 H8 N{2048, 4096} d64, no mask, 2 threads) with the FMA peak,
# then PyTorch's scaled_dot_product_attention on the same shapes, alternated ROUNDS times so
# that a burst of load from another process hits both sides alike. Prints each side's
# lines and, per round, the fused / SDPA ratio at N = 4096.
#
#   GOMP_SPINCOUNT=1000 bench/run_attention_targets.sh [BUILD_DIR] [ROUNDS]
set -euo pipefail

build_dir=${1:-build/release}
rounds=${2:-2}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

for round in $(seq 1 "$rounds"); do
  echo "== round $round"
  "${build_dir}/bench/bench_attention" \
    --benchmark_filter='fma_peak/threads:2|(forward|backward)/fused/B1_H8_N(2048|4096)_d64/full/threads:2' \
    --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
    --benchmark_out="$scratch/attn.json" --benchmark_out_format=json > /dev/null
  python3 tools/bench_attention_torch.py --repetitions 3 \
    --filter 'B1_H8_N4096_d64/full/threads:2' | grep sdpa | tee "$scratch/torch.txt"
  python3 - "$scratch/attn.json" "$scratch/torch.txt" <<'PYTHON'
import json
import sys

report = json.load(open(sys.argv[1]))
attn = {}
for run in report["benchmarks"]:
    if run.get("aggregate_name") != "median":
        continue
    name = run["run_name"].split("/min_time")[0].replace("/real_time", "")
    attn[name] = run
    line = f"{name:55s} {run['GFLOP/s']:8.1f} GFLOP/s"
    if "peak_fraction" in run:
        line += f"  {100 * run['peak_fraction']:5.1f}% of peak"
    line += f"  other_cpus {run['other_cpus']:.2f}"
    print(line)
torch = {}
for line in open(sys.argv[2]):
    fields = line.split()
    torch[fields[0].split("/")[0]] = float(fields[1])
for side in ("forward", "backward"):
    ours = attn.get(f"{side}/fused/B1_H8_N4096_d64/full/threads:2")
    if ours and side in torch:
        print(f"{side} N=4096: fused / sdpa = {ours['GFLOP/s'] / torch[side]:.2f}")
PYTHON
done
