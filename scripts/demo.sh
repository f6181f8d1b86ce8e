#!/usr/bin/env bash
# The main job: sets up the machine, builds attn, exports the Spanish and English Bibles
# (Reina-Valera 1909 -> King James Version, from Debian's SWORD packages), trains a small
# Transformer for a bounded time on the CPU, translates the held-out books (Ruth, Jonah,
# Philippians, 1 John) and prints their BLEU and chrF.
#
#   scripts/demo.sh [MINUTES]     training time, default 10 (or ATTN_TRAIN_MINUTES)
#
# The run goes to runs/bible_transformer (replaced on each run); ATTN_JOBS sets the build
# parallelism (default: nproc).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

minutes="${1:-${ATTN_TRAIN_MINUTES:-10}}"
config=configs/bible_transformer.toml
run_dir=runs/bible_transformer
attn=build/release/apps/attn

scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target attn_cli --parallel "${ATTN_JOBS:-$(nproc)}"
# libgomp reads its waiting policy only at start-up; a short spin keeps two threads from
# stalling each other when another process shares the cores (docs/PERFORMANCE.md, GEMM).
if [[ -z "${OMP_WAIT_POLICY:-}" && -z "${GOMP_SPINCOUNT:-}" ]]; then
  export GOMP_SPINCOUNT=1000
fi

if [[ ! -f data/bible/manifest.json ]]; then
  "$attn" data fetch bible --out data/bible
fi

rm -rf "$run_dir"
"$attn" train --config "$config" --run-dir "$run_dir" --max-minutes "$minutes"

echo "== translating the held-out books (data/bible/test.es, beam 4)"
started=$SECONDS
"$attn" translate --checkpoint "$run_dir" --input data/bible/test.es \
  --output "$run_dir/test.hyp.en" --beam-size 4
echo "translated $(wc -l < data/bible/test.es) verses in $((SECONDS - started)) s"

echo "== examples (source / attn / King James)"
for line in 1 100 200; do
  sed -n "${line}p" data/bible/test.ref
  sed -n "${line}p" data/bible/test.es
  sed -n "${line}p" "$run_dir/test.hyp.en"
  sed -n "${line}p" data/bible/test.en
  echo
done

echo "== scores on the held-out books"
"$attn" eval --metric bleu --metric chrf --hyp "$run_dir/test.hyp.en" --ref data/bible/test.en
