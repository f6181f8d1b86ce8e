#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` preset: clang-14, ASan + UBSan) and runs each one
# for a bounded time from its committed seed corpus in fuzz/corpus/<target>/:
#   scripts/fuzz.sh [--seconds N] [--jobs J] [--merge] [--no-build] [TARGET ...]
#     --seconds N   time per target (default 60, or ATTN_FUZZ_SECONDS)
#     --jobs J      targets run at once (default 2, or ATTN_FUZZ_JOBS)
#     --merge       afterwards, add the inputs that found new coverage to fuzz/corpus/
#     --no-build    use the programs already in build/fuzz
#     TARGET        safetensors, config, ... (default: every fuzz/fuzz_*.cpp)
# New inputs go to a scratch copy of the corpus; the committed corpus changes only with
# --merge. Prints the executions of each target and exits non-zero if any target found a
# crash, a sanitizer report, a leak, an escaped exception or a hang (inputs over 10 s), leaving
# the input that did it in build/fuzz/artifacts/ (rerun: build/fuzz/fuzz/fuzz_NAME FILE).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

seconds="${ATTN_FUZZ_SECONDS:-60}"
jobs="${ATTN_FUZZ_JOBS:-2}"
merge=0
build=1
targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --merge) merge=1; shift ;;
    --no-build) build=0; shift ;;
    -h | --help)
      sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    -*)
      echo "fuzz.sh: unknown option '$1' (try --help)" >&2
      exit 2
      ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [[ ${#targets[@]} -eq 0 ]]; then
  for source in fuzz/fuzz_*.cpp; do
    name="$(basename "$source" .cpp)"
    targets+=("${name#fuzz_}")
  done
fi

log() { echo "fuzz.sh: $*"; }

build_dir=build/fuzz
if [[ "$build" == 1 ]]; then
  log "== build (preset fuzz)"
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz --parallel "${ATTN_JOBS:-$(nproc)}"
fi

scratch="$(mktemp -d "${TMPDIR:-/tmp}/attn-fuzz.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
artifacts="$build_dir/artifacts"
mkdir -p "$artifacts"

# The library's kernels would start OpenMP teams for the serve target's model runs; one
# thread keeps every run of an input the same, and nothing spins on a shared machine.
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:check_initialization_order=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# Runs one target from a scratch copy of its corpus; the log keeps libFuzzer's statistics.
fuzz_one() {
  local target="$1"
  local program="$build_dir/fuzz/fuzz_$target"
  local corpus="fuzz/corpus/$target"
  local work="$scratch/corpus-$target"
  mkdir -p "$work"
  [[ -d "$corpus" ]] && cp -r "$corpus/." "$work/"
  "$program" "$work" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2560 \
    -print_final_stats=1 -artifact_prefix="$artifacts/$target-" >"$scratch/$target.log" 2>&1
}

for target in "${targets[@]}"; do
  if [[ ! -x "$build_dir/fuzz/fuzz_$target" ]]; then
    echo "fuzz.sh: no fuzz target '$target' (fuzz/fuzz_$target.cpp, built in $build_dir)" >&2
    exit 2
  fi
done

log "== fuzzing ${#targets[@]} targets for ${seconds} s each, $jobs at a time"
started=$SECONDS
declare -A status_of
pending=("${targets[@]}")
running=()
declare -A pid_of
while [[ ${#pending[@]} -gt 0 || ${#running[@]} -gt 0 ]]; do
  while [[ ${#pending[@]} -gt 0 && ${#running[@]} -lt $jobs ]]; do
    target="${pending[0]}"
    pending=("${pending[@]:1}")
    fuzz_one "$target" &
    pid_of[$target]=$!
    running+=("$target")
  done
  wait -n || true
  still=()
  for target in "${running[@]}"; do
    if kill -0 "${pid_of[$target]}" 2>/dev/null; then
      still+=("$target")
    else
      wait "${pid_of[$target]}" && status_of[$target]=0 || status_of[$target]=$?
    fi
  done
  running=("${still[@]+"${still[@]}"}")
done

failed=0
printf '%-14s %12s %10s %8s %s\n' target executions "exec/s" corpus result
for target in "${targets[@]}"; do
  stats="$scratch/$target.log"
  executions="$(sed -n 's/^stat::number_of_executed_units: *//p' "$stats" | tail -n 1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$stats" | tail -n 1)"
  corpus_size="$(find "$scratch/corpus-$target" -type f | wc -l)"
  result=ok
  if [[ "${status_of[$target]}" != 0 ]]; then
    result="FAILED (exit ${status_of[$target]})"
    failed=1
  fi
  printf '%-14s %12s %10s %8s %s\n' "$target" "${executions:-?}" "${rate:-?}" "$corpus_size" "$result"
done
for target in "${targets[@]}"; do
  if [[ "${status_of[$target]}" != 0 ]]; then
    log "== $target: the end of its log"
    tail -n 60 "$scratch/$target.log"
    log "the input that did it is in $artifacts/ (rerun: $build_dir/fuzz/fuzz_$target FILE)"
  fi
done

if [[ "$merge" == 1 && "$failed" == 0 ]]; then
  for target in "${targets[@]}"; do
    before="$(find "fuzz/corpus/$target" -type f 2>/dev/null | wc -l)"
    mkdir -p "fuzz/corpus/$target"
    "$build_dir/fuzz/fuzz_$target" -merge=1 "fuzz/corpus/$target" "$scratch/corpus-$target" \
      >"$scratch/$target.merge.log" 2>&1
    after="$(find "fuzz/corpus/$target" -type f | wc -l)"
    log "merged $target: $before -> $after seeds"
  done
fi

log "done in $((SECONDS - started)) s"
exit "$failed"
