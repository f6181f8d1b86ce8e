# Where the Python package is built and tested (sourced by setup.sh and test_python.sh).
# Debian's interpreter throughout, so that one wheel (cp311) serves both environments.
DEBIAN_PYTHON=/usr/bin/python3
# A current torch from PyPI for the custom-operator path. It is 5.4 GB and about 3 minutes
# to install, so it lives outside the clone and is made once per machine, like the compiler
# cache.
ATTN_TORCH_VENV="${ATTN_TORCH_VENV:-$HOME/.cache/attn/torch-venv}"
ATTN_TORCH_PACKAGES=(torch numpy pytest)
