"""attn's fused attention as PyTorch operators, with autograd, and nn.Modules over them.

Three operators sit on attn's kernels (attn/kernels/flash_attention.h), in the kernel's score
form (Dot with a scale, or Additive with v_a after q and k were projected):

  attn::flash_attention_forward   (q, k, v, v_a, scale, masks) -> (out, lse)
  attn::flash_attention_backward  (grad_out, q, k, v, v_a, out, lse, scale, masks)
                                  -> (grad_q, grad_k, grad_v, grad_v_a)
  attn::attention_weights_from_lse (q, k, v_a, lse, scale, masks, rows, heads) -> weights

With torch >= 2.4 they are torch.library custom operators, with register_fake (so
torch.compile traces them) and register_autograd; with an older torch (Debian's 1.13) the same
kernels run inside a torch.autograd.Function. attention() reduces each of the five score
functions to the kernel's form with ordinary torch operations (the projections of general and
additive, the normalisation of cosine), so PyTorch differentiates those and the score
parameters are ordinary Parameters. attn's threads follow torch.get_num_threads().
"""

import math
from typing import List, Optional, Tuple

import torch
from torch import Tensor, nn

from . import _core
from ._arguments import SCORES, require_bool, row_range, score_name, split_mask

__all__ = [
    "SCORES",
    "HAS_CUSTOM_OP",
    "attention",
    "attention_weights_from_lse",
    "AdditiveAttention",
    "BilinearAttention",
    "CosineAttention",
    "MultiheadAttention",
]

HAS_CUSTOM_OP = hasattr(torch, "library") and hasattr(torch.library, "custom_op")


# ---- the kernels on torch tensors -------------------------------------------------------

def _array(tensor):
    """A NumPy view of a CPU tensor, for the kernels: no copy, through the buffer protocol.
    (attn._core takes DLPack too, but torch's __dlpack__ costs about 6 µs a tensor against
    well under 1 µs for Tensor.numpy(), which also carries bool masks on torch 1.13.)"""
    return None if tensor is None else tensor.detach().numpy()


def _masks(key_lengths, allowed, bias):
    return dict(key_lengths=_array(key_lengths), allowed=_array(allowed), bias=_array(bias))


def _run_forward(q, k, v, v_a, scale, causal, key_lengths, allowed, bias, dropout, seed):
    batch, heads, queries, _ = q.shape
    out = q.new_empty((batch, heads, queries, v.shape[-1]))
    lse = q.new_empty((batch, heads, queries))
    _core.set_num_threads(torch.get_num_threads())
    _core.flash_forward(_array(q), _array(k), _array(v), _array(v_a), scale, causal,
                        dropout=dropout, seed=seed, out=_array(out), lse=_array(lse),
                        **_masks(key_lengths, allowed, bias))
    return out, lse


def _run_backward(grad_out, q, k, v, v_a, out, lse, scale, causal, key_lengths, allowed, bias,
                  dropout, seed):
    grad_q = q.new_empty(q.shape)
    grad_k = k.new_empty(k.shape)
    grad_v = v.new_empty(v.shape)
    # A custom operator returns tensors only: an empty one stands for "no v_a".
    grad_v_a = q.new_empty(v_a.shape) if v_a is not None else q.new_empty((0,))
    _core.set_num_threads(torch.get_num_threads())
    _core.flash_backward(_array(q), _array(k), _array(v), _array(v_a), scale, causal,
                         dropout=dropout, seed=seed, out=_array(out.contiguous()),
                         lse=_array(lse.contiguous()), grad_out=_array(grad_out.contiguous()),
                         grad_q=_array(grad_q), grad_k=_array(grad_k), grad_v=_array(grad_v),
                         grad_v_a=_array(grad_v_a) if v_a is not None else None,
                         **_masks(key_lengths, allowed, bias))
    return grad_q, grad_k, grad_v, grad_v_a


def _run_weights(q, k, v_a, lse, scale, causal, key_lengths, allowed, bias, row_begin, row_end,
                 heads):
    weights = q.new_empty((q.shape[0], len(heads), row_end - row_begin, k.shape[2]))
    _core.set_num_threads(torch.get_num_threads())
    _core.flash_weights(_array(q), _array(k), _array(v_a), scale, causal,
                        lse=_array(lse.contiguous()), row_begin=row_begin, row_end=row_end,
                        heads=list(heads), out=_array(weights),
                        **_masks(key_lengths, allowed, bias))
    return weights


