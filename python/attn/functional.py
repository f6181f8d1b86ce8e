"""attention() on NumPy arrays: attn::ops::attention (attn/ops/attention.h) without copies."""

import numpy as np

from . import _core
from ._arguments import SCORES, require_bool, row_range, score_name, split_mask

__all__ = ["SCORES", "attention", "attention_weights_from_lse"]


def _core_arguments(score, scale, w, w_q, w_k, v_a, learned_scale, mask, key_padding_mask,
                    key_lengths, causal):
    require_bool(key_padding_mask, "key_padding_mask")
    allowed, bias = split_mask(mask)
    # attn's C++ key_padding is "True = may attend"; PyTorch's key_padding_mask is
    # "True = padding" (torch.nn.MultiheadAttention), which Python users expect.
    key_padding = None if key_padding_mask is None else np.logical_not(key_padding_mask)
    return dict(score=score_name(score), scale=scale, w=w, w_q=w_q, w_k=w_k, v_a=v_a,
                learned_scale=learned_scale, causal=bool(causal), key_lengths=key_lengths,
                key_padding=key_padding, allowed=allowed, bias=bias)


def attention(q, k, v, score="scaled_dot", *, scale=None, w=None, w_q=None, w_k=None, v_a=None,
              learned_scale=None, mask=None, key_padding_mask=None, key_lengths=None,
              causal=False, need_weights=False, return_lse=False, impl="fused"):
    """out = softmax(score(q, k) + mask) v, for q [B, H, Nq, d], k [B, H, Nk, d] and
    v [B, H, Nk, dv] (float32 or float64, C-contiguous).

    score: "dot" (q·k), "scaled_dot" (scale·q·k, scale defaulting to 1/sqrt(d)), "general"
    or "bilinear" (q W kᵀ, needs w [d, d]), "additive" (v_a·tanh(q W_q + k W_k), needs
    w_q and w_k [d, a] and v_a [a]), "cosine" (scale·cos(q, k), scale fixed, default 1, or
    learned_scale, shape ()).

    Masks, combined (a key is attended only where every mask allows it):
      mask              bool, True = may attend, or float, added to the scores; broadcastable
                        to [B, H, Nq, Nk] (as scaled_dot_product_attention's attn_mask);
      key_padding_mask  bool [B, Nk], True = padding, ignored (as nn.MultiheadAttention);
      key_lengths       int64 [B]: keys j >= key_lengths[b] are padding;
      causal            query i sees key j iff j <= i + (Nk - Nq).
    A row with every key masked gives zeros and a log-sum-exp of -inf.

    impl: "fused" (never holds [Nq, Nk], nor [Nq, Nk, a]), "reference" or "auto".

    Returns out [B, H, Nq, dv]; with need_weights or return_lse, a tuple (out, weights
    [B, H, Nq, Nk] if need_weights, lse [B, H, Nq] if return_lse).
    """
    out, weights, lse = _core.attention(
        q, k, v, need_weights=bool(need_weights), impl=impl,
        **_core_arguments(score, scale, w, w_q, w_k, v_a, learned_scale, mask,
                          key_padding_mask, key_lengths, causal))
    extras = ((weights,) if need_weights else ()) + ((lse,) if return_lse else ())
    return (out,) + extras if extras else out


def attention_weights_from_lse(q, k, lse, score="scaled_dot", *, rows=None, heads=None,
                               scale=None, w=None, w_q=None, w_k=None, v_a=None,
                               learned_scale=None, mask=None, key_padding_mask=None,
                               key_lengths=None, causal=False):
    """The attention weights exp(s_ij - lse_i), recomputed from the log-sum-exp that
    attention(..., return_lse=True) returned, for the query rows in `rows` (a range or
    (begin, end); all by default) and the listed heads (all by default): [B, len(heads),
    len(rows), Nk]. Memory is O(rows · Nk) per head. The score and mask arguments must be
    those of the attention() call."""
    begin, end = row_range(rows, q.shape[2])
    heads = list(range(q.shape[1])) if heads is None else [int(h) for h in heads]
    return _core.attention_weights_from_lse(
        q, k, lse, row_begin=begin, row_end=end, heads=heads,
        **_core_arguments(score, scale, w, w_q, w_k, v_a, learned_scale, mask,
                          key_padding_mask, key_lengths, causal))

