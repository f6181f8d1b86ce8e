#!/usr/bin/env bash
# Translation speed and memory of attn against CTranslate2 (PyPI's `ctranslate2`, float32),
# the same weights in both engines: tools/convert_to_ctranslate2.py writes the main job's
# model in CTranslate2's format. Both translate the four held-out books (data/bible/test.es,
# 331 verses) in batches of 32 sentences, with beam search (4) and greedy search, on 1 and 2
# threads; each run is a whole process, model loading included, alternated ROUNDS times:
#
#   bench/compare_ctranslate2.sh [--model RUN] [--rounds R] [--threads "1 2"] [--out DIR]
#
# RUN defaults to runs/bible_transformer (scripts/demo.sh trains it). Prints, per setting,
# the median wall time and peak resident memory of each engine, and how many of the 331
# translations the two engines agree on word for word; writes OUT/summary.md (default OUT:
# runs/compare_ctranslate2). The first run makes a Python environment with ctranslate2,
# sentencepiece, safetensors and numpy in ~/.cache/attn/ctranslate2-venv (about 1 minute).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
model="runs/bible_transformer"
rounds=3
threads="1 2"
out="runs/compare_ctranslate2"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --model) model="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h | --help) sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare_ctranslate2.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
[[ -e "$model" ]] || { echo "compare_ctranslate2.sh: no model at $model (scripts/demo.sh trains one)" >&2; exit 2; }
[[ -f data/bible/test.es ]] || { echo "compare_ctranslate2.sh: run 'attn data fetch bible' first" >&2; exit 2; }
attn="build/release/apps/attn"
mkdir -p "$out"

venv="${ATTN_CTRANSLATE2_VENV:-$HOME/.cache/attn/ctranslate2-venv}"
if [[ ! -f "$venv/.complete" ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q ctranslate2==4.8.5 sentencepiece safetensors numpy
  touch "$venv/.complete"
fi
"$venv/bin/python" tools/convert_to_ctranslate2.py "$model" "$out/ctranslate2-model" --force

export GOMP_SPINCOUNT="${GOMP_SPINCOUNT:-1000}"
"$venv/bin/python" - "$attn" "$model" "$out" "$rounds" "$threads" "$venv/bin/python" <<'PYTHON' | tee "$out/summary.md"
import os, pathlib, statistics, subprocess, sys, time
attn, model, out, rounds, threads, python = sys.argv[1:7]
out = pathlib.Path(out)
rounds = int(rounds)
tokenizers = pathlib.Path(model) / "checkpoints" if pathlib.Path(model).is_dir() else pathlib.Path(model).parent

def measure(command):
    """Wall seconds and peak resident MB of a whole process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        sys.exit(f"failed: {' '.join(command)}\n{process.stderr.read().decode()}")
    return seconds, usage.ru_maxrss / 1024

settings = [("beam 4", "beam"), ("greedy", "greedy")]
rows = {}
for round_ in range(rounds):
    for thread_count in threads.split():
        for label, method in settings:
            key = (label, thread_count)
            attn_out = out / f"attn-{method}-{thread_count}.txt"
            ct2_out = out / f"ct2-{method}-{thread_count}.txt"
            attn_command = [attn, "translate", "--checkpoint", model, "--input", "data/bible/test.es",
                            "--output", str(attn_out), "--method", method, "--beam-size", "4",
                            "--length-penalty", "0.6", "--max-length", "255", "--batch-size", "32",
                            "--threads", thread_count]
            ct2_command = [python, "bench/ctranslate2_translate.py", "--model", str(out / "ctranslate2-model"),
                           "--tokenizers", str(tokenizers), "--input", "data/bible/test.es",
                           "--output", str(ct2_out), "--method", method, "--beam-size", "4",
                           "--length-penalty", "0.6", "--max-length", "255", "--batch-size", "32",
                           "--threads", thread_count]
            row = rows.setdefault(key, {"attn": [], "ct2": []})
            row["attn"].append(measure(attn_command))
            row["ct2"].append(measure(ct2_command))
            a = attn_out.read_text(encoding="utf-8").splitlines()
            c = ct2_out.read_text(encoding="utf-8").splitlines()
            row["agree"] = (sum(x == y for x, y in zip(a, c)), len(a))

print("| search | threads | attn s | CTranslate2 s | attn / CTranslate2 time | attn MB | CTranslate2 MB | same translation |")
print("|---|---|---|---|---|---|---|---|")
for (label, thread_count), row in rows.items():
    attn_s = statistics.median(s for s, _ in row["attn"])
    ct2_s = statistics.median(s for s, _ in row["ct2"])
    attn_mb = max(m for _, m in row["attn"])
    ct2_mb = max(m for _, m in row["ct2"])
    same, total = row["agree"]
    print(f"| {label} | {thread_count} | {attn_s:.2f} | {ct2_s:.2f} | {attn_s / ct2_s:.2f} | "
          f"{attn_mb:.0f} | {ct2_mb:.0f} | {same} of {total} |")
print(f"\n(median of {rounds} whole runs each, model loading included; peak resident memory is the largest of the runs)")
PYTHON
