"""attn's PyTorch operators against PyTorch's own, side by side in one run (float32, CPU):

  sdpa      attn.torch.attention(score="scaled_dot") against F.scaled_dot_product_attention,
            forward and forward+backward, B in {1, 4}, H 8, d 64, N 256..4096, causal or not
  additive  attn.torch.attention(score="additive") against the textbook torch version that
            holds tanh(q W_q + k W_k) as [B, Nq, Nk, a], a = 128, N 512/2048/4096: time, and
            the peak memory of each run in a process of its own (a run that needs more than
            --memory-limit GiB counts as out of memory)
  mha       attn.torch.MultiheadAttention against torch.nn.MultiheadAttention with
            need_weights=True (E 512, H 8, N 1024 and 4096), forward and forward+backward
  overhead  one call on tiny inputs (B 1, H 1, N 4, d 8): the cost of crossing into attn

    python python/bench/bench_attention.py [--quick] [--threads T] [--only sdpa,additive,mha,overhead]

Prints a table per part with times in ms, attn's speed-up (reference time / attn time; above
1 is faster) and, for additive, the memory a run adds to its process's peak (GiB above what
importing torch and making the inputs took). Run on a quiet machine; set GOMP_SPINCOUNT=1000
(docs/DESIGN.md) so that idle OpenMP threads do not steal the cores between calls.
"""

import argparse
import json
import resource
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

import attn
import attn.torch as attn_torch


def timed(function, minimum_seconds=0.5, minimum_runs=3):
    """Median milliseconds of `function` over enough runs to fill minimum_seconds."""
    function()  # warm-up
    times = []
    started = time.perf_counter()
    while len(times) < minimum_runs or time.perf_counter() - started < minimum_seconds:
        begin = time.perf_counter()
        function()
        times.append((time.perf_counter() - begin) * 1e3)
        if len(times) >= 200:
            break
    times.sort()
    return times[len(times) // 2]


def qkv(batch, heads, length, d, requires_grad):
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(batch, heads, length, d, generator=generator).requires_grad_(requires_grad)
            for _ in range(3)]


def sdpa_rows(quick):
    lengths = (256, 1024) if quick else (256, 512, 1024, 2048, 4096)
    batches = (1,) if quick else (1, 4)
    rows = []
    for batch in batches:
        for length in lengths:
            for causal in (False, True):
                for mode in ("forward", "forward+backward"):
                    backward = mode != "forward"
                    q, k, v = qkv(batch, 8, length, 64, backward)

                    def run(function):
                        def step():
                            if backward:
                                function(q, k, v).sum().backward()
                            else:
                                with torch.no_grad():
                                    function(q, k, v)
                        return step

                    ours = timed(run(lambda q, k, v: attn_torch.attention(q, k, v, causal=causal)))
                    theirs = timed(run(lambda q, k, v: F.scaled_dot_product_attention(
                        q, k, v, is_causal=causal)))
                    rows.append(dict(B=batch, N=length, causal=causal, mode=mode,
                                     attn_ms=ours, torch_ms=theirs, speedup=theirs / ours))
                    print_row(rows[-1])
    return rows


def naive_additive(q, k, v, w_q, w_k, v_a):
    hidden = torch.tanh((q @ w_q).unsqueeze(-2) + (k @ w_k).unsqueeze(-3))  # [B, H, Nq, Nk, a]
    weights = torch.softmax(hidden @ v_a, dim=-1)
    return weights @ v


def additive_case(implementation, length, attention_dim, backward):
    """Runs in a process of its own: (milliseconds, peak RSS GiB) or 'out of memory'."""
    q, k, v = qkv(1, 1, length, 64, backward)
    generator = torch.Generator().manual_seed(1)
    w_q, w_k = (torch.randn(64, attention_dim, generator=generator).div(8).requires_grad_(backward)
                for _ in range(2))
    v_a = torch.randn(attention_dim, generator=generator).requires_grad_(backward)

    def step():
        if implementation == "attn":
            out = attn_torch.attention(q, k, v, "additive", w_q=w_q, w_k=w_k, v_a=v_a)
        else:
            out = naive_additive(q, k, v, w_q, w_k, v_a)
        if backward:
            out.sum().backward()

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        if backward:
            milliseconds = timed(step, minimum_seconds=0.3, minimum_runs=2)
        else:
            with torch.no_grad():
                milliseconds = timed(step, minimum_seconds=0.3, minimum_runs=2)
    except (RuntimeError, MemoryError):
        return {"oom": True}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"ms": milliseconds, "peak_gib": peak / 2**20, "growth_gib": (peak - before) / 2**20}


def additive_rows(quick, memory_limit_gib):
    lengths = (512, 2048) if quick else (512, 2048, 4096)
    rows = []
    for length in lengths:
        for mode in ("forward", "forward+backward"):
            results = {}
            for implementation in ("attn", "naive"):
                command = [sys.executable, __file__, "--additive-case",
                           json.dumps([implementation, length, 128, mode != "forward"]),
                           "--memory-limit", str(memory_limit_gib)]
                output = subprocess.run(command, capture_output=True, text=True)
                if output.returncode != 0:
                    results[implementation] = {"oom": True}
                else:
                    results[implementation] = json.loads(output.stdout.strip().splitlines()[-1])
            row = dict(N=length, mode=mode, attn=results["attn"], naive=results["naive"])
            ours, theirs = results["attn"], results["naive"]
            row["speedup"] = (theirs["ms"] / ours["ms"]) if "ms" in ours and "ms" in theirs else None
            rows.append(row)
            print_additive(row)
    return rows


