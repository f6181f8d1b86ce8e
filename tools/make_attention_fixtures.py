#!/usr/bin/env python3
"""Writes the PyTorch reference values that tests/ops/attention_fixture_test.cpp compares
against: one file per case in tests/fixtures/attention/.

Run from the repository root: python3 tools/make_attention_fixtures.py
Needs torch and safetensors. The outputs are committed, so the C++ tests never need PyTorch.

Each case stores float32 inputs and float64 expected values computed in float64 from those
same float32 inputs (so a float64 run in C++ can match to ~1e-12):
  inputs    q, k, v, grad_out; score parameters w | w_q, w_k, v_a | scale (learned);
            masks key_lengths (int64 [B]), key_padding (bool [B, Nk]), allowed (bool),
            bias (float, may hold -inf)
  expected  out, lse, weights, grad_q, grad_k, grad_v, grad_<parameter>
  metadata  score, causal ("true"/"false"), scale (only when fixed and not the default)

The masked softmax is written out (max, exp, sum) rather than taken from torch.softmax so
that a row with no allowed key gives zeros and a zero gradient, attn's rule, where PyTorch
gives NaN. Every case is also checked against torch.softmax / torch.logsumexp on the rows
that have an allowed key, and the dot-product cases against scaled_dot_product_attention.
"""
import math
import pathlib

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "attention"

# Score variants: (case prefix, score, fixed scale or None, learned scale or None).
SCORES = [
    ("dot", "dot", None, None),
    ("scaled_dot", "scaled_dot", None, None),
    ("general", "general", None, None),
    ("additive", "additive", None, None),
    ("cosine", "cosine", 4.0, None),
    ("cosine_learned", "cosine", None, 3.0),
]
MASKS = ["none", "key_lengths", "key_padding", "causal", "allowed", "bias", "fully_masked"]

# The grid's sizes: Nq != Nk and dv != d.
GRID = dict(batch=2, heads=2, queries=5, keys=7, head_dim=8, value_dim=6, attention_dim=4)

# Odd sizes: (name, score, fixed scale, learned scale, mask kinds, sizes).
SHAPE_CASES = [
    ("scaled_dot_nq1_nk129_d24", "scaled_dot", None, None, ["causal"],
     dict(batch=1, heads=2, queries=1, keys=129, head_dim=24, value_dim=24)),
    ("dot_n129_d24_causal", "dot", None, None, ["causal"],
     dict(batch=1, heads=1, queries=129, keys=129, head_dim=24, value_dim=16)),
    ("scaled_dot_d96_dv80_bias", "scaled_dot", 0.2, None, ["bias"],
     dict(batch=1, heads=1, queries=7, keys=7, head_dim=96, value_dim=80)),
    ("general_d96_short_keys_causal", "general", None, None, ["causal"],
     dict(batch=1, heads=1, queries=7, keys=4, head_dim=96, value_dim=8)),
    ("additive_d80_key_padding", "additive", None, None, ["key_padding"],
     dict(batch=1, heads=2, queries=7, keys=7, head_dim=80, value_dim=8, attention_dim=16)),
    ("additive_n1", "additive", None, None, ["none"],
     dict(batch=2, heads=1, queries=1, keys=1, head_dim=8, value_dim=8, attention_dim=4)),
    ("cosine_n1", "cosine", 2.0, None, ["none"],
     dict(batch=2, heads=1, queries=1, keys=1, head_dim=8, value_dim=8)),
    ("cosine_learned_n7_d24_allowed", "cosine", None, 5.0, ["allowed"],
     dict(batch=1, heads=2, queries=7, keys=7, head_dim=24, value_dim=24)),
]


def score_parameters(score, sizes, learned_scale, generator):
    d, a = sizes["head_dim"], sizes.get("attention_dim", 0)
    if score == "general":
        return {"w": torch.randn(d, d, generator=generator) / math.sqrt(d)}
    if score == "additive":
        return {"w_q": torch.randn(d, a, generator=generator) / math.sqrt(d),
                "w_k": torch.randn(d, a, generator=generator) / math.sqrt(d),
                "v_a": torch.randn(a, generator=generator)}
    if learned_scale is not None:
        return {"scale": torch.tensor(learned_scale)}
    return {}


