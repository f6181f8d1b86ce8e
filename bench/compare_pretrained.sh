#!/usr/bin/env bash
# attn against PyTorch (eager and SDPA) and ONNX Runtime on all-MiniLM-L6-v2's forward pass,
# measured one after the other in one run, on the same shapes and thread counts:
#
#   bench/compare_pretrained.sh [--seconds S] [--out DIR]
#
# attn: build/release/bench/bench_pretrained (Google Benchmark); the others:
# tools/bench_pretrained_torch.py (needs scripts/setup.sh --with-python). Prints tokens/s per
# implementation and attn's ratio to each, and writes OUT/attn.json, OUT/reference.jsonl and
# OUT/summary.txt (default OUT: runs/compare_pretrained). Run it on a quiet machine: the
# benchmark's other_cpus counter says how busy it was.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
seconds=3
out="runs/compare_pretrained"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h | --help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare_pretrained.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
python="python3"
[[ -x .venv/bin/python ]] && python=".venv/bin/python"
mkdir -p "$out"
export GOMP_SPINCOUNT="${GOMP_SPINCOUNT:-1000}"

build/release/bench/bench_pretrained --benchmark_min_time="$seconds" \
  --benchmark_format=json --benchmark_out="$out/attn.json" --benchmark_out_format=json >/dev/null
"$python" tools/bench_pretrained_torch.py --seconds "$seconds" --onnx-dir "$out/onnx" \
  >"$out/reference.jsonl"

"$python" - "$out" <<'PYTHON' | tee "$out/summary.txt"
import json, sys
out = sys.argv[1]
# Google Benchmark appends the run settings to the name ("/min_time:2.000/real_time").
attn = {b["name"].split("/min_time")[0].split("/real_time")[0]: b
        for b in json.load(open(f"{out}/attn.json"))["benchmarks"]}
reference = [json.loads(line) for line in open(f"{out}/reference.jsonl")]
print(f"{'shape / threads':28} {'implementation':16} {'tokens/s':>10} {'attn / it':>10}")
for shape in ("batch32x128", "single16"):
    for threads in (1, 2):
        mine = attn.get(f"forward/{shape}/plain/threads:{threads}")
        if mine is None:
            continue
        ours = mine["tokens/s"]
        print(f"{shape + ' / ' + str(threads):28} {'attn':16} {ours:10.0f} {'':>10}"
              f"   (other_cpus {mine['other_cpus']:.2f})")
        for entry in reference:
            if entry["name"].startswith(f"forward/{shape}/") and entry["name"].endswith(f"threads:{threads}"):
                which = entry["name"].split("/")[2]
                print(f"{'':28} {which:16} {entry['tokens_per_second']:10.0f} "
                      f"{ours / entry['tokens_per_second']:10.2f}")
        for capture in ("capture", "capture+maps"):
            recorded = attn.get(f"forward/{shape}/{capture}/threads:{threads}")
            if recorded:
                print(f"{'':28} {'attn ' + capture:16} {recorded['tokens/s']:10.0f} "
                      f"{ours / recorded['tokens/s']:10.2f}x slower")
PYTHON
