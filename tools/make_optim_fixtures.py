#!/usr/bin/env python3
"""Writes the optimizer parity fixtures, tests/fixtures/optim/*.safetensors, from PyTorch.

Each optimizer case runs NUM_STEPS updates of a torch.optim optimizer (single-tensor path,
foreach=False) on three fixed parameters with fixed per-step gradients, once in float32
and once in float64, and stores (<dtype> is "float32" or "float64"):

  hparams.<name>               float64 []  optimizer and schedule hyperparameters
  step.<s>.lr                  float64 []  learning rate of update s (s = 1..NUM_STEPS)
  <dtype>.param.<i>.initial    parameter i before the first update
  <dtype>.step.<s>.grad.<i>    its gradient at update s; absent = no gradient that step
  <dtype>.step.<s>.param.<i>   parameter i after update s

The clip_grad_norm cases store <dtype>.grad.<i>, <dtype>.clipped.<i> (after
torch.nn.utils.clip_grad_norm_), <dtype>.total_norm (float64 []) and hparams.max_norm.

Schedules count updates from 1, as attn::optim does: update s uses schedule(s).

Usage, from the repository root:  python3 tools/make_optim_fixtures.py [--out DIR]
"""

import argparse
import math
import os

import torch
from safetensors.torch import save_file

NUM_STEPS = 5
SHAPES = [(3, 4), (5,), (2, 1, 3)]
SKIPPED = {(3, 2)}  # (step, parameter): no gradient, so the optimizer must skip it
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def noam(step, model_dim, warmup_steps, factor):
    """Attention Is All You Need, section 5.3."""
    return factor * model_dim ** -0.5 * min(step ** -0.5, step * warmup_steps ** -1.5)


def cosine(step, peak, minimum, total_steps, warmup_steps):
    """Linear warmup to the peak at warmup_steps, then half a cosine down to the minimum."""
    if step <= warmup_steps:
        return peak * step / warmup_steps
    decay_steps = total_steps - warmup_steps
    progress = 1.0 if decay_steps == 0 else min(1.0, (step - warmup_steps) / decay_steps)
    return minimum + (peak - minimum) * 0.5 * (1.0 + math.cos(math.pi * progress))


def initial_parameters():
    generator = torch.Generator().manual_seed(1234)
    return [torch.randn(shape, generator=generator, dtype=torch.float64) for shape in SHAPES]


def step_gradients():
    """grads[s][i] for s = 1..NUM_STEPS, with magnitudes that vary between steps."""
    generator = torch.Generator().manual_seed(5678)
    grads = {}
    for step in range(1, NUM_STEPS + 1):
        scale = 0.5 + 0.75 * step
        grads[step] = [scale * torch.randn(shape, generator=generator, dtype=torch.float64)
                       for shape in SHAPES]
    return grads


# name -> (optimizer factory, optimizer hyperparameters, schedule or None)
def optimizer_cases():
    def sgd(h):
        return lambda params: torch.optim.SGD(
            params, lr=h["lr"], momentum=h["momentum"], dampening=h["dampening"],
            weight_decay=h["weight_decay"], nesterov=bool(h["nesterov"]), foreach=False)

    def adam(h, decoupled):
        kind = torch.optim.AdamW if decoupled else torch.optim.Adam
        return lambda params: kind(
            params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"],
            weight_decay=h["weight_decay"], amsgrad=bool(h["amsgrad"]), foreach=False)

    def sgd_h(lr, momentum, dampening=0.0, weight_decay=0.0, nesterov=False):
        return dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                    nesterov=float(nesterov))

    def adam_h(lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False):
        return dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                    amsgrad=float(amsgrad))

    noam_h = dict(noam_model_dim=16.0, noam_warmup_steps=3.0, noam_factor=0.5)
    cosine_h = dict(cosine_peak_lr=0.1, cosine_min_lr=0.01, cosine_total_steps=5.0,
                    cosine_warmup_steps=2.0)
    cases = {
        "sgd_momentum": (sgd_h(0.1, 0.9, dampening=0.1, weight_decay=0.01), None),
        "sgd_nesterov": (sgd_h(0.05, 0.8, weight_decay=0.02, nesterov=True), None),
        "sgd_cosine": (sgd_h(0.1, 0.9), cosine_h),
        "adam": (adam_h(0.01), None),
        "adam_l2_amsgrad": (adam_h(0.02, 0.8, 0.99, 1e-6, weight_decay=0.1, amsgrad=True), None),
        "adamw": (adam_h(0.01, weight_decay=0.1), None),
        "adamw_noam": (adam_h(1.0, 0.9, 0.98, 1e-9, weight_decay=0.01), noam_h),
    }
    result = {}
    for name, (h, schedule_h) in cases.items():
        factory = sgd(h) if name.startswith("sgd") else adam(h, name.startswith("adamw"))
        result[name] = (factory, h, schedule_h or {})
    return result