# ---- the operators ------------------------------------------------------------------------

# Autograd's two halves, shared by the custom operator and the autograd.Function.
def _save_for_backward(ctx, inputs, out, lse):
    q, k, v, v_a, scale, causal, key_lengths, allowed, bias, dropout, seed = inputs
    ctx.save_for_backward(q, k, v, v_a, out, lse, key_lengths, allowed, bias)
    ctx.constants = scale, causal, dropout, seed
    ctx.mark_non_differentiable(lse)


def _gradients(ctx, grad_out, backward):
    """The gradients of the forward's eleven inputs: q, k, v and v_a; none for the rest."""
    q, k, v, v_a, out, lse, key_lengths, allowed, bias = ctx.saved_tensors
    scale, causal, dropout, seed = ctx.constants
    grad_q, grad_k, grad_v, grad_v_a = backward(grad_out, q, k, v, v_a, out, lse, scale, causal,
                                                key_lengths, allowed, bias, dropout, seed)
    return (grad_q, grad_k, grad_v, grad_v_a if v_a is not None else None) + (None,) * 7


if HAS_CUSTOM_OP:

    @torch.library.custom_op("attn::flash_attention_forward", mutates_args=())
    def flash_attention_forward(q: Tensor, k: Tensor, v: Tensor, v_a: Optional[Tensor],
                                scale: float, causal: bool, key_lengths: Optional[Tensor],
                                allowed: Optional[Tensor], bias: Optional[Tensor],
                                dropout: float, seed: int) -> Tuple[Tensor, Tensor]:
        return _run_forward(q, k, v, v_a, scale, causal, key_lengths, allowed, bias, dropout,
                            seed)

    @flash_attention_forward.register_fake
    def _(q, k, v, v_a, scale, causal, key_lengths, allowed, bias, dropout, seed):
        batch, heads, queries, _ = q.shape
        return (q.new_empty((batch, heads, queries, v.shape[-1])),
                q.new_empty((batch, heads, queries)))

    @torch.library.custom_op("attn::flash_attention_backward", mutates_args=())
    def flash_attention_backward(grad_out: Tensor, q: Tensor, k: Tensor, v: Tensor,
                                 v_a: Optional[Tensor], out: Tensor, lse: Tensor, scale: float,
                                 causal: bool, key_lengths: Optional[Tensor],
                                 allowed: Optional[Tensor], bias: Optional[Tensor],
                                 dropout: float, seed: int
                                 ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        return _run_backward(grad_out, q, k, v, v_a, out, lse, scale, causal, key_lengths,
                             allowed, bias, dropout, seed)

    @flash_attention_backward.register_fake
    def _(grad_out, q, k, v, v_a, out, lse, scale, causal, key_lengths, allowed, bias, dropout,
          seed):
        grad_v_a = q.new_empty(v_a.shape) if v_a is not None else q.new_empty((0,))
        return q.new_empty(q.shape), k.new_empty(k.shape), v.new_empty(v.shape), grad_v_a

    @torch.library.custom_op("attn::attention_weights_from_lse", mutates_args=())
    def weights_from_lse_op(q: Tensor, k: Tensor, v_a: Optional[Tensor], lse: Tensor,
                            scale: float, causal: bool, key_lengths: Optional[Tensor],
                            allowed: Optional[Tensor], bias: Optional[Tensor], row_begin: int,
                            row_end: int, heads: List[int]) -> Tensor:
        return _run_weights(q, k, v_a, lse, scale, causal, key_lengths, allowed, bias,
                            row_begin, row_end, heads)

    @weights_from_lse_op.register_fake
    def _(q, k, v_a, lse, scale, causal, key_lengths, allowed, bias, row_begin, row_end, heads):
        return q.new_empty((q.shape[0], len(heads), row_end - row_begin, k.shape[2]))

    def _setup_context(ctx, inputs, output):
        _save_for_backward(ctx, inputs, *output)

    def _backward(ctx, grad_out, grad_lse):
        return _gradients(ctx, grad_out.contiguous(), flash_attention_backward)

    flash_attention_forward.register_autograd(_backward, setup_context=_setup_context)

    def _fused(*arguments):
        return flash_attention_forward(*arguments)

    def _weights(*arguments):
        return weights_from_lse_op(*arguments)

else:

    class _FusedAttention(torch.autograd.Function):
        """The same kernels for a torch without torch.library.custom_op."""

        @staticmethod
        def forward(ctx, *inputs):
            out, lse = _run_forward(*inputs)
            _save_for_backward(ctx, inputs, out, lse)
            return out, lse

        @staticmethod
        def backward(ctx, grad_out, grad_lse):
            return _gradients(ctx, grad_out, _run_backward)

    def _fused(*arguments):
        return _FusedAttention.apply(*arguments)

    def _weights(*arguments):
        with torch.no_grad():
            return _run_weights(*arguments)


# ---- the score functions in the kernel's form -------------------------------------------

def _kernel_form(q, k, score, scale, w, w_q, w_k, v_a, learned_scale):
    """(q, k, v_a, scale) such that the kernel's Dot or Additive score equals `score`'s."""
    score = score_name(score)
    needed = {"general": ("w",), "additive": ("w_q", "w_k", "v_a")}.get(score, ())
    given = dict(w=w, w_q=w_q, w_k=w_k, v_a=v_a)
    for name in needed:
        if given[name] is None:
            raise ValueError(f"the {score} score needs {name!r}")
    for name, value in given.items():
        if value is not None and name not in needed:
            raise ValueError(f"{name!r} is a parameter of another score, not of {score}")
    if score == "dot":
        return q, k, None, _fixed_scale(scale, 1.0, score)
    if score == "scaled_dot":
        return q, k, None, 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    if score == "general":
        return q @ w, k, None, _fixed_scale(scale, 1.0, score)
    if score == "additive":
        return q @ w_q, k @ w_k, v_a, _fixed_scale(scale, 1.0, score)
    # cosine: unit rows (norms clamped at 1e-12, as attn's C++); a learned scale is folded
    # into q so that PyTorch differentiates it.
    q = torch.nn.functional.normalize(q, dim=-1, eps=1e-12)
    k = torch.nn.functional.normalize(k, dim=-1, eps=1e-12)
    if learned_scale is not None:
        if scale is not None:
            raise ValueError("give the cosine score 'scale' or 'learned_scale', not both")
        return q * learned_scale, k, None, 1.0
    return q, k, None, 1.0 if scale is None else float(scale)


def _fixed_scale(scale, default, score):
    if scale is not None:
        raise ValueError(f"the {score} score takes no 'scale'")
    return default


def _broadcast4(mask, shape, name):
    if mask.dim() > 4:
        raise ValueError(f"{name!r} has {mask.dim()} dimensions; at most 4 broadcast to "
                         f"[B, H, Nq, Nk] = {list(shape)}")
    mask = mask.reshape((1,) * (4 - mask.dim()) + tuple(mask.shape))
    try:
        return mask.expand(shape)
    except RuntimeError:
        raise ValueError(f"{name!r} of shape {tuple(mask.shape)} does not broadcast to "
                         f"[B, H, Nq, Nk] = {list(shape)}") from None


def _kernel_masks(q, k, mask, key_padding_mask):
    """(allowed, bias) as [B, H, Nq, Nk] views (broadcast dimensions have stride 0)."""
    shape = (q.shape[0], q.shape[1], q.shape[2], k.shape[2])
    require_bool(key_padding_mask, "key_padding_mask")
    allowed, bias = split_mask(mask)
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (shape[0], shape[3]):
            raise ValueError(f"'key_padding_mask' has shape {tuple(key_padding_mask.shape)}, "
                             f"expected [B, Nk] = {[shape[0], shape[3]]}")
        keys = (~key_padding_mask)[:, None, None, :]
        allowed = keys if allowed is None else _broadcast4(allowed, shape, "mask") & keys
    if allowed is not None:
        allowed = _broadcast4(allowed, shape, "mask")
    if bias is not None:
        bias = _broadcast4(bias.to(q.dtype), shape, "mask")
    return allowed, bias


def _check_inputs(q, k, v):
    for name, tensor in (("q", q), ("k", k), ("v", v)):
        if not isinstance(tensor, Tensor):
            raise TypeError(f"{name!r} must be a torch.Tensor, got {type(tensor).__name__}")
        if tensor.dim() != 4:
            raise ValueError(f"{name!r} must have 4 dimensions [B, H, N, d], got shape "
                             f"{tuple(tensor.shape)}")
        if tensor.dtype not in (torch.float32, torch.float64):
            raise TypeError(f"{name!r} has dtype {tensor.dtype}; attn takes float32 or float64")
        if tensor.device.type != "cpu":
            raise ValueError(f"{name!r} is on {tensor.device}; attn's kernels run on the CPU")


def _plain_call(*tensors):
    """True when no gradient is wanted and the tensors are plain ones (not fake tensors of a
    trace): the kernels then run directly, without the operator's dispatch (about 10 µs)."""
    present = [t for t in tensors if t is not None]
    if torch.is_grad_enabled() and any(t.requires_grad for t in present):
        return False
    return all(type(t) is Tensor for t in present)


def _last_dim_contiguous(tensor):
    return tensor if tensor.shape[-1] == 1 or tensor.stride(-1) == 1 else tensor.contiguous()


# ---- the public functions ----------------------------------------------------------------

def attention(q, k, v, score="scaled_dot", *, scale=None, w=None, w_q=None, w_k=None, v_a=None,
              learned_scale=None, mask=None, key_padding_mask=None, key_lengths=None,
              causal=False, need_weights=False, return_lse=False, dropout=0.0):
    """attn.attention for torch tensors, differentiable in q, k, v and the score parameters
    (w, w_q, w_k, v_a, learned_scale). Arguments and results as attn.attention; q, k, v may
    be any [B, H, N, d] views whose last dimension is contiguous (no copy is made), such as
    x.view(B, N, H, d).transpose(1, 2). The float mask is added to the scores but not
    differentiated.

    dropout: the probability of dropping each attention weight (as
    scaled_dot_product_attention's dropout_p; give 0 outside training). The elements dropped
    follow a seed drawn from torch's generator, so torch.manual_seed makes them repeat; the
    weights that need_weights returns are those before dropout."""
    _check_inputs(q, k, v)
    kq, kk, kv_a, kscale = _kernel_form(q, k, score, scale, w, w_q, w_k, v_a, learned_scale)
    kq, kk, v = _last_dim_contiguous(kq), _last_dim_contiguous(kk), _last_dim_contiguous(v)
    allowed, bias = _kernel_masks(q, k, mask, key_padding_mask)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"'dropout' must be in [0, 1), got {dropout}")
    seed = int(torch.randint(0, 2**62, ()).item()) if dropout > 0 else 0
    arguments = (kq, kk, v, kv_a, kscale, bool(causal), key_lengths, allowed, bias,
                 float(dropout), seed)
    out, lse = _run_forward(*arguments) if _plain_call(kq, kk, v, kv_a) else _fused(*arguments)
    extras = ()
    if need_weights:
        # The weights are an observation, not part of the graph: detached, as in attn's C++.
        detached = [None if t is None else t.detach() for t in (kq, kk, kv_a)]
        extras += (_weights(*detached, lse, kscale, bool(causal), key_lengths, allowed, bias,
                            0, q.shape[2], list(range(q.shape[1]))),)
    if return_lse:
        extras += (lse,)
    return (out,) + extras if extras else out


