#!/usr/bin/env bash
# The Python package's checks (run by scripts/test.sh after setup.sh):
#   1. `pip wheel ./python`: scikit-build-core builds libattn and attn._core (nanobind); the
#      compiler cache makes libattn's objects those of the release build
#   2. the wheel goes into a fresh virtual environment over Debian's python3-torch 1.13: a
#      smoke test imports it and runs an attention call, then pytest runs python/tests (the
#      torch.autograd.Function path of attn.torch)
#   3. the same wheel and tests in the environment with a current torch from PyPI that
#      setup.sh keeps in $ATTN_TORCH_VENV (torch.library custom operators, opcheck,
#      torch.compile)
# Exits non-zero on the first failure.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
# shellcheck source=scripts/python_environments.sh
source scripts/python_environments.sh

log() { echo "test_python.sh: $*"; }

dist="$repo_root/build/python-dist"
builder="$repo_root/build/python-builder"
debian_venv="$repo_root/build/python-venv-debian"

build_wheel() {
  rm -rf "$dist"
  # The compiler the release preset gets (CMake's first choice), named the same way: ccache
  # keys on the compiler's name, and a pip build environment can otherwise pick
  # x86_64-linux-gnu-g++.
  export CXX="${CXX:-c++}"
  [[ -x "$builder/bin/python" ]] || "$DEBIAN_PYTHON" -m venv "$builder"
  "$builder/bin/python" -m pip wheel --quiet --no-deps --wheel-dir "$dist" ./python
  log "built $(ls "$dist")"
}

smoke_test() {
  "$1" -c 'import numpy as np, attn
q = np.ones((1, 2, 3, 4))
out = attn.attention(q, q, q)
assert out.shape == (1, 2, 3, 4) and np.allclose(out, 1.0), out
print("smoke test: attn", attn.__version__, "on", attn.simd_target())'
}

# Installs the wheel into the environment of interpreter $1 and runs the tests there.
test_in() {
  local python="$1" label="$2"
  "$python" -m pip install --quiet --no-deps --force-reinstall "$dist"/attn-*.whl
  smoke_test "$python"
  log "pytest with $label ($("$python" -c 'import torch; print("torch", torch.__version__)'))"
  (cd python/tests && "$python" -m pytest -q -p no:cacheprovider .)
}

build_wheel
rm -rf "$debian_venv"
"$DEBIAN_PYTHON" -m venv --system-site-packages "$debian_venv"
test_in "$debian_venv/bin/python" "Debian's python3-torch"
test_in "$ATTN_TORCH_VENV/bin/python" "PyPI's torch"
