#!/usr/bin/env bash
# Training throughput of the main job's Transformer (configs/bible_transformer.toml) in one
# process with T threads against P processes with T/P threads each (mpirun on this machine),
# with and without the gradient exchange overlapping the backward pass, measured in one run,
# alternating the three layouts ROUNDS times:
#
#   bench/compare_distributed.sh [--steps N] [--rounds R] [--processes P] [--threads T]
#                                [--network RATE] [--out DIR]
#
# With --network RATE (tc's units: 1gbit, 10gbit), the 2 processes run as two machines: one
# in each of two network namespaces joined by a veth pair that carries at most RATE each
# way, talking TCP only (tests/support/two_namespaces.sh; needs root). The exchange then
# crosses a network as between real machines, which is where overlap can gain.
#
# Each training runs N updates (default 60) from the same start; tokens/s is read from the
# metrics log over every record but the first (warm-up). The P-process runs also report the
# time per step in exchanges, the bytes each rank sent per step and the largest optimizer
# state of a rank. Prints a table and writes OUT/summary.txt (default OUT:
# runs/compare_distributed). Needs data/bible (attn data fetch bible) and a release build.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
steps=60
rounds=3
processes=2
threads=2
network=""
out="runs/compare_distributed"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --steps) steps="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --processes) processes="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --network) network="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h | --help) sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare_distributed.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
if ((threads % processes != 0)); then
  echo "compare_distributed.sh: --threads ($threads) must be a multiple of --processes ($processes)" >&2
  exit 2
fi
if [[ -n "$network" ]] && ((processes != 2)); then
  echo "compare_distributed.sh: --network runs exactly 2 processes, one per namespace" >&2
  exit 2
fi
[[ -d data/bible ]] || { echo "compare_distributed.sh: run 'attn data fetch bible' first" >&2; exit 2; }
attn="build/release/apps/attn"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
rm -rf "$out"/run-*
export GOMP_SPINCOUNT="${GOMP_SPINCOUNT:-1000}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# No validation or extra saves inside the measured steps; the tokenizer is trained once.
common=(--config configs/bible_transformer.toml --max-steps "$steps" --max-minutes 0
        train.validate_every=0 train.validate_at_end=false train.log_every=10 train.progress=none)

for round in $(seq 1 "$rounds"); do
  "$attn" train "${common[@]}" --run-dir "$out/run-one-$round" train.threads="$threads" \
    >"$out/run-one-$round.log" 2>&1
  for overlap in true false; do
    name="run-ranks-$round"
    [[ "$overlap" == true ]] || name="run-after-$round"
    launcher=(mpirun --bind-to none --oversubscribe -np "$processes" -x GOMP_SPINCOUNT)
    if [[ -n "$network" ]]; then
      launcher=(env ATTN_NETNS_RATE="$network" tests/support/two_namespaces.sh "bench$$"
                mpirun --host 10.231.0.1,10.231.0.2 -np 2 --map-by node --bind-to none
                --mca plm_rsh_agent "$repo_root/tests/support/netns_agent.sh"
                --mca btl tcp,self --mca btl_tcp_if_include 10.231.0.0/24
                --mca oob_tcp_if_include 10.231.0.0/24 -x GOMP_SPINCOUNT -wdir "$repo_root")
    fi
    "${launcher[@]}" "$repo_root/$attn" train "${common[@]}" --run-dir "$out/$name" \
      train.threads=$((threads / processes)) train.overlap_communication="$overlap" \
      >"$out/$name.log" 2>&1
  done
done

python3 - "$out" "$rounds" "$processes" "$threads" "$network" <<'PYTHON' | tee "$out/summary.txt"
import json, re, statistics, sys
out, rounds, processes, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
network = sys.argv[5]

def records(run):
    with open(f"{out}/{run}/metrics.jsonl") as log:
        return [r for r in map(json.loads, log) if r["type"] == "train"]

def throughput(run):
    rows = records(run)[1:]  # the first window includes the start
    return statistics.mean(r["tokens_per_second"] for r in rows), rows

def parameters(run):
    text = open(f"{out}/{run}.log").read()
    return int(re.search(r"model: \w+, (\d+) parameters", text).group(1))

def seconds_per_step(rows):
    return (rows[-1]["elapsed_seconds"] - rows[0]["elapsed_seconds"]) / (rows[-1]["step"] - rows[0]["step"])

ones, ranks, exchange, sent, state, step_seconds = [], [], [], [], [], []
after, after_exchange = [], []
for r in range(1, rounds + 1):
    ones.append(throughput(f"run-one-{r}")[0])
    rate, rows = throughput(f"run-after-{r}")
    after.append(rate)
    after_exchange += [row["communication_seconds"] for row in rows]
    rate, rows = throughput(f"run-ranks-{r}")
    ranks.append(rate)
    step_seconds.append(seconds_per_step(records(f"run-ranks-{r}")))
    exchange += [row["communication_seconds"] for row in rows]
    sent += [row["bytes_sent"] for row in rows]
    state += [row["optimizer_state_bytes"] for row in rows]
count = parameters("run-one-1")
if network:
    print(f"the {processes} processes: two machines joined by a {network} link (TCP)")
print(f"model: {count} parameters ({4 * count / 1e6:.1f} MB of float32)")
print(f"1 process x {threads} threads: {statistics.median(ones):.0f} tokens/s "
      f"(rounds: {', '.join(f'{x:.0f}' for x in ones)})")
print(f"{processes} processes x {threads // processes} threads: {statistics.median(ranks):.0f} tokens/s "
      f"(rounds: {', '.join(f'{x:.0f}' for x in ranks)})")
print(f"ratio {processes} processes / 1 process: {statistics.median(ranks) / statistics.median(ones):.3f}")
print(f"{processes} processes, exchange after backward (no overlap): {statistics.median(after):.0f} tokens/s "
      f"(rounds: {', '.join(f'{x:.0f}' for x in after)}); overlap gains "
      f"{100 * (statistics.median(ranks) / statistics.median(after) - 1):+.1f}%; "
      f"exchange time per step {statistics.median(after_exchange) * 1e3:.1f} ms without overlap")
step = statistics.median(step_seconds)
print(f"per step with {processes} processes: {step * 1e3:.0f} ms, of which in exchanges "
      f"{statistics.median(exchange) * 1e3:.1f} ms ({100 * statistics.median(exchange) / step:.1f}%), "
      f"sent per rank {statistics.median(sent) / 1e6:.2f} MB ({statistics.median(sent) / (4 * count):.2f} x the model)")
print(f"optimizer state: {2 * 4 * count / 1e6:.1f} MB in one process (Adam), "
      f"largest rank {statistics.median(state) / 1e6:.1f} MB with {processes} "
      f"({statistics.median(state) / (2 * 4 * count):.3f} of it)")
PYTHON
