"""Plain torch attention that holds every intermediate: the oracle of the tests."""

import torch


def scores(q, k, score, scale=None, w=None, w_q=None, w_k=None, v_a=None, learned_scale=None):
    if score == "dot":
        return q @ k.transpose(-1, -2)
    if score == "scaled_dot":
        scale = q.shape[-1] ** -0.5 if scale is None else scale
        return scale * (q @ k.transpose(-1, -2))
    if score in ("general", "bilinear"):
        return (q @ w) @ k.transpose(-1, -2)
    if score == "additive":
        # [B, H, Nq, Nk, a]: the tensor the fused kernel never builds.
        hidden = torch.tanh((q @ w_q).unsqueeze(-2) + (k @ w_k).unsqueeze(-3))
        return hidden @ v_a
    if score == "cosine":
        qn = q / q.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        kn = k / k.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        factor = learned_scale if learned_scale is not None else (1.0 if scale is None else scale)
        return factor * (qn @ kn.transpose(-1, -2))
    raise ValueError(score)


def allowed_keys(shape, mask=None, key_padding_mask=None, key_lengths=None, causal=False):
    batch, heads, queries, keys = shape
    allowed = torch.ones(shape, dtype=torch.bool)
    if mask is not None and mask.dtype == torch.bool:
        allowed = allowed & mask
    if key_padding_mask is not None:
        allowed = allowed & ~key_padding_mask[:, None, None, :]
    if key_lengths is not None:
        allowed = allowed & (torch.arange(keys)[None, :] < key_lengths[:, None])[:, None, None, :]
    if causal:
        i = torch.arange(queries)[:, None]
        j = torch.arange(keys)[None, :]
        allowed = allowed & (j <= i + (keys - queries))
    return allowed


def attention(q, k, v, score="scaled_dot", mask=None, key_padding_mask=None, key_lengths=None,
              causal=False, **parameters):
    """(out, weights, lse), with zeros and lse = -inf where a row has no allowed key."""
    s = scores(q, k, score, **parameters)
    if mask is not None and mask.dtype != torch.bool:
        s = s + mask
    allowed = allowed_keys(s.shape, mask, key_padding_mask, key_lengths, causal)
    s = s.masked_fill(~allowed, float("-inf"))
    row_max = s.amax(dim=-1, keepdim=True)
    row_max = torch.where(torch.isfinite(row_max), row_max, torch.zeros_like(row_max))
    p = torch.exp(s - row_max) * allowed
    total = p.sum(dim=-1, keepdim=True)
    weights = p / torch.where(total > 0, total, torch.ones_like(total))
    lse = (torch.log(total) + row_max).squeeze(-1)
    return weights @ v, weights, lse