def attention_weights_from_lse(q, k, lse, score="scaled_dot", *, rows=None, heads=None,
                               scale=None, w=None, w_q=None, w_k=None, v_a=None,
                               learned_scale=None, mask=None, key_padding_mask=None,
                               key_lengths=None, causal=False):
    """attn.attention_weights_from_lse for torch tensors (no gradient)."""
    _check_inputs(q, k, k)
    kq, kk, kv_a, kscale = _kernel_form(q, k, score, scale, w, w_q, w_k, v_a, learned_scale)
    allowed, bias = _kernel_masks(q, k, mask, key_padding_mask)
    begin, end = row_range(rows, q.shape[2])
    heads = list(range(q.shape[1])) if heads is None else [int(h) for h in heads]
    with torch.no_grad():
        return _weights(_last_dim_contiguous(kq), _last_dim_contiguous(kk), kv_a, lse, kscale,
                        bool(causal), key_lengths, allowed, bias, begin, end, heads)


# ---- modules ------------------------------------------------------------------------------

class _ScoreAttention(nn.Module):
    """Single-head attention of [B, Nq, dq] queries over [B, Nk, dk] keys and [B, Nk, dv]
    values (or [B, H, N, ·], heads sharing the parameters); returns out [B, Nq, dv] and, with
    need_weights, the weights [B, Nq, Nk]."""

    def forward(self, query, key, value, mask=None, key_padding_mask=None, key_lengths=None,
                causal=False, need_weights=False):
        three = query.dim() == 3
        if three:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if mask is not None and mask.dim() == 3:
                mask = mask.unsqueeze(1)
        result = attention(query, key, value, self.score, mask=mask,
                           key_padding_mask=key_padding_mask, key_lengths=key_lengths,
                           causal=causal, need_weights=need_weights, **self._parameters_of_score())
        if not three:
            return result
        if need_weights:
            return result[0].squeeze(1), result[1].squeeze(1)
        return result.squeeze(1)