def schedule_rate(step, base_lr, schedule_h):
    if "noam_model_dim" in schedule_h:
        return noam(step, int(schedule_h["noam_model_dim"]), int(schedule_h["noam_warmup_steps"]),
                    schedule_h["noam_factor"])
    if "cosine_peak_lr" in schedule_h:
        return cosine(step, schedule_h["cosine_peak_lr"], schedule_h["cosine_min_lr"],
                      int(schedule_h["cosine_total_steps"]), int(schedule_h["cosine_warmup_steps"]))
    return base_lr


def scalar(value):
    return torch.tensor(float(value), dtype=torch.float64)


def run_optimizer_case(factory, h, schedule_h, dtype_name, tensors):
    dtype = DTYPES[dtype_name]
    params = [p.to(dtype).clone().requires_grad_(True) for p in initial_parameters()]
    grads = step_gradients()
    for i, param in enumerate(params):
        tensors[f"{dtype_name}.param.{i}.initial"] = param.detach().clone()
    optimizer = factory(params)
    for step in range(1, NUM_STEPS + 1):
        lr = schedule_rate(step, h["lr"], schedule_h)
        tensors[f"step.{step}.lr"] = scalar(lr)
        for group in optimizer.param_groups:
            group["lr"] = lr
        for i, param in enumerate(params):
            if (step, i) in SKIPPED:
                param.grad = None
                continue
            param.grad = grads[step][i].to(dtype)
            tensors[f"{dtype_name}.step.{step}.grad.{i}"] = param.grad.clone()
        optimizer.step()
        for i, param in enumerate(params):
            tensors[f"{dtype_name}.step.{step}.param.{i}"] = param.detach().clone()


def run_clip_case(norm_ratio, dtype_name, tensors):
    """Clips the step-1 gradients to norm_ratio times their norm (float64 norm)."""
    dtype = DTYPES[dtype_name]
    grads64 = step_gradients()[1]
    norm64 = math.sqrt(sum(float((g * g).sum()) for g in grads64))
    max_norm = norm_ratio * norm64
    tensors["hparams.max_norm"] = scalar(max_norm)
    params = [torch.zeros(g.shape, dtype=dtype, requires_grad=True) for g in grads64]
    for i, (param, grad) in enumerate(zip(params, grads64)):
        param.grad = grad.to(dtype)
        tensors[f"{dtype_name}.grad.{i}"] = param.grad.clone()
    total_norm = torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=False)
    tensors[f"{dtype_name}.total_norm"] = scalar(total_norm.item())
    for i, param in enumerate(params):
        tensors[f"{dtype_name}.clipped.{i}"] = param.grad.clone()


def write(out_dir, name, tensors):
    path = os.path.join(out_dir, f"{name}.safetensors")
    metadata = {"generator": "tools/make_optim_fixtures.py", "torch": torch.__version__}
    save_file({k: v.contiguous() for k, v in sorted(tensors.items())}, path, metadata=metadata)
    os.chmod(path, 0o644)  # save_file creates the file readable by its owner only
    print(f"wrote {path} ({len(tensors)} tensors)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join("tests", "fixtures", "optim"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    for name, (factory, h, schedule_h) in optimizer_cases().items():
        tensors = {f"hparams.{k}": scalar(v) for k, v in {**h, **schedule_h}.items()}
        for dtype_name in DTYPES:
            run_optimizer_case(factory, h, schedule_h, dtype_name, tensors)
        write(args.out, name, tensors)
    for name, ratio in (("clip_active", 0.5), ("clip_inactive", 2.0)):
        tensors = {}
        for dtype_name in DTYPES:
            run_clip_case(ratio, dtype_name, tensors)
        write(args.out, name, tensors)


if __name__ == "__main__":
    main()
