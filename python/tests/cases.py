"""Inputs for the parity tests: every score with its parameters, every kind of mask."""

import torch

SCORES = ("dot", "scaled_dot", "general", "additive", "cosine")
MASKS = ("none", "key_padding", "key_lengths", "causal", "bool", "float", "fully_masked_rows")

B, H, NQ, NK, D, DV, A = 2, 2, 5, 7, 4, 3, 6


def inputs(dtype=torch.float64, seed=0, shape=(B, H, NQ, NK, D, DV)):
    batch, heads, queries, keys, d, dv = shape
    generator = torch.Generator().manual_seed(seed)

    def normal(*size):
        return torch.randn(*size, generator=generator, dtype=dtype)

    return normal(batch, heads, queries, d), normal(batch, heads, keys, d), normal(batch, heads, keys, dv)


def score_parameters(score, d, dtype=torch.float64, seed=1, learned=False):
    generator = torch.Generator().manual_seed(seed)

    def normal(*size):
        return torch.randn(*size, generator=generator, dtype=dtype) * 0.5

    if score == "general":
        return {"w": normal(d, d)}
    if score == "additive":
        return {"w_q": normal(d, A), "w_k": normal(d, A), "v_a": normal(A)}
    if score == "cosine" and learned:
        return {"learned_scale": torch.tensor(3.0, dtype=dtype)}
    if score == "cosine":
        return {"scale": 2.5}
    return {}


def masks(kind, batch, heads, queries, keys, dtype=torch.float64, seed=2):
    generator = torch.Generator().manual_seed(seed)
    if kind == "none":
        return {}
    if kind == "key_padding":
        padding = torch.zeros(batch, keys, dtype=torch.bool)
        padding[0, keys - 2:] = True
        return {"key_padding_mask": padding}
    if kind == "key_lengths":
        return {"key_lengths": torch.tensor([keys - 3] + [keys] * (batch - 1), dtype=torch.int64)}
    if kind == "causal":
        return {"causal": True}
    if kind == "bool":
        allowed = torch.rand(batch, 1, queries, keys, generator=generator) > 0.3
        allowed[..., 0] = True
        return {"mask": allowed}
    if kind == "float":
        bias = torch.randn(1, heads, queries, keys, generator=generator, dtype=dtype)
        bias[0, 0, 1, 2] = float("-inf")
        return {"mask": bias}
    if kind == "fully_masked_rows":
        allowed = torch.ones(batch, heads, queries, keys, dtype=torch.bool)
        allowed[0, 1, 2, :] = False
        allowed[1, 0, 0, :] = False
        return {"mask": allowed}
    raise ValueError(kind)
