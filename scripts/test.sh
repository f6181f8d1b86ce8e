#!/usr/bin/env bash
# Sets up the machine, builds attn and runs every test:
#   1. scripts/setup.sh (Debian packages)
#   2. configure and build the `release` preset (library, CLI, tests, benchmarks)
#   3. ctest on the `release` preset
#   4. install to a temporary prefix, then build and run examples/consumer against it
#   5. with --asan (or ATTN_CI_SANITIZE=1): build and run the whole suite again under
#      AddressSanitizer + UndefinedBehaviorSanitizer (the `asan` preset)
#   6. with --fuzz (or ATTN_CI_FUZZ=1): build the libFuzzer targets (the `fuzz` preset) and
#      run each from its seed corpus for ATTN_FUZZ_SECONDS (default 60), two at a time
#      (scripts/fuzz.sh)
# Exits non-zero on the first failure. ATTN_JOBS sets the build parallelism (default: nproc).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

run_asan="${ATTN_CI_SANITIZE:-0}"
run_fuzz="${ATTN_CI_FUZZ:-0}"
for argument in "$@"; do
  case "$argument" in
    --asan) run_asan=1 ;;
    --fuzz) run_fuzz=1 ;;
    -h | --help)
      sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "test.sh: unknown option '$argument' (try --help)" >&2
      exit 2
      ;;
  esac
done

jobs="${ATTN_JOBS:-$(nproc)}"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/attn-test.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
summaries=()

log() { echo "test.sh: $*"; }

# Runs a named step and reports how long it took.
step() {
  local name="$1"
  shift
  local started=$SECONDS
  log "== $name"
  "$@"
  log "== $name: done in $((SECONDS - started)) s"
}

configure_and_build() {
  local preset="$1"
  cmake --preset "$preset"
  cmake --build --preset "$preset" --parallel "$jobs"
}

# Runs ctest for a preset and keeps its summary line to repeat at the very end.
run_ctest() {
  local preset="$1"
  local log_file="$scratch/ctest-$preset.log"
  ctest --preset "$preset" 2>&1 | tee "$log_file"
  summaries+=("$(grep -E 'tests passed|tests failed' "$log_file" | tail -n 1 || true)")
}

install_and_build_consumer() {
  local prefix="$scratch/prefix"
  # The file list is long; show it only when the install fails.
  if ! cmake --install build/release --prefix "$prefix" >"$scratch/install.log" 2>&1; then
    cat "$scratch/install.log"
    return 1
  fi
  log "installed to $prefix"
  cmake -S examples/consumer -B "$scratch/consumer" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix"
  cmake --build "$scratch/consumer" --parallel "$jobs"
  "$scratch/consumer/attn_consumer"
}

started=$SECONDS
step "setup" scripts/setup.sh
step "build release" configure_and_build release
step "test release" run_ctest release
step "install + examples/consumer" install_and_build_consumer
if [[ "$run_asan" == 1 ]]; then
  step "build asan" configure_and_build asan
  step "test asan" run_ctest asan
fi
if [[ "$run_fuzz" == 1 ]]; then
  step "fuzz" scripts/fuzz.sh --seconds "${ATTN_FUZZ_SECONDS:-60}" --jobs 2
fi

log "all steps passed in $((SECONDS - started)) s"
printf '%s\n' "${summaries[@]}"
