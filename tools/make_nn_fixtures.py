#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures for the nn modules to tests/fixtures/nn/.

Each fixture holds a module's parameters (under "param.<state_dict name>"), its inputs, fixed
projections, the forward results and the gradients of

    loss = sum(output * projection.output) [+ sum(h_n * projection.h_n) + sum(c_n * ...)]

with respect to the inputs ("grad.input", "grad.h0", ...) and every parameter
("grad.<state_dict name>"). Inputs and parameters are drawn in float32 and stored in float32;
the reference results are computed in float64 from those same float32 values and then
rounded to float32, so they are as exact as float32 can hold and any difference the C++ tests
see is attn's own rounding.

Usage: python3 tools/make_nn_fixtures.py [output_dir]
"""
import json
import pathlib
import struct
import sys

import torch
from safetensors.torch import save_file

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEED = 20240601


def uniform(generator, *shape, low=-1.0, high=1.0):
    return torch.empty(*shape).uniform_(low, high, generator=generator)


def randomize_parameters(module, generator):
    """Fresh float32 parameters, uniform in ±0.5 (LayerNorm weight around 1)."""
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            parameter.copy_(uniform(generator, *parameter.shape, low=-0.5, high=0.5))
            if name.endswith("weight") and parameter.dim() == 1:
                parameter.add_(1.0)


def run_reference(module, inputs, forward):
    """Runs `forward(module64, *inputs64)` in float64 and returns results and gradients.

    `inputs` maps names to float32 tensors (int64 ones pass through untouched); `forward`
    returns a dict of named outputs. Projections are drawn for each output.
    """
    module64 = module.double()
    leaves = {}
    for name, tensor in inputs.items():
        if tensor.is_floating_point():
            leaves[name] = tensor.double().requires_grad_(True)
        else:
            leaves[name] = tensor
    outputs = forward(module64, leaves)
    generator = torch.Generator().manual_seed(SEED + 1)
    projections = {name: uniform(generator, *value.shape) for name, value in outputs.items()}
    loss = sum((value * projections[name].double()).sum() for name, value in outputs.items())
    loss.backward()

    record = {}
    for name, parameter in module64.named_parameters():
        record[f"param.{name}"] = parameter.detach().float()
        record[f"grad.{name}"] = parameter.grad.float()
    for name, tensor in inputs.items():
        record[name] = tensor
        if leaves[name].requires_grad:
            record[f"grad.{name}"] = leaves[name].grad.float()
    for name, value in outputs.items():
        record[name] = value.detach().float()
        record[f"projection.{name}"] = projections[name]
    return record


def sort_metadata(path):
    """Rewrites the header with the metadata keys sorted.

    The safetensors writer emits metadata in hash-map order, which changes from run to run;
    sorting makes regenerated fixtures byte-identical. The header keeps its length.
    """
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":")).encode()
    assert len(text) <= length
    path.write_bytes(data[:8] + text.ljust(length, b" ") + data[8 + length:])


def save(directory, name, record, config):
    tensors = {key: value.contiguous() for key, value in record.items()}
    metadata = {key: str(value) for key, value in config.items()}
    path = directory / f"{name}.safetensors"
    save_file(tensors, str(path), metadata=metadata)
    sort_metadata(path)
    print(f"{name}: {len(tensors)} tensors, {sum(t.numel() for t in tensors.values())} values")


def linear_fixture(directory):
    generator = torch.Generator().manual_seed(SEED)
    module = torch.nn.Linear(5, 4)
    randomize_parameters(module, generator)
    inputs = {"input": uniform(generator, 2, 3, 5)}
    record = run_reference(module, inputs, lambda m, x: {"output": m(x["input"])})
    save(directory, "linear", record, {"in_features": 5, "out_features": 4})


def layer_norm_fixture(directory):
    generator = torch.Generator().manual_seed(SEED + 2)
    module = torch.nn.LayerNorm(6)
    randomize_parameters(module, generator)
    inputs = {"input": uniform(generator, 2, 3, 6, low=-2.0, high=3.0)}
    record = run_reference(module, inputs, lambda m, x: {"output": m(x["input"])})
    save(directory, "layer_norm", record, {"normalized_shape": 6, "eps": 1e-5})


def embedding_fixture(directory):
    generator = torch.Generator().manual_seed(SEED + 3)
    module = torch.nn.Embedding(7, 3, padding_idx=2)
    randomize_parameters(module, generator)
    # Repeated indices accumulate; index 2 (padding) must receive no gradient.
    inputs = {"input": torch.tensor([[0, 2, 5, 5], [6, 1, 2, 0]], dtype=torch.int64)}
    record = run_reference(module, inputs, lambda m, x: {"output": m(x["input"])})
    config = {"num_embeddings": 7, "embedding_dim": 3, "padding_idx": 2}
    save(directory, "embedding", record, config)


class FeedForward(torch.nn.Module):
    """w2(dropout(gelu(w1(x)))), the layout of attn::nn::FeedForward (dropout 0)."""

    def __init__(self, d_model, d_ff):
        super().__init__()
        self.w1 = torch.nn.Linear(d_model, d_ff)
        self.w2 = torch.nn.Linear(d_ff, d_model)

    def forward(self, x):
        return self.w2(torch.nn.functional.gelu(self.w1(x)))


def feed_forward_fixture(directory):
    generator = torch.Generator().manual_seed(SEED + 4)
    module = FeedForward(4, 8)
    randomize_parameters(module, generator)
    inputs = {"input": uniform(generator, 2, 3, 4, low=-2.0, high=2.0)}
    record = run_reference(module, inputs, lambda m, x: {"output": m(x["input"])})
    save(directory, "feed_forward_gelu", record, {"d_model": 4, "d_ff": 8, "activation": "gelu"})


# ---- recurrent layers --------------------------------------------------------------------

STEPS, BATCH, INPUT_SIZE, HIDDEN_SIZE = 5, 3, 3, 4
# Unsorted, one full-length sequence (so pad_packed keeps T) and one of length 1.
LENGTHS = [3, 5, 1]


def recurrent_forward(kind, batch_first, use_lengths, use_initial):
    def forward(module, x):
        state = None
        if use_initial:
            state = x["h0"] if kind == "gru" else (x["h0"], x["c0"])
        sequence = x["input"]
        if use_lengths:
            sequence = torch.nn.utils.rnn.pack_padded_sequence(
                sequence, x["lengths"], batch_first=batch_first, enforce_sorted=False)
        output, final = module(sequence, state)
        if use_lengths:
            output, _ = torch.nn.utils.rnn.pad_packed_sequence(
                output, batch_first=batch_first, total_length=STEPS)
        if kind == "gru":
            return {"output": output, "h_n": final}
        return {"output": output, "h_n": final[0], "c_n": final[1]}
    return forward


def recurrent_fixture(directory, kind, name, num_layers, bidirectional, batch_first,
                      use_lengths, use_initial, seed):
    generator = torch.Generator().manual_seed(seed)
    module_type = torch.nn.GRU if kind == "gru" else torch.nn.LSTM
    module = module_type(INPUT_SIZE, HIDDEN_SIZE, num_layers=num_layers,
                         bidirectional=bidirectional, batch_first=batch_first)
    randomize_parameters(module, generator)
    layout = (BATCH, STEPS) if batch_first else (STEPS, BATCH)
    inputs = {"input": uniform(generator, *layout, INPUT_SIZE)}
    state_shape = (num_layers * (2 if bidirectional else 1), BATCH, HIDDEN_SIZE)
    if use_initial:
        inputs["h0"] = uniform(generator, *state_shape, low=-0.5, high=0.5)
        if kind == "lstm":
            inputs["c0"] = uniform(generator, *state_shape, low=-0.5, high=0.5)
    if use_lengths:
        inputs["lengths"] = torch.tensor(LENGTHS, dtype=torch.int64)
    forward = recurrent_forward(kind, batch_first, use_lengths, use_initial)
    record = run_reference(module, inputs, forward)
    config = {"kind": kind, "num_layers": num_layers, "bidirectional": bidirectional,
              "batch_first": batch_first, "lengths": use_lengths, "initial_state": use_initial}
    save(directory, name, record, config)


RECURRENT_CASES = [
    # name suffix, num_layers, bidirectional, batch_first, lengths, initial state
    ("bi_2layer_padded", 2, True, False, True, True),
    ("bi_2layer_padded_batch_first", 2, True, True, True, False),
    ("uni_2layer", 2, False, False, False, True),
    ("uni_1layer_padded_batch_first", 1, False, True, True, True),
]


def main():
    default = ROOT / "tests" / "fixtures" / "nn"
    directory = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else default
    directory.mkdir(parents=True, exist_ok=True)
    linear_fixture(directory)
    layer_norm_fixture(directory)
    embedding_fixture(directory)
    feed_forward_fixture(directory)
    for index, case in enumerate(RECURRENT_CASES):
        suffix, *settings = case
        for kind_index, kind in enumerate(("gru", "lstm")):
            recurrent_fixture(directory, kind, f"{kind}_{suffix}", *settings,
                              seed=SEED + 10 + 2 * index + kind_index)


if __name__ == "__main__":
    main()