def multihead_rows(quick):
    """need_weights=True: torch's MultiheadAttention leaves its fused path for the math one;
    attn's stays fused and recomputes the weights from the log-sum-exp."""
    rows = []
    embed, heads = 512, 8
    for length in ((1024,) if quick else (1024, 4096)):
        torch.manual_seed(0)
        theirs_module = torch.nn.MultiheadAttention(embed, heads, batch_first=True)
        ours_module = attn_torch.MultiheadAttention(embed, heads, batch_first=True)
        ours_module.load_state_dict(theirs_module.state_dict())
        theirs_module.eval(), ours_module.eval()
        x = torch.randn(1, length, embed)
        for mode in ("forward", "forward+backward"):
            backward = mode != "forward"
            source = x.clone().requires_grad_(backward)

            def run(module):
                def step():
                    if backward:
                        out, _ = module(source, source, source, need_weights=True)
                        out.sum().backward()
                    else:
                        with torch.no_grad():
                            module(source, source, source, need_weights=True)
                return step

            ours, theirs = timed(run(ours_module)), timed(run(theirs_module))
            rows.append(dict(N=length, mode=mode, attn_ms=ours, torch_ms=theirs,
                             speedup=theirs / ours))
            print(f"| {length} | {mode} | {ours:.1f} | {theirs:.1f} | {theirs / ours:.2f}x |",
                  flush=True)
    return rows


def overhead_rows():
    rows = []
    q = torch.randn(1, 1, 4, 8)
    numpy_q = q.numpy()
    cases = {
        "attn.attention (NumPy)": lambda: attn.attention(numpy_q, numpy_q, numpy_q),
        "attn.torch.attention": lambda: attn_torch.attention(q, q, q),
        "F.scaled_dot_product_attention": lambda: F.scaled_dot_product_attention(q, q, q),
    }
    with torch.no_grad():
        for name, function in cases.items():
            microseconds = timed(function, minimum_seconds=0.5, minimum_runs=1000) * 1e3
            rows.append(dict(call=name, us=microseconds))
            print(f"| {name} | {microseconds:.1f} |", flush=True)
    return rows


def print_row(row):
    print(f"| {row['B']} | {row['N']} | {'yes' if row['causal'] else 'no'} | {row['mode']} | "
          f"{row['attn_ms']:.2f} | {row['torch_ms']:.2f} | {row['speedup']:.2f}x |", flush=True)


def describe(result):
    if result.get("oom"):
        return "out of memory", "-"
    return f"{result['ms']:.1f}", f"{result['growth_gib']:.2f}"


def print_additive(row):
    ours_ms, ours_gib = describe(row["attn"])
    theirs_ms, theirs_gib = describe(row["naive"])
    speedup = f"{row['speedup']:.1f}x" if row["speedup"] else "-"
    print(f"| {row['N']} | {row['mode']} | {ours_ms} | {ours_gib} | {theirs_ms} | {theirs_gib} | "
          f"{speedup} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few shapes only")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--only", default="sdpa,additive,mha,overhead")
    parser.add_argument("--memory-limit", type=float, default=16.0,
                        help="GiB a run of the additive part may use (default 16)")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--additive-case", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    limit = int(arguments.memory_limit * 2**30)
    torch.set_num_threads(arguments.threads)
    if arguments.additive_case:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        print(json.dumps(additive_case(*json.loads(arguments.additive_case))))
        return
    parts = arguments.only.split(",")
    print(f"torch {torch.__version__}, attn {attn.__version__} on {attn.simd_target()}, "
          f"{arguments.threads} threads")
    results = {}
    if "sdpa" in parts:
        print("\n| B | N | causal | pass | attn ms | SDPA ms | attn speed-up |")
        print("|---|---|---|---|---|---|---|")
        results["sdpa"] = sdpa_rows(arguments.quick)
    if "additive" in parts:
        print("\n| N | pass | attn ms | attn GiB | naive ms | naive GiB | attn speed-up |")
        print("|---|---|---|---|---|---|---|")
        results["additive"] = additive_rows(arguments.quick, arguments.memory_limit)
    if "mha" in parts:
        print("\n| N (E 512, H 8, need_weights) | pass | attn ms | torch ms | attn speed-up |")
        print("|---|---|---|---|---|")
        results["mha"] = multihead_rows(arguments.quick)
    if "overhead" in parts:
        print("\n| call (B 1, H 1, N 4, d 8) | microseconds |")
        print("|---|---|")
        results["overhead"] = overhead_rows()
    if arguments.json:
        with open(arguments.json, "w") as out:
            json.dump(results, out, indent=1)


if __name__ == "__main__":
    main()
