#!/usr/bin/env bash
# `attn serve` under load: wrk posts one verse to /api/translate (attention on, the page's
# request) from 1, 4, 16 and 64 clients, against three servers, measured in one run:
#   batched    the defaults: a queue of 64, waiting requests decoded together (up to 32)
#   queued     --max-batch 1: the same queue, one request per run
#   no-queue   --max-batch 1 --queue-size 1: one request runs and one waits, the rest get
#              503 at once, which is how attn serve behaved before it had a queue
#
#   bench/serve_load.sh [--model RUN] [--seconds S] [--clients "1 4 16 64"] [--out DIR]
#
# RUN defaults to runs/bible_transformer (scripts/demo.sh trains it). For each point it
# prints answered requests/s, the 200s among them per second, the other statuses, and the
# latency percentiles wrk measured (p50, p99). Writes OUT/summary.md (default OUT:
# runs/serve_load). Needs wrk (scripts/setup.sh installs it) and a release build.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
model="runs/bible_transformer"
seconds=15
clients="1 4 16 64"
out="runs/serve_load"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --model) model="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h | --help) sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "serve_load.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "serve_load.sh: wrk is not installed (scripts/setup.sh installs it)" >&2; exit 2; }
[[ -e "$model" ]] || { echo "serve_load.sh: no model at $model (scripts/demo.sh trains one)" >&2; exit 2; }
attn="build/release/apps/attn"
mkdir -p "$out"
export GOMP_SPINCOUNT="${GOMP_SPINCOUNT:-1000}"

cat >"$out/translate.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"text": "En el principio creó Dios los cielos y la tierra.", "attention": true}'
LUA

server_pid=""
stop_server() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
trap stop_server EXIT

# Starts attn serve with extra arguments on a free port; sets server_pid and port.
start_server() {
  "$attn" serve --model "$model" --port 0 --quiet "$@" >"$out/server.out" 2>"$out/server.err" &
  server_pid=$!
  for _ in $(seq 1 600); do
    port="$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$out/server.out")"
    [[ -n "$port" ]] && return
    sleep 0.1
  done
  echo "serve_load.sh: attn serve did not start:" >&2
  cat "$out/server.err" >&2
  exit 1
}

results="$out/results.tsv"
: >"$results"
for layout in batched queued no-queue; do
  arguments=()
  [[ "$layout" == queued ]] && arguments=(--max-batch 1)
  [[ "$layout" == no-queue ]] && arguments=(--max-batch 1 --queue-size 1)
  start_server "${arguments[@]}"
  for count in $clients; do
    threads=$((count < 2 ? count : 2))
    wrk -t"$threads" -c"$count" -d"${seconds}s" --timeout 30s --latency -s "$out/translate.lua" \
      "http://127.0.0.1:$port/api/translate" >"$out/wrk-$layout-$count.txt"
    echo -e "$layout\t$count\t$out/wrk-$layout-$count.txt" >>"$results"
  done
  stop_server
done

python3 - "$results" "$seconds" <<'PYTHON' | tee "$out/summary.md"
import re, sys
results, seconds = sys.argv[1], float(sys.argv[2])

def milliseconds(text):
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

print("| server | clients | answers/s | 200s/s | other statuses | p50 ms | p99 ms |")
print("|---|---|---|---|---|---|---|")
for line in open(results):
    layout, count, path = line.rstrip("\n").split("\t")
    text = open(path).read()
    answered = int(re.search(r"(\d+) requests in", text).group(1))
    elapsed = float(re.search(r"requests in ([\d.]+)s", text).group(1))
    other = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    other = int(other.group(1)) if other else 0
    errors = re.search(r"Socket errors: (.*)", text)
    p50 = milliseconds(re.search(r"\s50%\s+(\S+)", text).group(1))
    p99 = milliseconds(re.search(r"\s99%\s+(\S+)", text).group(1))
    note = f"{other}" + (f" (socket errors: {errors.group(1)})" if errors else "")
    print(f"| {layout} | {count} | {answered / elapsed:.1f} | {(answered - other) / elapsed:.1f} | "
          f"{note} | {p50:.0f} | {p99:.0f} |")
PYTHON