def some_true(shape, probability, generator):
    """A random bool tensor in which every row (last dimension) has at least one true."""
    mask = torch.rand(shape, generator=generator) < probability
    mask[..., 0] |= ~mask.any(-1)
    return mask


def mask_tensors(kinds, sizes, generator):
    B, H, Nq, Nk = sizes["batch"], sizes["heads"], sizes["queries"], sizes["keys"]
    tensors, causal = {}, False
    for kind in kinds:
        if kind == "causal":
            causal = True
        elif kind == "key_lengths":
            tensors["key_lengths"] = torch.tensor([Nk - 3 * b for b in range(B)], dtype=torch.int64)
        elif kind == "key_padding":
            tensors["key_padding"] = some_true((B, Nk), 0.6, generator)
        elif kind == "allowed":
            # [B, 1, Nq, Nk]: broadcast over heads.
            tensors["allowed"] = some_true((B, 1, Nq, Nk), 0.6, generator)
        elif kind == "bias":
            # [H, Nq, Nk] with a few -inf (but no row all -inf): broadcast over the batch.
            bias = torch.randn(H, Nq, Nk, generator=generator)
            blocked = torch.rand(H, Nq, Nk, generator=generator) < 0.2
            blocked[..., 0] = False
            tensors["bias"] = bias.masked_fill(blocked, -math.inf)
        elif kind == "fully_masked":
            # Rows 0 and 3 of batch 0 allow no key; batch 1 has no keys at all.
            allowed = some_true((B, 1, Nq, Nk), 0.7, generator)
            allowed[0, 0, [0, 3], :] = False
            tensors["allowed"] = allowed
            tensors["key_lengths"] = torch.tensor([Nk] + [0] * (B - 1), dtype=torch.int64)
        elif kind != "none":
            raise ValueError(kind)
    return tensors, causal


def scores(score, q, k, params, fixed_scale):
    """score(q, k): [B, H, Nq, Nk]."""
    if score == "dot":
        return q @ k.transpose(-1, -2)
    if score == "scaled_dot":
        scale = fixed_scale if fixed_scale is not None else 1 / math.sqrt(q.shape[-1])
        return scale * (q @ k.transpose(-1, -2))
    if score == "general":
        return (q @ params["w"]) @ k.transpose(-1, -2)
    if score == "additive":
        hidden = torch.tanh((q @ params["w_q"]).unsqueeze(3) + (k @ params["w_k"]).unsqueeze(2))
        return hidden @ params["v_a"]
    if score == "cosine":
        cosines = F.normalize(q, dim=-1, eps=1e-12) @ F.normalize(k, dim=-1, eps=1e-12).transpose(-1, -2)
        scale = params["scale"] if "scale" in params else (fixed_scale if fixed_scale is not None else 1.0)
        return scale * cosines
    raise ValueError(score)


def allowed_positions(masks, causal, sizes):
    """bool [B, H, Nq, Nk]: true where every mask allows (a -inf bias forbids)."""
    B, H, Nq, Nk = sizes["batch"], sizes["heads"], sizes["queries"], sizes["keys"]
    allowed = torch.ones(B, H, Nq, Nk, dtype=torch.bool)
    if causal:
        i = torch.arange(Nq).unsqueeze(1)
        j = torch.arange(Nk).unsqueeze(0)
        allowed &= j <= i + (Nk - Nq)
    if "key_lengths" in masks:
        allowed &= torch.arange(Nk).view(1, 1, 1, Nk) < masks["key_lengths"].view(B, 1, 1, 1)
    if "key_padding" in masks:
        allowed &= masks["key_padding"].view(B, 1, 1, Nk)
    if "allowed" in masks:
        allowed &= masks["allowed"]
    if "bias" in masks:
        allowed &= torch.isfinite(masks["bias"])
    return allowed


def masked_softmax(s, allowed):
    """weights and lse of the allowed scores; zeros and -inf for a row with none allowed."""
    s = torch.where(allowed, s, torch.zeros_like(s))
    largest = torch.where(allowed, s, torch.full_like(s, -math.inf)).amax(-1, keepdim=True).detach()
    largest = torch.where(torch.isfinite(largest), largest, torch.zeros_like(largest))
    exponentials = torch.exp(s - largest) * allowed
    total = exponentials.sum(-1, keepdim=True)
    weights = exponentials / torch.where(total > 0, total, torch.ones_like(total))
    lse = torch.where(total > 0, torch.log(total) + largest, torch.full_like(total, -math.inf))
    return weights, lse.squeeze(-1)


