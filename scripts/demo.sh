#!/usr/bin/env bash
# Sets up the machine, builds the `release` preset and runs the main job: `attn demo`.
# Extra arguments go to `attn demo`. ATTN_JOBS sets the build parallelism (default: nproc).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target attn_cli --parallel "${ATTN_JOBS:-$(nproc)}"
exec build/release/apps/attn demo "$@"
