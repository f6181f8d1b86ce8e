"""attn.attention on NumPy arrays: values against the plain torch oracle, no copies, errors,
and the GIL released while the kernels run."""

import threading

import numpy as np
import pytest
import torch

import attn
import reference
from cases import D, H, MASKS, NK, NQ, SCORES, B, inputs, masks, score_parameters


def as_numpy(arguments):
    return {name: value.numpy() if isinstance(value, torch.Tensor) else value
            for name, value in arguments.items()}


@pytest.mark.parametrize("impl", ["fused", "reference"])
@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("score", SCORES)
def test_float64_matches_plain_torch(score, mask_kind, impl):
    q, k, v = inputs()
    parameters = score_parameters(score, D)
    mask = masks(mask_kind, B, H, NQ, NK)
    out, weights, lse = attn.attention(q.numpy(), k.numpy(), v.numpy(), score, impl=impl,
                                       need_weights=True, return_lse=True,
                                       **as_numpy(mask), **as_numpy(parameters))
    expected = reference.attention(q, k, v, score, **mask, **parameters)
    for got, want in zip((out, weights, lse), expected):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-10, atol=1e-12)
    assert out.dtype == np.float64 and out.shape == (B, H, NQ, v.shape[-1])


def test_bilinear_is_the_general_score():
    q, k, v = (t.numpy() for t in inputs())
    w = score_parameters("general", D)["w"].numpy()
    np.testing.assert_array_equal(attn.attention(q, k, v, "bilinear", w=w),
                                  attn.attention(q, k, v, "general", w=w))


def test_weights_from_lse_recompute_rows_and_heads():
    q, k, v = (t.numpy() for t in inputs())
    out, weights, lse = attn.attention(q, k, v, causal=True, need_weights=True, return_lse=True)
    part = attn.attention_weights_from_lse(q, k, lse, causal=True, rows=range(2, 5), heads=[1])
    np.testing.assert_allclose(part, weights[:, 1:2, 2:5], rtol=1e-12, atol=1e-15)


def test_float32_in_float32_out():
    q, k, v = (t.float().numpy() for t in inputs())
    out = attn.attention(q, k, v)
    assert out.dtype == np.float32
    expected = reference.attention(*(torch.from_numpy(x).double() for x in (q, k, v)))[0]
    np.testing.assert_allclose(out, expected.numpy(), rtol=1e-5, atol=1e-6)


def test_results_view_attn_memory_without_copies():
    q, k, v = (t.numpy() for t in inputs())
    out, weights, lse = attn.attention(q, k, v, need_weights=True, return_lse=True)
    for array in (out, weights, lse):
        assert not array.flags["OWNDATA"] and array.flags["C_CONTIGUOUS"]
        assert array.base is not None
    assert not np.shares_memory(out, q) and not np.shares_memory(out, v)
    # Read-only inputs are read in place (a copy would be writable).
    q.setflags(write=False)
    np.testing.assert_array_equal(attn.attention(q, k, v), out)


def test_errors_name_the_argument_and_its_shape():
    q, k, v = (t.numpy() for t in inputs())
    with pytest.raises(TypeError, match="'q' has dtype int32"):
        attn.attention(q.astype(np.int32), k, v)
    with pytest.raises(ValueError, match=r"'k' must have 4 dimensions \[B, H, Nk, d\], got shape \(2, 7, 4\)"):
        attn.attention(q, k[0], v)
    with pytest.raises(ValueError, match="'v' of shape .* is not C-contiguous"):
        attn.attention(q, k, np.asfortranarray(v))
    with pytest.raises(ValueError, match="unknown score 'dott'"):
        attn.attention(q, k, v, "dott")
    with pytest.raises(ValueError, match="attention"):  # attn's own message for the shapes
        attn.attention(q, k, np.ascontiguousarray(v[:, :, :3]))
    with pytest.raises(ValueError, match="general"):
        attn.attention(q, k, v, "general")
    with pytest.raises(TypeError, match="'mask' has dtype int64"):
        attn.attention(q, k, v, mask=np.ones((NQ, NK), dtype=np.int64))


def test_the_gil_is_released_while_kernels_run():
    generator = np.random.default_rng(0)
    q = generator.standard_normal((1, 8, 1024, 64))
    counted = []
    worker = threading.Thread(target=lambda: [attn.attention(q, q, q) for _ in range(3)])
    worker.start()
    while worker.is_alive():
        counted.append(1)
    worker.join()
    # With the GIL held through the kernel, this loop could not run while it did.
    assert len(counted) > 1000


def test_thread_count_and_simd_target():
    previous = attn.get_num_threads()
    try:
        attn.set_num_threads(1)
        assert attn.get_num_threads() == 1
    finally:
        attn.set_num_threads(previous)
    assert attn.simd_target() in attn.available_simd_targets()


def test_the_attn_console_script_runs_the_command_line_program():
    import subprocess
    import sys
    from pathlib import Path
    script = Path(sys.executable).parent / "attn"
    result = subprocess.run([str(script), "info", "--simd-targets"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == attn.available_simd_targets()
    failed = subprocess.run([str(script), "no-such-command"], capture_output=True, text=True,
                            timeout=60)
    assert failed.returncode != 0 and failed.stderr  # the program's own refusal


def test_the_package_carries_type_stubs():
    from pathlib import Path
    folder = Path(attn.__file__).parent
    assert (folder / "py.typed").is_file()
    stub = (folder / "_core.pyi").read_text()
    assert "def attention(" in stub and "def load_pretrained(" in stub
