#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures for the attention modules, the positional encodings
and the `attn attention run` case runner to tests/fixtures/attention_modules/.

Module fixtures (mha_*, seed003_mhsa, attention_*) hold a module's parameters under
"param.<state_dict name>", its inputs, a fixed projection "projection.output", the forward
results and the gradients of

    loss = sum(output * projection.output)

with respect to every floating input ("grad.<input>") and parameter ("grad.<name>").
Inputs and parameters are drawn in float32 and stored in float32; the references are computed
in float64 from those same values and rounded to float32, so any difference the C++ tests see
is attn's own rounding. Settings travel as strings in __metadata__.

  mha_*          torch.nn.MultiheadAttention: masks (key_padding_mask bool and float,
                 attn_mask bool and float, 2-D and per head, causal), need_weights averaged
                 and per head, kdim/vdim != E, batch_first both, Nq != Nk, no bias, unbatched
  seed003_mhsa   the MultiHeadSelfAttention class of seed 003, verbatim
  attention_*    the single-head Attn(X, X') of attn::nn::Attention for every score function
  sinusoidal     the paper's sinusoidal table, as the PyTorch tutorial computes it
  rope           rotary embedding, rotate-half convention (GPT-NeoX, Hugging Face LLaMA)
  case_multihead / case_multihead_expected
                 an `attn attention run` case file (the documented schema) and the results
                 PyTorch gives for it

Usage: python3 tools/make_attention_module_fixtures.py [output_dir]
"""
import json
import math
import pathlib
import struct
import sys

import torch
from safetensors.torch import save_file

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEED = 20240611


def uniform(generator, *shape, low=-1.0, high=1.0):
    return torch.empty(shape).uniform_(low, high, generator=generator)


def randomize_parameters(module, generator, low=-0.5, high=0.5):
    with torch.no_grad():
        for _, parameter in module.named_parameters():
            parameter.copy_(uniform(generator, *parameter.shape, low=low, high=high))


def sort_metadata(path):
    """Rewrites the header with the metadata keys sorted, so regenerated files are identical."""
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    if "__metadata__" in header:
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":")).encode()
    assert len(text) <= length
    path.write_bytes(data[:8] + text.ljust(length, b" ") + data[8 + length:])


def save(directory, name, record, config):
    tensors = {key: value.detach().contiguous() for key, value in record.items()}
    metadata = {key: str(value).lower() if isinstance(value, bool) else str(value)
                for key, value in config.items()}
    path = directory / f"{name}.safetensors"
    save_file(tensors, str(path), metadata=metadata)
    sort_metadata(path)
    print(f"{name}: {len(tensors)} tensors, {sum(t.numel() for t in tensors.values())} values")


def run_reference(module, inputs, forward, self_attention=False):
    """Runs `forward(module64, leaves)` in float64; returns the record of a module fixture.

    `inputs` maps names to float32 tensors (bool masks pass through); `forward` returns a dict
    with "output" and optionally "weights". Only "output" is projected into the loss.
    """
    module64 = module.double()
    leaves = {}
    for name, tensor in inputs.items():
        if tensor.is_floating_point() and not name.endswith("mask"):
            leaves[name] = tensor.double().requires_grad_(True)
        elif tensor.is_floating_point():
            leaves[name] = tensor.double()
        else:
            leaves[name] = tensor
    outputs = forward(module64, leaves)
    generator = torch.Generator().manual_seed(SEED + 999)
    projection = uniform(generator, *outputs["output"].shape)
    (outputs["output"] * projection.double()).sum().backward()

    record = {}
    for name, parameter in module64.named_parameters():
        record[f"param.{name}"] = parameter.detach().float()
        record[f"grad.{name}"] = parameter.grad.float()
    for name, tensor in inputs.items():
        record[name] = tensor
        if leaves[name].requires_grad:
            record[f"grad.{name}"] = leaves[name].grad.float()
    for name, value in outputs.items():
        if value is not None:
            record[name] = value.detach().float()
    record["projection.output"] = projection
    return record


# ---- torch.nn.MultiheadAttention ---------------------------------------------------------


def padding_mask(lengths, keys):
    """bool [B, Nk], PyTorch's meaning: true = padding (not allowed)."""
    return torch.arange(keys)[None, :] >= torch.tensor(lengths)[:, None]


def mha_fixture(directory, name, seed, *, embed_dim=8, num_heads=2, batch=2, queries=5, keys=5,
                kdim=None, vdim=None, bias=True, batch_first=True, self_attention=False,
                unbatched=False, key_padding=None, attn_mask=None, is_causal=False,
                need_weights=True, average_attn_weights=True):
    """key_padding / attn_mask: callables (generator) -> mask tensor, or None."""
    generator = torch.Generator().manual_seed(seed)
    module = torch.nn.MultiheadAttention(embed_dim, num_heads, bias=bias, kdim=kdim, vdim=vdim,
                                         batch_first=batch_first)
    randomize_parameters(module, generator)
    kdim = kdim or embed_dim
    vdim = vdim or embed_dim

    def layout(length, features):
        if unbatched:
            return (length, features)
        return (batch, length, features) if batch_first else (length, batch, features)

    inputs = {"query": uniform(generator, *layout(queries, embed_dim))}
    if not self_attention:
        inputs["key"] = uniform(generator, *layout(keys, kdim))
        inputs["value"] = uniform(generator, *layout(keys, vdim))
    if key_padding is not None:
        inputs["key_padding_mask"] = key_padding(generator)
    if attn_mask is not None:
        inputs["attn_mask"] = attn_mask(generator)

    def forward(m, x):
        query = x["query"]
        key = query if self_attention else x["key"]
        value = query if self_attention else x["value"]
        output, weights = m(query, key, value, key_padding_mask=x.get("key_padding_mask"),
                            need_weights=need_weights, attn_mask=x.get("attn_mask"),
                            average_attn_weights=average_attn_weights, is_causal=is_causal)
        return {"output": output, "weights": weights}

    record = run_reference(module, inputs, forward)
    config = {"embed_dim": embed_dim, "num_heads": num_heads, "kdim": kdim, "vdim": vdim,
              "bias": bias, "batch_first": batch_first, "self_attention": self_attention,
              "unbatched": unbatched, "is_causal": is_causal, "need_weights": need_weights,
              "average_attn_weights": average_attn_weights}
    save(directory, name, record, config)


def mha_fixtures(directory):
    # Self-attention (one tensor for query, key and value) with padded keys.
    mha_fixture(directory, "mha_self_kpm_bool", SEED + 1, self_attention=True,
                key_padding=lambda g: padding_mask([5, 3], 5))
    # Cross-attention, sequence first, a float mask per head (some -inf), weights per head.
    def per_head_float(g):
        mask = uniform(g, 2 * 2, 3, 6, low=-2.0, high=2.0)
        mask[0, 1, 4] = float("-inf")
        mask[3, 2, 0] = float("-inf")
        return mask
    mha_fixture(directory, "mha_cross_float_mask_per_head", SEED + 2, queries=3, keys=6,
                batch_first=False, attn_mask=per_head_float, average_attn_weights=False)
    # Cross-attention with a 2-D bool attn_mask and a bool key_padding_mask together.
    def pattern(g):
        mask = torch.zeros(4, 7, dtype=torch.bool)
        mask[0, 5:] = True
        mask[1, 0] = True
        mask[3, 2:4] = True
        return mask
    mha_fixture(directory, "mha_cross_bool_masks", SEED + 3, queries=4, keys=7,
                key_padding=lambda g: padding_mask([7, 4], 7), attn_mask=pattern)
    # kdim, vdim != E: separate projection weights; float masks (added to the scores).
    def float_padding(g):
        mask = uniform(g, 2, 5, low=-1.0, high=1.0)
        mask[1, 4] = float("-inf")
        return mask
    mha_fixture(directory, "mha_kdim_vdim_float_masks", SEED + 4, queries=3, keys=5, kdim=6,
                vdim=3, key_padding=float_padding,
                attn_mask=lambda g: uniform(g, 3, 5, low=-1.0, high=1.0), need_weights=False)
    # Causal self-attention: PyTorch wants the mask and the is_causal hint together.
    mha_fixture(directory, "mha_causal", SEED + 5, queries=6, keys=6, self_attention=True,
                attn_mask=lambda g: torch.triu(torch.ones(6, 6, dtype=torch.bool), 1),
                is_causal=True, need_weights=False)
    # No bias, sequence first, three heads, separate query/key/value tensors.
    mha_fixture(directory, "mha_no_bias", SEED + 6, embed_dim=6, num_heads=3, queries=4,
                keys=4, bias=False, batch_first=False)
    # Unbatched input: query [Nq, E]; key_padding_mask [Nk]; attn_mask [H, Nq, Nk].
    def per_head_bool(g):
        mask = torch.zeros(2, 3, 5, dtype=torch.bool)
        mask[0, 0, 1:3] = True
        mask[1, 2, 4] = True
        return mask
    mha_fixture(directory, "mha_unbatched", SEED + 7, embed_dim=4, num_heads=2, queries=3,
                keys=5, unbatched=True, key_padding=lambda g: torch.tensor([0, 0, 0, 0, 1]).bool(),
                attn_mask=per_head_bool, average_attn_weights=False)


# ---- seed 003 ------------------------------------------------------------------------------


class MultiHeadSelfAttention(torch.nn.Module):
    """The example of seed 003, unchanged."""

    def __init__(self, d_model, num_heads):
        super(MultiHeadSelfAttention, self).__init__()
        self.num_heads = num_heads
        self.d_model = d_model
        self.head_size = d_model // num_heads
        self.query = torch.nn.Linear(d_model, d_model)
        self.key = torch.nn.Linear(d_model, d_model)
        self.value = torch.nn.Linear(d_model, d_model)
        self.fc = torch.nn.Linear(d_model, d_model)

    def forward(self, x):
        batch_size, seq_len, d_model = x.size()
        Q = self.query(x).view(batch_size, seq_len, self.num_heads, self.head_size).transpose(1, 2)
        K = self.key(x).view(batch_size, seq_len, self.num_heads, self.head_size).transpose(1, 2)
        V = self.value(x).view(batch_size, seq_len, self.num_heads, self.head_size).transpose(1, 2)
        scores = torch.matmul(Q, K.transpose(-2, -1)) / torch.sqrt(torch.tensor(self.head_size, dtype=torch.float32))
        attn_weights = torch.softmax(scores, dim=-1)
        attn_output = torch.matmul(attn_weights, V)
        attn_output = attn_output.transpose(1, 2).contiguous().view(batch_size, seq_len, self.d_model)
        output = self.fc(attn_output)
        return output


def seed003_fixture(directory):
    generator = torch.Generator().manual_seed(SEED + 20)
    d_model, num_heads = 8, 2
    module = MultiHeadSelfAttention(d_model, num_heads)
    randomize_parameters(module, generator)
    inputs = {"x": uniform(generator, 2, 5, d_model)}
    record = run_reference(module, inputs, lambda m, x: {"output": m(x["x"])})
    save(directory, "seed003_mhsa", record, {"d_model": d_model, "num_heads": num_heads})


# ---- single-head Attn(X, X') ----------------------------------------------------------------


class SingleHeadAttention(torch.nn.Module):
    """attn::nn::Attention written plainly: q = Wq x_q, k = Wk x_k, v = Wv x_v (no bias),
    scores by `score`, masked (allowed: bool [B, Nq, Nk], true = may attend), softmax, sum."""

    def __init__(self, score, query_dim, key_dim, value_dim, d, dv, a, learn_scale, scale):
        super().__init__()
        self.score, self.scale_value = score, scale
        self.wq = torch.nn.Linear(query_dim, d, bias=False)
        self.wk = torch.nn.Linear(key_dim, d, bias=False)
        self.wv = torch.nn.Linear(value_dim, dv, bias=False)
        if score == "general":
            self.w = torch.nn.Parameter(torch.empty(d, d))
        if score == "additive":
            self.w_q = torch.nn.Parameter(torch.empty(d, a))
            self.w_k = torch.nn.Parameter(torch.empty(d, a))
            self.v_a = torch.nn.Parameter(torch.empty(a))
        if learn_scale:
            self.scale = torch.nn.Parameter(torch.empty(()))

    def scores(self, q, k):
        if self.score == "dot":
            return q @ k.transpose(-2, -1)
        if self.score == "scaled_dot":
            return q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        if self.score == "general":
            return q @ self.w @ k.transpose(-2, -1)
        if self.score == "additive":
            # [B, Nq, 1, a] + [B, 1, Nk, a] -> tanh -> · v_a
            hidden = torch.tanh((q @ self.w_q)[:, :, None, :] + (k @ self.w_k)[:, None, :, :])
            return hidden @ self.v_a
        unit_q = q / q.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        unit_k = k / k.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        scale = self.scale if hasattr(self, "scale") else self.scale_value
        return scale * (unit_q @ unit_k.transpose(-2, -1))

    def forward(self, x_query, x_key, x_value, allowed):
        scores = self.scores(self.wq(x_query), self.wk(x_key))
        if allowed is not None:
            scores = scores.masked_fill(~allowed, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        return weights @ self.wv(x_value), weights


SINGLE_HEAD_CASES = [
    # name, score, mask kind, learn_scale, fixed scale
    ("attention_dot", "dot", None, False, None),
    ("attention_scaled_dot_causal_padding", "scaled_dot", "causal_padding", False, None),
    ("attention_general_allowed", "general", "allowed", False, None),
    ("attention_additive_padding", "additive", "padding", False, None),
    ("attention_cosine_learned", "cosine", None, True, 2.5),
    ("attention_cosine_fixed", "cosine", "padding", False, 4.0),
]


def single_head_fixture(directory, index, name, score, mask_kind, learn_scale, scale):
    generator = torch.Generator().manual_seed(SEED + 40 + index)
    batch, queries, keys = 2, 3, 5
    query_dim, key_dim, value_dim, d, dv, a = 4, 6, 5, 4, 3, 5
    module = SingleHeadAttention(score, query_dim, key_dim, value_dim, d, dv, a, learn_scale,
                                 scale)
    randomize_parameters(module, generator, low=-0.8, high=0.8)
    if learn_scale:
        with torch.no_grad():
            module.scale.fill_(scale)
    inputs = {"x_query": uniform(generator, batch, queries, query_dim),
              "x_key": uniform(generator, batch, keys, key_dim),
              "x_value": uniform(generator, batch, keys, value_dim)}
    allowed = None
    config = {"score": score, "attention_dim": d, "value_attention_dim": dv, "additive_size": a,
              "learn_scale": learn_scale, "mask": mask_kind or "none"}
    if scale is not None:
        config["scale"] = scale
    # The attn-side masks are stored as attn takes them (true = may attend).
    if mask_kind in ("padding", "causal_padding"):
        inputs["key_padding_mask"] = ~padding_mask([5, 3], keys)  # [B, Nk]
        allowed = inputs["key_padding_mask"][:, None, :].expand(batch, queries, keys)
    if mask_kind == "causal_padding":
        # Aligned to the end: query i may attend key j iff j <= i + (Nk - Nq).
        causal = torch.ones(queries, keys, dtype=torch.bool).tril(keys - queries)
        allowed = allowed & causal
        config["causal"] = True
    if mask_kind == "allowed":
        inputs["allowed_mask"] = uniform(generator, batch, queries, keys) > -0.5
        inputs["allowed_mask"][:, :, 0] = True  # no row fully masked
        allowed = inputs["allowed_mask"]

    def forward(m, x):
        output, weights = m(x["x_query"], x["x_key"], x["x_value"], allowed)
        return {"output": output, "weights": weights}

    record = run_reference(module, inputs, forward)
    save(directory, name, record, config)


# ---- positional encodings -----------------------------------------------------------------


def sinusoidal_fixture(directory):
    """The table exactly as the PyTorch Transformer tutorial computes it, in float64."""
    max_len, d_model = 64, 16
    position = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float64)
                         * (-math.log(10000.0) / d_model))
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    save(directory, "sinusoidal", {"pe": pe.float()}, {"max_len": max_len, "d_model": d_model})


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rope_tables(positions, dim, base):
    """cos, sin [len(positions), dim] as Hugging Face's LlamaRotaryEmbedding builds them."""
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    freqs = torch.outer(positions.double(), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rope_fixture(directory):
    generator = torch.Generator().manual_seed(SEED + 60)
    batch, heads, dim, base = 2, 3, 8, 10000.0
    query_length, key_length, key_offset = 4, 6, 3
    q = uniform(generator, batch, heads, query_length, dim)
    k = uniform(generator, batch, heads, key_length, dim)
    # q holds the last Nq of the Nk key positions.
    query_offset = key_offset + key_length - query_length
    q64 = q.double().requires_grad_(True)
    k64 = k.double().requires_grad_(True)
    cos_q, sin_q = rope_tables(torch.arange(query_offset, query_offset + query_length), dim, base)
    cos_k, sin_k = rope_tables(torch.arange(key_offset, key_offset + key_length), dim, base)
    q_rotated = q64 * cos_q + rotate_half(q64) * sin_q
    k_rotated = k64 * cos_k + rotate_half(k64) * sin_k
    projection_q = uniform(generator, *q.shape)
    projection_k = uniform(generator, *k.shape)
    ((q_rotated * projection_q.double()).sum() + (k_rotated * projection_k.double()).sum()).backward()
    record = {"q": q, "k": k, "q_rotated": q_rotated.float(), "k_rotated": k_rotated.float(),
              "projection.q_rotated": projection_q, "projection.k_rotated": projection_k,
              "grad.q": q64.grad.float(), "grad.k": k64.grad.float()}
    config = {"head_dim": dim, "base": base, "key_offset": key_offset,
              "convention": "rotate_half"}
    save(directory, "rope", record, config)


# ---- an `attn attention run` case ---------------------------------------------------------


def multihead_case_fixture(directory):
    """A multihead case in the documented schema and PyTorch's results for it: cross-attention
    with kdim = vdim = E, a bool key_padding_mask and a float attn_mask per head."""
    generator = torch.Generator().manual_seed(SEED + 80)
    embed_dim, num_heads, batch, queries, keys = 8, 2, 2, 3, 5
    module = torch.nn.MultiheadAttention(embed_dim, num_heads, batch_first=True)
    randomize_parameters(module, generator)
    case = {name: value.detach().clone() for name, value in module.state_dict().items()}
    case["query"] = uniform(generator, batch, queries, embed_dim)
    case["key"] = uniform(generator, batch, keys, embed_dim)
    case["value"] = uniform(generator, batch, keys, embed_dim)
    case["key_padding_mask"] = padding_mask([5, 4], keys)
    case["attn_mask"] = uniform(generator, batch * num_heads, queries, keys, low=-1.0, high=1.0)
    case["grad_out"] = uniform(generator, batch, queries, embed_dim)
    settings = {"score": "multihead", "num_heads": num_heads, "need_weights": True,
                "causal": False, "impl": "reference"}
    save(directory, "case_multihead", case, settings)

    module64 = module.double()
    leaves = {name: case[name].double().requires_grad_(True) for name in ("query", "key", "value")}
    output, weights = module64(leaves["query"], leaves["key"], leaves["value"],
                               key_padding_mask=case["key_padding_mask"],
                               attn_mask=case["attn_mask"].double(), need_weights=True)
    output.backward(case["grad_out"].double())
    # The log-sum-exp of each row's scores: (q_h · k_h) / sqrt(E/H) + the masks.
    head_dim = embed_dim // num_heads
    with torch.no_grad():
        w_q, w_k, _ = module64.in_proj_weight.chunk(3)
        b_q, b_k, _ = module64.in_proj_bias.chunk(3)
        q = (leaves["query"] @ w_q.T + b_q).view(batch, queries, num_heads, head_dim).transpose(1, 2)
        k = (leaves["key"] @ w_k.T + b_k).view(batch, keys, num_heads, head_dim).transpose(1, 2)
        scores = q @ k.transpose(-2, -1) / math.sqrt(head_dim)
        scores = scores + case["attn_mask"].double().view(batch, num_heads, queries, keys)
        scores = scores.masked_fill(case["key_padding_mask"][:, None, None, :], float("-inf"))
        lse = torch.logsumexp(scores, dim=-1)
    expected = {"out": output.detach().float(), "weights": weights.detach().float(),
                "lse": lse.float()}
    for name, leaf in leaves.items():
        expected[f"grad_{name}"] = leaf.grad.float()
    for name, parameter in module64.named_parameters():
        expected[f"grad_{name}"] = parameter.grad.float()
    save(directory, "case_multihead_expected", expected, {"torch": torch.__version__})


def main():
    default = ROOT / "tests" / "fixtures" / "attention_modules"
    directory = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else default
    directory.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    mha_fixtures(directory)
    seed003_fixture(directory)
    for index, case in enumerate(SINGLE_HEAD_CASES):
        single_head_fixture(directory, index, *case)
    sinusoidal_fixture(directory)
    rope_fixture(directory)
    multihead_case_fixture(directory)


if __name__ == "__main__":
    main()
