#!/usr/bin/env python3
"""Writes the PyTorch reference values that tests/ops compare against.

Run from the repository root: python3 tools/make_ops_fixtures.py
Needs torch and safetensors (scripts/setup.sh --with-python). The outputs are committed,
so the C++ tests never need PyTorch.
"""
import pathlib

import torch
from safetensors.torch import save_file

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "ops"


def cross_entropy_cases():
    torch.manual_seed(0)
    tensors = {}
    logits = torch.randn(7, 5) * 3
    targets = torch.tensor([0, 4, -100, 2, 1, -100, 3])
    tensors["logits"] = logits
    tensors["targets"] = targets
    for name, smoothing, reduction in [
        ("mean_plain", 0.0, "mean"),
        ("mean_smooth", 0.1, "mean"),
        ("sum_smooth", 0.25, "sum"),
        ("none_smooth", 0.1, "none"),
    ]:
        x = logits.clone().requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(
            x, targets, ignore_index=-100, label_smoothing=smoothing, reduction=reduction)
        upstream = torch.linspace(0.5, 2.0, loss.numel()).reshape(loss.shape)
        (loss * upstream).sum().backward()
        tensors[f"{name}.loss"] = loss.detach()
        tensors[f"{name}.upstream"] = upstream
        tensors[f"{name}.grad"] = x.grad
    return tensors


def activation_cases():
    torch.manual_seed(1)
    x = torch.randn(4, 9) * 2
    x[0, 0] = 0.0
    tensors = {"x": x}
    for name, function in [
        ("softmax", lambda t: torch.softmax(t, dim=-1)),
        ("softmax_dim0", lambda t: torch.softmax(t, dim=0)),
        ("log_softmax", lambda t: torch.log_softmax(t, dim=-1)),
        ("gelu", torch.nn.functional.gelu),
        ("tanh", torch.tanh),
        ("sigmoid", torch.sigmoid),
        ("relu", torch.relu),
    ]:
        leaf = x.clone().requires_grad_(True)
        y = function(leaf)
        upstream = torch.linspace(-1.0, 1.0, y.numel()).reshape(y.shape)
        (y * upstream).sum().backward()
        tensors[f"{name}.y"] = y.detach()
        tensors[f"{name}.grad"] = leaf.grad
        tensors[f"{name}.upstream"] = upstream
    return tensors


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    save_file(cross_entropy_cases(), str(OUT / "cross_entropy.safetensors"),
              metadata={"torch": torch.__version__})
    save_file(activation_cases(), str(OUT / "activations.safetensors"),
              metadata={"torch": torch.__version__})
    print("wrote", OUT)


if __name__ == "__main__":
    main()