def cross_check(score, s, allowed, bias, weights, lse, out, q, k, v, fixed_scale):
    """The written-out softmax against PyTorch's own, on the rows that have an allowed key."""
    rows = allowed.any(-1)
    masked = s.masked_fill(~allowed, -math.inf)
    assert torch.allclose(weights[rows], torch.softmax(masked, -1)[rows], rtol=1e-12, atol=1e-14)
    assert torch.allclose(lse[rows], torch.logsumexp(masked, -1)[rows], rtol=1e-12, atol=1e-12)
    assert torch.all(weights[~rows] == 0) and torch.all(out[~rows] == 0)
    if score in ("dot", "scaled_dot") and bool(rows.all()):
        scale = 1.0 if score == "dot" else (fixed_scale or 1 / math.sqrt(q.shape[-1]))
        mask = torch.zeros_like(s) if bias is None else bias.expand_as(s)
        expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask.masked_fill(~allowed, -math.inf),
                                                  scale=scale)
        assert torch.allclose(out, expected, rtol=1e-10, atol=1e-12)


def make_case(score, fixed_scale, learned_scale, kinds, sizes, seed):
    generator = torch.Generator().manual_seed(seed)
    B, H, Nq, Nk = sizes["batch"], sizes["heads"], sizes["queries"], sizes["keys"]
    d, dv = sizes["head_dim"], sizes["value_dim"]
    inputs = {"q": torch.randn(B, H, Nq, d, generator=generator) * 0.5,
              "k": torch.randn(B, H, Nk, d, generator=generator) * 0.5,
              "v": torch.randn(B, H, Nk, dv, generator=generator)}
    params = score_parameters(score, sizes, learned_scale, generator)
    masks, causal = mask_tensors(kinds, sizes, generator)
    grad_out = torch.randn(B, H, Nq, dv, generator=generator)

    # float64 leaves holding exactly the stored float32 values.
    leaves = {name: t.double().requires_grad_(True) for name, t in {**inputs, **params}.items()}
    bias = masks["bias"].double() if "bias" in masks else None
    s = scores(score, leaves["q"], leaves["k"], leaves, fixed_scale)
    if bias is not None:
        s = s + torch.where(torch.isfinite(bias), bias, torch.zeros_like(bias))
    allowed = allowed_positions(masks, causal, sizes)
    weights, lse = masked_softmax(s, allowed)
    out = weights @ leaves["v"]
    out.backward(grad_out.double())
    cross_check(score, s.detach(), allowed, bias, weights.detach(), lse.detach(), out.detach(),
                leaves["q"].detach(), leaves["k"].detach(), leaves["v"].detach(), fixed_scale)

    tensors = {**inputs, **params, **masks, "grad_out": grad_out,
               "out": out.detach(), "lse": lse.detach(), "weights": weights.detach()}
    for name, leaf in leaves.items():
        tensors[f"grad_{name}"] = leaf.grad
    metadata = {"score": score, "causal": "true" if causal else "false", "torch": torch.__version__}
    if fixed_scale is not None:
        metadata["scale"] = repr(fixed_scale)
    return {name: t.contiguous() for name, t in tensors.items()}, metadata


def all_cases():
    seed = 0
    for prefix, score, fixed_scale, learned_scale in SCORES:
        for kind in MASKS:
            seed += 1
            yield f"{prefix}_{kind}", make_case(score, fixed_scale, learned_scale, [kind], GRID, seed)
    for name, score, fixed_scale, learned_scale, kinds, sizes in SHAPE_CASES:
        seed += 1
        yield name, make_case(score, fixed_scale, learned_scale, kinds, sizes, seed)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for stale in OUT.glob("*.safetensors"):
        stale.unlink()
    total = 0
    for name, (tensors, metadata) in all_cases():
        path = OUT / f"{name}.safetensors"
        save_file(tensors, str(path), metadata=metadata)
        total += path.stat().st_size
    print(f"wrote {OUT} ({total / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
