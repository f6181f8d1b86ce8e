#!/usr/bin/env bash
# Training throughput of attn and of the PyTorch reference (tools/train_torch_reference.py)
# on the same configuration, measured one after the other in one run.
#
#   bench/compare_training.sh [--attn PATH] [--config FILE] [--warmup N] [--steps N]
#                             [--threads N] [--rounds R] [--out DIR] [key=value ...]
#
# Each round trains attn for warmup + steps updates, then the reference for as many, starting
# from attn's initial weights, tokenizer and configuration (so both see the same batches in
# the same order), with train.threads = N on both sides. The first `warmup` updates are left
# out; tokens/s is training target tokens over the wall time of the measured updates, read
# from each side's metrics.jsonl (train.log_every = 1). Validation and extra saves are off.
#
# Next to the numbers it records the load from other processes: /proc/loadavg before and
# after each side, and the cores that other processes kept busy during the measured updates
# (machine CPU time from /proc/stat minus the trainer's own, over the same wall time, as
# bench/bench_support.h's LoadMeter). Numbers taken with other work running are not
# comparable; the summary says how busy the machine was.
#
# Defaults: --attn build/release/apps/attn (or $ATTN), --config configs/bible_transformer.toml,
# --warmup 5, --steps 30, --threads 2, --rounds 1, --out runs/compare. Extra key=value
# overrides go to both sides (e.g. model.transformer.dropout=0). The summary is printed and
# written to OUT/summary.json.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
attn="${ATTN:-$repo_root/build/release/apps/attn}"
config="configs/bible_transformer.toml"
warmup=5
steps=30
threads=2
rounds=1
out="runs/compare"
overrides=()

while [[ $# -gt 0 ]]; do
  case "$1" in
    --attn) attn="$2"; shift 2 ;;
    --config) config="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h | --help) sed -n '2,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *=*) overrides+=("$1"); shift ;;
    *) echo "compare_training.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

if [[ ! -x "$attn" ]]; then
  echo "compare_training.sh: no attn program at '$attn' (build it, or pass --attn PATH)" >&2
  exit 2
fi
cd "$repo_root"

python3 - "$attn" "$config" "$warmup" "$steps" "$threads" "$rounds" "$out" \
  ${overrides[@]+"${overrides[@]}"} <<'PYTHON'
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

attn, config, warmup, steps, threads, rounds, out = sys.argv[1:8]
warmup, steps, threads, rounds = int(warmup), int(steps), int(threads), int(rounds)
user_overrides = sys.argv[8:]
out = Path(out)
total = warmup + steps
clock_ticks = os.sysconf("SC_CLK_TCK")

# Both sides: log every update, no validation or extra saves, only the step limit.
common = [f"train.threads={threads}", "train.log_every=1", "train.validate_every=0",
          "train.validate_at_end=false", "train.save_every=0", "train.max_minutes=0",
          "train.max_epochs=0", "train.patience=0", "train.progress=lines", *user_overrides]


def machine_busy_seconds():
    with open("/proc/stat") as stat:
        fields = stat.readline().split()
    user, nice, system, idle, iowait, irq, softirq = (float(x) for x in fields[1:8])
    return (user + nice + system + irq + softirq) / clock_ticks