class AdditiveAttention(_ScoreAttention):
    """Bahdanau's score v_a·tanh(q W_q + k W_k), fused: the [B, Nq, Nk, a] tensor of the
    textbook version is never built, forward or backward. W_q [query_dim, attention_dim],
    W_k [key_dim, attention_dim] and v_a [attention_dim] are Parameters."""

    score = "additive"

    def __init__(self, query_dim, attention_dim, key_dim=None, dtype=None):
        super().__init__()
        key_dim = query_dim if key_dim is None else key_dim
        self.w_q = nn.Parameter(torch.empty(query_dim, attention_dim, dtype=dtype))
        self.w_k = nn.Parameter(torch.empty(key_dim, attention_dim, dtype=dtype))
        self.v_a = nn.Parameter(torch.empty(attention_dim, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self):
        for weight in (self.w_q, self.w_k):
            nn.init.uniform_(weight, -1 / math.sqrt(weight.shape[0]), 1 / math.sqrt(weight.shape[0]))
        nn.init.uniform_(self.v_a, -1 / math.sqrt(self.v_a.shape[0]), 1 / math.sqrt(self.v_a.shape[0]))

    def _parameters_of_score(self):
        return dict(w_q=self.w_q, w_k=self.w_k, v_a=self.v_a)


class BilinearAttention(_ScoreAttention):
    """Luong's general score q W kᵀ; W [query_dim, key_dim] is a Parameter."""

    score = "general"

    def __init__(self, query_dim, key_dim=None, dtype=None):
        super().__init__()
        key_dim = query_dim if key_dim is None else key_dim
        self.w = nn.Parameter(torch.empty(query_dim, key_dim, dtype=dtype))
        nn.init.xavier_uniform_(self.w)

    def _parameters_of_score(self):
        return dict(w=self.w)


class CosineAttention(_ScoreAttention):
    """scale·cos(q, k); the scale is a learned Parameter (initial `scale`) unless
    learn_scale=False."""

    score = "cosine"

    def __init__(self, scale=10.0, learn_scale=True, dtype=None):
        super().__init__()
        value = torch.tensor(float(scale), dtype=dtype or torch.get_default_dtype())
        if learn_scale:
            self.scale = nn.Parameter(value)
        else:
            self.register_buffer("scale", value)
        self.learn_scale = learn_scale

    def _parameters_of_score(self):
        if self.learn_scale:
            return dict(learned_scale=self.scale)
        return dict(scale=float(self.scale))


class MultiheadAttention(nn.Module):
    """A drop-in for torch.nn.MultiheadAttention (the same arguments, parameters and state
    dict) on attn's fused operator. need_weights=True recomputes the weights from the
    log-sum-exp instead of leaving the fused path, and without it no [L, S] tensor is made.

    Differences: the weights returned are detached (no gradient flows through them) and,
    under dropout, those before dropout; a float attn_mask or key_padding_mask is added to
    the scores but not differentiated."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        super().__init__()
        if embed_dim % num_heads != 0:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        factory = dict(device=device, dtype=dtype)
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.head_dim = embed_dim // num_heads
        self.batch_first, self.add_zero_attn = batch_first, add_zero_attn
        if self._qkv_same_embed_dim:
            self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim, **factory))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = nn.Parameter(torch.empty(embed_dim, embed_dim, **factory))
            self.k_proj_weight = nn.Parameter(torch.empty(embed_dim, self.kdim, **factory))
            self.v_proj_weight = nn.Parameter(torch.empty(embed_dim, self.vdim, **factory))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = nn.Parameter(torch.empty(3 * embed_dim, **factory))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
        if add_bias_kv:
            self.bias_k = nn.Parameter(torch.empty(1, 1, embed_dim, **factory))
            self.bias_v = nn.Parameter(torch.empty(1, 1, embed_dim, **factory))
        else:
            self.bias_k = self.bias_v = None
        self._reset_parameters()

    def _reset_parameters(self):
        # torch.nn.MultiheadAttention's initialisation.
        if self._qkv_same_embed_dim:
            nn.init.xavier_uniform_(self.in_proj_weight)
        else:
            for weight in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                nn.init.xavier_uniform_(weight)
        if self.in_proj_bias is not None:
            nn.init.constant_(self.in_proj_bias, 0.0)
            nn.init.constant_(self.out_proj.bias, 0.0)
        for bias in (self.bias_k, self.bias_v):
            if bias is not None:
                nn.init.xavier_normal_(bias)

    def _projections(self, query, key, value):
        embed = self.embed_dim
        if self._qkv_same_embed_dim:
            w_q, w_k, w_v = self.in_proj_weight.split(embed)
        else:
            w_q, w_k, w_v = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        b_q = b_k = b_v = None
        if self.in_proj_bias is not None:
            b_q, b_k, b_v = self.in_proj_bias.split(embed)
        linear = torch.nn.functional.linear
        return linear(query, w_q, b_q), linear(key, w_k, b_k), linear(value, w_v, b_v)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        unbatched = query.dim() == 2
        if unbatched:
            query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif not self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        batch, target, _ = query.shape
        q, k, v = self._projections(query, key, value)
        extra_keys = 0
        if self.bias_k is not None:
            k = torch.cat([k, self.bias_k.expand(batch, 1, -1)], dim=1)
            v = torch.cat([v, self.bias_v.expand(batch, 1, -1)], dim=1)
            extra_keys += 1
        if self.add_zero_attn:
            k = torch.cat([k, k.new_zeros(batch, 1, self.embed_dim)], dim=1)
            v = torch.cat([v, v.new_zeros(batch, 1, self.embed_dim)], dim=1)
            extra_keys += 1
        source = k.shape[1]

        def heads(x):  # [B, N, E] -> [B, H, N, head_dim], a view
            return x.view(batch, x.shape[1], self.num_heads, self.head_dim).transpose(1, 2)

        mask = self._merged_mask(attn_mask, key_padding_mask, batch, target, source, extra_keys,
                                 q.dtype)
        result = attention(heads(q), heads(k), heads(v), "scaled_dot", mask=mask,
                           causal=is_causal and attn_mask is None, need_weights=need_weights,
                           dropout=self.dropout if self.training else 0.0)
        out, weights = (result if need_weights else (result, None))
        out = self.out_proj(out.transpose(1, 2).reshape(batch, target, self.embed_dim))
        if unbatched:
            out = out.squeeze(0)
        elif not self.batch_first:
            out = out.transpose(0, 1)
        if weights is not None:
            weights = weights.mean(dim=1) if average_attn_weights else weights
            weights = weights.squeeze(0) if unbatched else weights
        return out, weights

    def _merged_mask(self, attn_mask, key_padding_mask, batch, target, source, extra_keys, dtype):
        """One mask in attention()'s terms (bool True = may attend, or float added) from
        MultiheadAttention's (bool True = masked out, or float added)."""
        masks = []
        if attn_mask is not None:
            if attn_mask.dim() == 3:  # [B * H, L, S]
                attn_mask = attn_mask.view(batch, self.num_heads, target, -1)
            masks.append(attn_mask)
        if key_padding_mask is not None:
            masks.append(key_padding_mask.view(batch, 1, 1, -1))
        if not masks:
            return None
        # The appended bias_k / zero keys are never masked.
        if extra_keys:
            masks = [torch.cat([m, m.new_zeros(m.shape[:-1] + (extra_keys,))], dim=-1)
                     for m in masks]
        if all(m.dtype == torch.bool for m in masks):
            masked = masks[0] if len(masks) == 1 else masks[0] | masks[1]
            return ~masked
        total = None
        for m in masks:
            as_bias = (torch.zeros(m.shape, dtype=dtype).masked_fill(m, float("-inf"))
                       if m.dtype == torch.bool else m.to(dtype))
            total = as_bias if total is None else total + as_bias
        return total
