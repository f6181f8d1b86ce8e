#!/usr/bin/env bash
# Sets up the machine, builds the `release` preset and runs the main job: `attn demo`.
# Extra arguments go to `attn demo`. ATTN_JOBS sets the build parallelism (default: nproc).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target attn_cli --parallel "${ATTN_JOBS:-$(nproc)}"
# libgomp reads its waiting policy only at start-up; a short spin keeps two threads from
# stalling each other when another process shares the cores (docs/PERFORMANCE.md, GEMM).
if [[ -z "${OMP_WAIT_POLICY:-}" && -z "${GOMP_SPINCOUNT:-}" ]]; then
  export GOMP_SPINCOUNT=1000
fi
exec build/release/apps/attn demo "$@"
