#!/usr/bin/env bash
# Sets up the machine, builds attn and runs every test:
#   1. scripts/setup.sh (Debian packages)
#   2. configure and build the `release` preset (library, CLI, tests, benchmarks)
#   3. ctest on the `release` preset, on the best SIMD target of this CPU, then again once
#      per lower target it has (ATTN_SIMD_TARGET=AVX2, SSE4, ...; oneDNN held to the same
#      instruction set), so that one machine checks what machines with fewer run
#   4. install to a temporary prefix, then build and run examples/consumer against it
#   5. the Python package: build its wheel, install it into fresh environments and run
#      python/tests with Debian's torch and with PyPI's (scripts/test_python.sh)
#   6. with --asan (or ATTN_CI_SANITIZE=1): build and run the whole suite again under
#      AddressSanitizer + UndefinedBehaviorSanitizer (the `asan` preset)
#   7. with --fuzz (or ATTN_CI_FUZZ=1): build the libFuzzer targets (the `fuzz` preset) and
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
      sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
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

# oneDNN's name for the instruction set closest to a Highway target (oneDNN goes no lower
# than SSE4.1).
onednn_isa_of() {
  case "$1" in
    AVX3*) echo AVX512_CORE ;;
    AVX2) echo AVX2 ;;
    *) echo SSE41 ;;
  esac
}

# The suite on each SIMD target below the best, with the per-target kernel tests
# (Targets/...) left out, since the first run already ran them on every target, and the
# slow 1,000-passage pretrained-model test (its 48-passage sibling runs instead), and the
# mpirun tests of distributed training, whose comparisons are between runs on one target.
run_ctest_lower_simd_targets() {
  local -a targets
  mapfile -t targets < <(build/release/apps/attn info --simd-targets)
  log "SIMD targets of this CPU: ${targets[*]}"
  local target
  for target in "${targets[@]:1}"; do
    log "-- SIMD target $target (ONEDNN_MAX_CPU_ISA=$(onednn_isa_of "$target"))"
    local log_file="$scratch/ctest-release-$target.log"
    ATTN_SIMD_TARGET="$target" ONEDNN_MAX_CPU_ISA="$(onednn_isa_of "$target")" \
      ctest --preset release -E '^Targets/|PretrainedMiniLMSlow|DistributedTraining' 2>&1 | tee "$log_file"
    summaries+=("$target: $(grep -E 'tests passed|tests failed' "$log_file" | tail -n 1 || true)")
  done
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

# pytest's summary lines join the others at the end.
run_python_tests() {
  local log_file="$scratch/python.log"
  scripts/test_python.sh 2>&1 | tee "$log_file"
  summaries+=("$(grep -E '^=*.*[0-9]+ (passed|failed)' "$log_file" | sed 's/^=* *//; s/ *=*$//' |
    paste -sd ';' - | sed 's/^/python: /')")
}

started=$SECONDS
step "setup" scripts/setup.sh
step "build release" configure_and_build release
step "test release" run_ctest release
step "test release per SIMD target" run_ctest_lower_simd_targets
step "install + examples/consumer" install_and_build_consumer
step "python package" run_python_tests
if [[ "$run_asan" == 1 ]]; then
  step "build asan" configure_and_build asan
  step "test asan" run_ctest asan
fi
if [[ "$run_fuzz" == 1 ]]; then
  step "fuzz" scripts/fuzz.sh --seconds "${ATTN_FUZZ_SECONDS:-60}" --jobs 2
fi

log "all steps passed in $((SECONDS - started)) s"
printf '%s\n' "${summaries[@]}"
