#!/usr/bin/env python3
"""PyTorch's attention on the shapes of bench/bench_attention.cpp, in the same units.

Measures torch.nn.functional.scaled_dot_product_attention ("sdpa") and plain
matmul-softmax-matmul ("math"), forward and backward, causal and not, with
torch.set_num_threads(1) and (2), and prints one line per case:

    pass/implementation/shape/causal/threads:N  GFLOP/s (median)  max  per_core  ms

FLOPs are counted as FlashAttention counts them (forward 4*B*H*Nq*Nk*d, halved when causal;
backward 2.5 times the forward), so the numbers compare directly with bench_attention's
GFLOP/s counter. per_core divides by this process's CPU time instead of wall time, as
bench_attention's per_core_GFLOP/s does.

Causal masks are aligned to the last key (query i sees keys j <= i + Nk - Nq), as in attn.
For Nq == Nk this is PyTorch's is_causal; for decoding (Nq = 1) it masks nothing, so the
causal decode case runs unmasked while its FLOPs are still counted halved, as for attn.

Memory mode: --memory N runs one head of N queries and keys (d = 64) forward and backward in
a fresh process per implementation and prints the growth of the peak resident memory.

Usage, from the repository root:
    python3 tools/bench_attention_torch.py [--repetitions 5] [--min-time 0.5] [--filter TEXT]
    python3 tools/bench_attention_torch.py --memory 8192
"""
import argparse
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

# name, batch, heads, queries, keys, head_dim: the shapes of bench_attention.cpp
SHAPES = [
    ("B1_H8_N512_d64", 1, 8, 512, 512, 64),
    ("B1_H8_N2048_d64", 1, 8, 2048, 2048, 64),
    ("B1_H8_N4096_d64", 1, 8, 4096, 4096, 64),
    ("B8_H8_N512_d64", 8, 8, 512, 512, 64),
    ("B1_H16_N2048_d128", 1, 16, 2048, 2048, 128),
    ("decode_B1_H8_Nq1_Nk4096_d64", 1, 8, 1, 4096, 64),
]


def forward_flops(batch, heads, queries, keys, head_dim, causal):
    flops = 4.0 * batch * heads * queries * keys * head_dim
    return flops / 2 if causal else flops


def causal_mask(queries, keys):
    """True where query i may attend key j: j <= i + (Nk - Nq)."""
    rows = torch.arange(queries).unsqueeze(1)
    cols = torch.arange(keys).unsqueeze(0)
    return cols <= rows + (keys - queries)


def math_attention(q, k, v, causal):
    # shape: [B, H, Nq, Nk]
    scores = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)
    if causal:
        scores = scores.masked_fill(~causal_mask(q.shape[-2], k.shape[-2]), float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def sdpa_attention(q, k, v, causal):
    # PyTorch's is_causal is aligned to the first key; with Nq == Nk that is the same mask,
    # with Nq = 1 aligned to the last key nothing is masked.
    is_causal = causal and q.shape[-2] == k.shape[-2]
    return F.scaled_dot_product_attention(q, k, v, is_causal=is_causal)


IMPLEMENTATIONS = {"sdpa": sdpa_attention, "math": math_attention}


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def time_call(call, min_time):
    """Mean wall and CPU seconds per call over at least min_time seconds."""
    call()  # warm-up
    calls, wall_start, cpu_start = 0, time.perf_counter(), cpu_seconds()
    while True:
        call()
        calls += 1
        wall = time.perf_counter() - wall_start
        if wall >= min_time:
            return wall / calls, (cpu_seconds() - cpu_start) / calls


def make_inputs(batch, heads, queries, keys, head_dim):
    torch.manual_seed(0)
    q = torch.randn(batch, heads, queries, head_dim)
    k = torch.randn(batch, heads, keys, head_dim)
    v = torch.randn(batch, heads, keys, head_dim)
    return q, k, v


def measure(shape, causal, implementation, backward, threads, repetitions, min_time):
    name, batch, heads, queries, keys, head_dim = shape
    torch.set_num_threads(threads)
    attention = IMPLEMENTATIONS[implementation]
    q, k, v = make_inputs(batch, heads, queries, keys, head_dim)
    if backward:
        # As FlashAttention's benchmarks do: one forward, then the backward timed alone.
        q, k, v = (x.requires_grad_() for x in (q, k, v))
        out = attention(q, k, v, causal)
        grad_out = torch.randn_like(out)

        def call():
            torch.autograd.grad(out, (q, k, v), grad_out, retain_graph=True)
    else:

        def call():
            with torch.no_grad():
                attention(q, k, v, causal)

    flops = forward_flops(batch, heads, queries, keys, head_dim, causal) * (2.5 if backward else 1.0)
    rates, per_core, milliseconds = [], [], []
    for _ in range(repetitions):
        wall, cpu = time_call(call, min_time)
        rates.append(flops / wall / 1e9)
        per_core.append(flops / cpu / 1e9)
        milliseconds.append(wall * 1e3)
    return statistics.median(rates), max(rates), statistics.median(per_core), statistics.median(milliseconds)


def run_benchmarks(args):
    print(f"torch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()} kernels, "
          f"{args.repetitions} repetitions of at least {args.min_time} s; medians")
    for shape in SHAPES:
        for causal in (False, True):
            for backward in (False, True):
                for implementation in IMPLEMENTATIONS:
                    for threads in (1, 2):
                        label = (f"{'backward' if backward else 'forward'}/{implementation}/{shape[0]}/"
                                 f"{'causal' if causal else 'full'}/threads:{threads}")
                        if args.filter and args.filter not in label:
                            continue
                        median, best, core, ms = measure(shape, causal, implementation, backward, threads,
                                                         args.repetitions, args.min_time)
                        print(f"{label:70s} {median:8.1f} GFLOP/s  max {best:8.1f}  per_core {core:8.1f}  {ms:9.2f} ms",
                              flush=True)


def peak_resident_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def memory_one(implementation, n):
    """One head of n queries and keys, forward and backward; prints the workspace."""
    q, k, v = make_inputs(1, 1, n, n, 64)
    q, k, v = (x.requires_grad_() for x in (q, k, v))
    grad_out = torch.randn_like(q)
    before = peak_resident_mib()
    out = IMPLEMENTATIONS[implementation](q, k, v, False)
    after_forward = peak_resident_mib()
    torch.autograd.grad(out, (q, k, v), grad_out)
    after = peak_resident_mib()
    print(f"{implementation} N={n}: workspace {after - before:.1f} MiB (forward {after_forward - before:.1f} MiB)")


def run_memory(n):
    for implementation in IMPLEMENTATIONS:
        subprocess.run([sys.executable, __file__, "--memory-one", implementation, str(n)], check=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=0.5)
    parser.add_argument("--filter", default="", help="only cases whose label contains this text")
    parser.add_argument("--memory", type=int, default=0, help="measure the workspace at this N instead")
    parser.add_argument("--memory-one", nargs=2, metavar=("IMPLEMENTATION", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.memory_one:
        memory_one(args.memory_one[0], int(args.memory_one[1]))
    elif args.memory:
        run_memory(args.memory)
    else:
        run_benchmarks(args)


if __name__ == "__main__":
    main()
