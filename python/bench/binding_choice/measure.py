"""Why nanobind rather than pybind11, measured: the same binding (binding_choice/*.cpp)
built with each, in Release, from a clean build folder.

    python python/bench/binding_choice/measure.py     (needs nanobind and pybind11 from PyPI)

Prints the compile time of each module's source (nanobind's static library, built once per
build folder and shared by every module of a project, separately), the size of the stripped
module, and the time of one call on tiny arrays: three arrays in and an array out ("call"),
three arrays in and a float out ("read"), and "read" with torch tensors where torch is
installed (nanobind takes them through DLPack; pybind11 has no DLPack, so they go through
Tensor.numpy(), which refuses tensors that require grad).
"""

import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def configure(build):
    import nanobind
    import pybind11
    subprocess.run(["cmake", "-S", str(HERE), "-B", str(build), "-G", "Ninja",
                    "-DCMAKE_BUILD_TYPE=Release", f"-DPython_EXECUTABLE={sys.executable}",
                    f"-Dnanobind_DIR={nanobind.cmake_dir()}",
                    f"-Dpybind11_DIR={pybind11.get_cmake_dir()}"],
                   check=True, capture_output=True, env=dict(os.environ, CCACHE_DISABLE="1"))


def build_seconds(build, target):
    started = time.perf_counter()
    subprocess.run(["cmake", "--build", str(build), "--target", target, "-j", "1"], check=True,
                   capture_output=True, env=dict(os.environ, CCACHE_DISABLE="1"))
    return time.perf_counter() - started


def stripped_kib(path):
    copy = path.with_suffix(".stripped")
    shutil.copy(path, copy)
    subprocess.run(["strip", "-s", str(copy)], check=True)
    return copy.stat().st_size / 1024


def microseconds(function):
    for _ in range(1000):
        function()
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(20000):
            function()
        best = min(best, (time.perf_counter() - started) / 20000 * 1e6)
    return best


def call_times(name, module):
    q = np.ones((1, 4))
    times = [microseconds(lambda: module.call(q, q, q, scale=0.5)),
             microseconds(lambda: module.read(q, q, q, scale=0.5))]
    try:
        import torch
    except ImportError:
        return times + [None]
    t = torch.ones(1, 4)
    if name == "nanobind":
        return times + [microseconds(lambda: module.read(t, t, t, scale=0.5))]
    return times + [microseconds(lambda: module.read(t.numpy(), t.numpy(), t.numpy(), scale=0.5))]


def main():
    with tempfile.TemporaryDirectory() as folder:
        build = Path(folder)
        configure(build)
        sys.path.insert(0, str(build))
        library_seconds = build_seconds(build, "nanobind-static")
        print(f"nanobind's static library: {library_seconds:.1f} s, once per build folder\n")
        print("| binding | module compile s (1 core) | stripped module KiB | call µs | read µs "
              "| read torch µs |")
        print("|---|---|---|---|---|---|")
        for name in ("nanobind", "pybind11"):
            target = f"choice_{name}"
            seconds = build_seconds(build, target)
            module = importlib.import_module(target)
            size = stripped_kib(Path(module.__file__))
            times = " | ".join("-" if t is None else f"{t:.2f}" for t in call_times(name, module))
            print(f"| {name} | {seconds:.1f} | {size:.0f} | {times} |")


if __name__ == "__main__":
    main()
