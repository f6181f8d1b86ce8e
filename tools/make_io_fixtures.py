#!/usr/bin/env python3
"""Writes the safetensors fixture read by tests/io/safetensors_test.cpp, and checks files
written by attn against the same known values.

    python3 tools/make_io_fixtures.py                 # writes tests/fixtures/io/python_written.safetensors
    python3 tools/make_io_fixtures.py --verify FILE   # FILE must hold the same tensors and metadata

The values are exactly representable in their dtypes, so the C++ test compares bits, not
tolerances. Needs torch and safetensors; the C++ tests only need the committed file.
"""

import argparse
import math
import pathlib
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

FIXTURE = pathlib.Path(__file__).resolve().parent.parent / "tests/fixtures/io/python_written.safetensors"

METADATA = {
    "writer": "tools/make_io_fixtures.py",
    "config": '{"dim": 8, "num_heads": 2}',
    "unicode": "h\u00e9llo \u2713",
}


def expected_tensors():
    return {
        "float32.matrix": torch.tensor([[0.5, -1.25, 3.0], [1024.0, -0.0, 2.0**-20]], dtype=torch.float32),
        "float32.special": torch.tensor([math.inf, -math.inf, math.nan, 1e-45], dtype=torch.float32),
        "float64.vector": torch.tensor([0.1, -2.5, 1e300], dtype=torch.float64),
        "int64.vector": torch.tensor([0, -1, 2**62, -(2**63)], dtype=torch.int64),
        "bool.mask": torch.tensor([[True, False], [False, True]]),
        "bfloat16.vector": torch.tensor([1.0, -2.0, 0.15625, 3.140625], dtype=torch.bfloat16),
        "scalar": torch.tensor(7.0, dtype=torch.float32),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
        "encoder.layers.0.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3),
    }


def write_fixture():
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    save_file(expected_tensors(), str(FIXTURE), metadata=METADATA)
    print(f"wrote {FIXTURE} ({FIXTURE.stat().st_size} bytes)")


def same_values(actual, expected):
    if actual.dtype != expected.dtype or actual.shape != expected.shape:
        return False
    if expected.is_floating_point():
        # Bit patterns, so NaN, -0.0 and denormals must survive unchanged.
        view = {torch.float32: torch.int32, torch.float64: torch.int64, torch.bfloat16: torch.int16}
        return torch.equal(actual.view(view[expected.dtype]), expected.view(view[expected.dtype]))
    return torch.equal(actual, expected)


def verify(path):
    actual = load_file(path)
    expected = expected_tensors()
    problems = []
    if sorted(actual) != sorted(expected):
        problems.append(f"names differ: {sorted(actual)} vs {sorted(expected)}")
    for name in sorted(set(actual) & set(expected)):
        if not same_values(actual[name], expected[name]):
            problems.append(f"tensor {name!r} differs: {actual[name]} vs {expected[name]}")
    with safe_open(path, framework="pt") as handle:
        metadata = handle.metadata() or {}
    if metadata != METADATA:
        problems.append(f"metadata differs: {metadata} vs {METADATA}")
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{path}: {'OK' if not problems else 'MISMATCH'} ({len(actual)} tensors)")
    return 0 if not problems else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verify", metavar="FILE", help="check FILE instead of writing the fixture")
    args = parser.parse_args()
    if args.verify:
        return verify(args.verify)
    write_fixture()
    return 0


if __name__ == "__main__":
    sys.exit(main())