def process_busy_seconds(pid):
    """CPU seconds of a running process, all its threads (utime + stime of /proc/PID/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (float(fields[11]) + float(fields[12])) / clock_ticks
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def loadavg():
    with open("/proc/loadavg") as file:
        return " ".join(file.read().split()[:3])


def last_step(metrics):
    """The highest train step logged so far (a partly written last line is skipped)."""
    step = 0
    try:
        with open(metrics) as file:
            for line in file:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if record.get("type") == "train":
                    step = max(step, record["step"])
    except FileNotFoundError:
        pass
    return step


def run(name, command, run_dir, log_path):
    """Runs one trainer; samples the load when the metrics log reaches `warmup` and `total`."""
    metrics = run_dir / "metrics.jsonl"
    before = loadavg()
    started = time.perf_counter()
    marks = {}
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        while process.poll() is None:
            step = last_step(metrics)
            for mark in (warmup, total):
                if mark not in marks and step >= mark:
                    busy = process_busy_seconds(process.pid)
                    if busy is not None:
                        marks[mark] = (time.perf_counter(), machine_busy_seconds(), busy)
            time.sleep(0.1)
    if process.returncode != 0:
        sys.exit(f"compare_training: {name} failed (exit {process.returncode}); see {log_path}")
    result = {"loadavg_before": before, "loadavg_after": loadavg(),
              "wall_seconds": time.perf_counter() - started}
    if warmup in marks and total in marks:
        (t0, machine0, own0), (t1, machine1, own1) = marks[warmup], marks[total]
        others = ((machine1 - machine0) - (own1 - own0)) / (t1 - t0)
        result["other_cores_busy"] = max(0.0, others)
        result["own_cores_busy"] = (own1 - own0) / (t1 - t0)
    return result


def train_records(metrics):
    records = {}
    with open(metrics) as file:
        for line in file:
            record = json.loads(line)
            if record.get("type") == "train":
                records[record["step"]] = record
    return records


def throughput(records):
    """Target tokens per second over updates warmup+1 .. total."""
    first = records.get(warmup, {"tokens": 0, "elapsed_seconds": 0.0}) if warmup else {
        "tokens": 0, "elapsed_seconds": 0.0}
    last = records[total]
    tokens = last["tokens"] - first["tokens"]
    seconds = last["elapsed_seconds"] - first["elapsed_seconds"]
    return tokens / seconds, seconds / steps


summary = {"attn": attn, "config": config, "warmup": warmup, "steps": steps, "threads": threads,
           "overrides": user_overrides, "rounds": []}
for round_index in range(1, rounds + 1):
    directory = out / (f"round{round_index}" if rounds > 1 else "")
    attn_dir, torch_dir = directory / "attn", directory / "torch"
    for stale in (attn_dir, torch_dir):
        shutil.rmtree(stale, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    print(f"round {round_index}: attn ({total} updates) ...", file=sys.stderr, flush=True)
    attn_load = run("attn", [attn, "train", "--config", config, "--run-dir", str(attn_dir),
                             "--max-steps", str(total), *common],
                    attn_dir, directory / "attn.log")
    print(f"round {round_index}: PyTorch reference ({total} updates) ...", file=sys.stderr,
          flush=True)
    torch_load = run("torch", [sys.executable, "tools/train_torch_reference.py", "--attn-run",
                               str(attn_dir), "--run-dir", str(torch_dir), "--force",
                               "--max-steps", str(total), *common],
                     torch_dir, directory / "torch.log")
    attn_records = train_records(attn_dir / "metrics.jsonl")
    torch_records = train_records(torch_dir / "metrics.jsonl")
    attn_rate, attn_step = throughput(attn_records)
    torch_rate, torch_step = throughput(torch_records)
    same_batches = all(attn_records[s]["tokens"] == torch_records[s]["tokens"]
                       for s in range(1, total + 1))
    summary["rounds"].append({
        "attn": {"tokens_per_second": attn_rate, "seconds_per_step": attn_step,
                 "first_loss": attn_records[1]["loss"], "last_loss": attn_records[total]["loss"],
                 **attn_load},
        "torch": {"tokens_per_second": torch_rate, "seconds_per_step": torch_step,
                  "first_loss": torch_records[1]["loss"], "last_loss": torch_records[total]["loss"],
                  **torch_load},
        "ratio": attn_rate / torch_rate,
        "same_batches": same_batches,
    })

version = subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__)"],
                         capture_output=True, text=True).stdout.strip()
print(f"\nTraining throughput, {config} {' '.join(user_overrides)}".rstrip())
print(f"{threads} threads on both sides; updates {warmup + 1}..{total} measured "
      f"(after {warmup} warm-up); torch {version}; {os.cpu_count()} cores on this machine\n")
header = (f"{'round':>5}  {'side':<6} {'tokens/s':>10} {'s/update':>9} {'own cores':>9} "
          f"{'other cores':>11}  {'loadavg before':>15}  {'loadavg after':>15}  "
          f"{'loss@1':>8} {'loss@' + str(total):>8}")
print(header)
print("-" * len(header))
for index, result in enumerate(summary["rounds"], 1):
    for side in ("attn", "torch"):
        r = result[side]
        print(f"{index:>5}  {side:<6} {r['tokens_per_second']:>10.0f} {r['seconds_per_step']:>9.3f} "
              f"{r.get('own_cores_busy', float('nan')):>9.2f} "
              f"{r.get('other_cores_busy', float('nan')):>11.2f}  {r['loadavg_before']:>15}  "
              f"{r['loadavg_after']:>15}  {r['first_loss']:>8.4f} {r['last_loss']:>8.4f}")
    print(f"{index:>5}  ratio attn / torch: {result['ratio']:.2f}x   "
          f"(same batches on both sides: {'yes' if result['same_batches'] else 'NO'})")
ratios = [result["ratio"] for result in summary["rounds"]]
summary["median_ratio"] = statistics.median(ratios)
busiest = max(max(r[s].get("other_cores_busy", 0.0) for s in ("attn", "torch"))
              for r in summary["rounds"])
print(f"\nmedian ratio attn / torch: {summary['median_ratio']:.2f}x (target: >= 1.5x)")
if busiest > 0.25:
    print(f"warning: other processes kept up to {busiest:.2f} cores busy during the measured "
          "updates; these timings are not those of a quiet machine")
(out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
print(f"summary: {out / 'summary.json'}")
PYTHON
