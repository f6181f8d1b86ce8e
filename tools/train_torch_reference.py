#!/usr/bin/env python3
"""Trains attn's translation Transformer in PyTorch, as `attn train` does, for comparison.

The reference takes everything it can from an attn run, so that the two trainings differ
only in the implementation:

  - the configuration: the TOML file that attn read (or the run's resolved config.toml),
    with the same key=value overrides and the same defaults;
  - the tokenizers: the run's SentencePiece models (checkpoints/source.model, target.model);
  - the initial weights: checkpoints/initial.safetensors, which `attn train` writes before
    its first step (the model options are in its "config" metadata);
  - the data: the same files, ids (<pad> 0, <unk> 1, <s> 2, </s> 3; source = pieces + </s>,
    target_in = <s> + pieces, target_out = pieces + </s>) and length filter;
  - the batches: the same token-budget length buckets, and the same order too, since the
    Philox shuffle of attn/data/batching.h is reproduced here bit for bit;
  - the loss (cross-entropy ignoring padding, with label smoothing; validation without it),
    the optimizer, learning-rate schedule and gradient clipping of train::make_optimizer /
    make_schedule, and train.threads threads.

What differs: the dropout masks (torch's generator, seeded with train.seed, instead of attn's
Philox stream), the order of floating-point operations, and, when the model is not taken from
an attn run, the initial weights.

It writes a run directory in attn's layout: metrics.jsonl in the format of
attn/train/metrics_log.h, config.toml, and checkpoints/{best,last}.safetensors as attn
checkpoints (loadable by `attn translate` and `attn eval`, tokenizers copied beside them).

    # attn first: it trains the tokenizer and writes the initial weights
    attn train --config configs/bible_transformer.toml --max-steps 2000
    python3 tools/train_torch_reference.py --attn-run runs/bible_transformer --max-steps 2000 \\
        --decode test

Options after the script's own are configuration overrides, as for `attn train`
(train.max_steps=100 model.transformer.dropout=0). `--report ATTN_RUN TORCH_RUN` prints the
side-by-side tables of docs/RESULTS.md; `--self-test` checks the Philox port and the
incremental decoder on a tiny model.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from attn_torch_models import Transformer, TransformerOptions  # noqa: E402

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
NUM_RESERVED_IDS = 4

# ---- configuration ------------------------------------------------------------------------

# Every key of `attn train --keys` for task.kind = "translation", with its default
# (src/tasks/translation.cpp translation_schema, src/train/trainer_options.cpp).
DEFAULTS: dict[str, object] = {
    "task.kind": "translation",
    "data.dir": "data/bible",
    "data.source": "es",
    "data.target": "en",
    "data.max_tokens": 4096,
    "data.max_length": 128,
    "data.valid_sentences": 0,
    "tokenizer.vocab_size": 8000,
    "tokenizer.model_type": "unigram",
    "tokenizer.joint": True,
    "tokenizer.max_sentences": 0,
    "model.arch": "transformer",
    "model.transformer.activation": "relu",
    "model.transformer.activation_dropout": 0.0,
    "model.transformer.attention_dropout": 0.0,
    "model.transformer.d_ff": 1024,
    "model.transformer.d_model": 256,
    "model.transformer.decoder_layers": 3,
    "model.transformer.dropout": 0.1,
    "model.transformer.encoder_layers": 3,
    "model.transformer.layer_norm_epsilon": 1e-5,
    "model.transformer.max_length": 256,
    "model.transformer.norm": "pre",
    "model.transformer.num_heads": 4,
    "model.transformer.share_embeddings": True,
    "model.transformer.tie_output": True,
    "loss.label_smoothing": 0.1,
    "eval.bleu_sentences": 0,
    "train.run_dir": "runs/default",
    "train.seed": 1,
    "train.optimizer": "adamw",
    "train.learning_rate": 1e-3,
    "train.beta1": 0.9,
    "train.beta2": 0.999,
    "train.eps": 1e-8,
    "train.weight_decay": 0.0,
    "train.momentum": 0.0,
    "train.nesterov": False,
    "train.schedule": "constant",
    "train.warmup_steps": 0,
    "train.schedule_steps": 0,
    "train.min_learning_rate": 0.0,
    "train.clip_grad_norm": 0.0,
    "train.max_steps": 0,
    "train.max_epochs": 0,
    "train.max_minutes": 0.0,
    "train.validate_every": 0,
    "train.validate_at_end": True,
    "train.save_every": 0,
    "train.patience": 0,
    "train.min_delta": 0.0,
    "train.best_metric": "loss",
    "train.best_mode": "min",
    "train.log_every": 50,
    "train.threads": 0,
    "train.progress": "auto",
    # attn skips steps with a non-finite loss or gradient norm; the reference stops at the
    # first one (it is only run where attn has none), so the key is read and unused.
    "train.max_bad_steps": 10,
}
# The RNN's keys belong to the same schema; the reference accepts and ignores them.
IGNORED_PREFIXES = ("model.rnn.",)


def flatten(table: dict, prefix: str = "") -> dict[str, object]:
    flat = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def typed(key: str, value, source: str):
    """The value in the key's type (that of its default); an int is accepted for a float."""
    expected = type(DEFAULTS[key])
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if type(value) is not expected:
        raise SystemExit(f"{source}: key '{key}' expects {expected.__name__}, found {value!r}")
    return value


def parse_override(key: str, text: str):
    """An override's value as attn reads it: in the key's type; strings may go unquoted."""
    try:
        value = tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        value = text
    return value if isinstance(value, str) or not isinstance(DEFAULTS[key], str) else text


def load_config(path: Optional[Path], overrides: list[str]) -> dict[str, object]:
    config = dict(DEFAULTS)
    if path is not None:
        with open(path, "rb") as file:
            for key, value in flatten(tomllib.load(file)).items():
                if key.startswith(IGNORED_PREFIXES):
                    continue
                if key not in DEFAULTS:
                    raise SystemExit(f"{path}: unknown key '{key}'")
                config[key] = typed(key, value, str(path))
    for assignment in overrides:
        key, equals, text = assignment.partition("=")
        key = key.strip()
        if not equals or not key:
            raise SystemExit(f"override '{assignment}': expected key=value")
        if key.startswith(IGNORED_PREFIXES):
            continue
        if key not in DEFAULTS:
            raise SystemExit(f"override '{assignment}': unknown key '{key}'")
        config[key] = typed(key, parse_override(key, text.strip()), f"override '{assignment}'")
    if config["task.kind"] != "translation" or config["model.arch"] != "transformer":
        raise SystemExit("the reference trains task.kind = translation with "
                         "model.arch = transformer")
    return config


def config_toml(config: dict[str, object]) -> str:
    sections: dict[str, list[str]] = {}
    for key, value in config.items():
        section, _, name = key.rpartition(".")
        sections.setdefault(section, []).append(f"{name} = {json.dumps(value)}")
    lines = ["# train_torch_reference.py configuration, resolved: every key with its value."]
    for section, entries in sections.items():
        lines += ["", f"[{section}]"] + entries
    return "\n".join(lines) + "\n"


# ---- Philox shuffles, as attn/core/random.h and attn/data/batching.h -------------------------

MASK32 = np.uint64(0xFFFFFFFF)
SHUFFLE_COUNTER_TAG = 1 << 63


def philox4x32(key: int, counter_low: np.ndarray, counter_high: int) -> np.ndarray:
    """Philox4x32-10 of the counters (counter_low[i], counter_high) under `key`: [n, 4] words."""
    counter_low = counter_low.astype(np.uint64)
    c0 = counter_low & MASK32
    c1 = counter_low >> np.uint64(32)
    c2 = np.full_like(c0, counter_high & 0xFFFFFFFF)
    c3 = np.full_like(c0, counter_high >> 32)
    key0, key1 = key & 0xFFFFFFFF, (key >> 32) & 0xFFFFFFFF
    for _ in range(10):
        product0 = np.uint64(0xD2511F53) * c0
        product1 = np.uint64(0xCD9E8D57) * c2
        c0, c1, c2, c3 = ((product1 >> np.uint64(32)) ^ c1 ^ np.uint64(key0), product1 & MASK32,
                          (product0 >> np.uint64(32)) ^ c3 ^ np.uint64(key1), product0 & MASK32)
        key0 = (key0 + 0x9E3779B9) & 0xFFFFFFFF
        key1 = (key1 + 0xBB67AE85) & 0xFFFFFFFF
    return np.stack([c0, c1, c2, c3], axis=1)


def shuffled_indices(count: int, seed: int, stream: int) -> list[int]:
    """attn::data::shuffled_indices: Fisher-Yates, j = floor(word * (i + 1) / 2^32)."""
    order = list(range(count))
    draws = count - 1
    if draws <= 0:
        return order
    blocks = philox4x32(seed & (2**64 - 1), np.arange((draws + 3) // 4, dtype=np.uint64),
                        stream | SHUFFLE_COUNTER_TAG)
    words = blocks.reshape(-1).tolist()
    for draw, i in enumerate(range(count - 1, 0, -1)):
        j = (words[draw] * (i + 1)) >> 32
        order[i], order[j] = order[j], order[i]
    return order


def make_pair_batches(source_lengths: list[int], target_lengths: list[int], max_tokens: int,
                      seed: int, epoch: int, shuffle: bool) -> list[list[int]]:
    """attn::data::make_pair_batches with a token budget (batch_size 0)."""
    keys = [(max(s, t), s, t) for s, t in zip(source_lengths, target_lengths)]
    order = shuffled_indices(len(keys), seed, 2 * epoch) if shuffle else list(range(len(keys)))
    order.sort(key=lambda index: keys[index])  # stable: ties keep the shuffled order
    batches, current, longest = [], [], 0
    for index in order:
        length = keys[index][0]
        if max_tokens > 0 and length > max_tokens:
            raise SystemExit(f"example {index} has {length} tokens, more than max_tokens "
                             f"{max_tokens}")
        new_longest = max(longest, length)
        if current and max_tokens > 0 and (len(current) + 1) * new_longest > max_tokens:
            batches.append(current)
            current, new_longest = [], length
        current.append(index)
        longest = new_longest
    if current:
        batches.append(current)
    if not shuffle:
        return batches
    return [batches[index] for index in shuffled_indices(len(batches), seed, 2 * epoch + 1)]


# ---- data ---------------------------------------------------------------------------------


def read_lines(path: Path) -> list[str]:
    """attn::data::read_lines: lines without '\\n' (and a trailing '\\r')."""
    text = path.read_bytes().decode("utf-8")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def load_tokenizer(directory: Path, name: str):
    import sentencepiece

    processor = sentencepiece.SentencePieceProcessor(model_file=str(directory / f"{name}.model"))
    ids = (processor.pad_id(), processor.unk_id(), processor.bos_id(), processor.eos_id())
    if ids != (PAD_ID, UNK_ID, BOS_ID, EOS_ID):
        raise SystemExit(f"{directory / name}.model: special ids {ids}, expected (0, 1, 2, 3)")
    return processor


def decode_ids(processor, ids: list[int]) -> str:
    return processor.decode([i for i in ids if i >= NUM_RESERVED_IDS])


@dataclass
class Corpus:
    sources: list[list[int]] = field(default_factory=list)
    targets: list[list[int]] = field(default_factory=list)  # <s> ... </s>

    @property
    def source_lengths(self) -> list[int]:
        return [len(s) for s in self.sources]

    @property
    def target_lengths(self) -> list[int]:  # of target_in (= of target_out)
        return [len(t) - 1 for t in self.targets]


def encode_corpus(source_lines, target_lines, source_tokenizer, target_tokenizer,
                  length_limit: int, limit: int = 0) -> tuple[Corpus, int]:
    """TranslationTask's encoding: pairs that are empty or over the length limit are left out."""
    corpus, dropped = Corpus(), 0
    count = len(source_lines) if limit == 0 else min(limit, len(source_lines))
    source_ids = source_tokenizer.encode(source_lines[:count])
    target_ids = target_tokenizer.encode(target_lines[:count])
    for source_body, target_body in zip(source_ids, target_ids):
        source = source_body + [EOS_ID]
        target = [BOS_ID] + target_body + [EOS_ID]
        longest = max(len(source), len(target) - 1)
        if len(source) <= 1 or len(target) <= 2 or longest > length_limit:
            dropped += 1
            continue
        corpus.sources.append(source)
        corpus.targets.append(target)
    return corpus, dropped


def pad(sequences: list[list[int]]) -> torch.Tensor:
    width = max(len(s) for s in sequences)
    tokens = torch.full((len(sequences), width), PAD_ID, dtype=torch.int64)
    for row, sequence in enumerate(sequences):
        tokens[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.int64)
    return tokens


def batch_loss(model, corpus: Corpus, indices: list[int], label_smoothing: float):
    """Mean cross-entropy over the target tokens of the listed pairs, and their count."""
    source = pad([corpus.sources[i] for i in indices])
    target_in = pad([corpus.targets[i][:-1] for i in indices])
    target_out = pad([corpus.targets[i][1:] for i in indices])
    logits = model(source, target_in, source == PAD_ID)  # [B, T, V]
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), target_out.reshape(-1),
                           ignore_index=PAD_ID, label_smoothing=label_smoothing)
    return loss, sum(len(corpus.targets[i]) - 1 for i in indices)


# ---- optimizer and schedule, as train::make_optimizer / make_schedule -------------------------


def make_optimizer(config, parameters):
    name = config["train.optimizer"]
    rate = config["train.learning_rate"]
    if name == "sgd":
        return torch.optim.SGD(parameters, lr=rate, momentum=config["train.momentum"],
                               weight_decay=config["train.weight_decay"],
                               nesterov=config["train.nesterov"])
    settings = dict(lr=rate, betas=(config["train.beta1"], config["train.beta2"]),
                    eps=config["train.eps"], weight_decay=config["train.weight_decay"])
    if name == "adam":
        return torch.optim.Adam(parameters, **settings)
    if name == "adamw":
        return torch.optim.AdamW(parameters, **settings)
    raise SystemExit(f"train.optimizer must be adamw, adam or sgd; got '{name}'")


def make_schedule(config, total_steps: int):
    """Learning rate of update `step` (counted from 1)."""
    rate = config["train.learning_rate"]
    warmup = config["train.warmup_steps"]
    kind = config["train.schedule"]
    if kind == "noam":
        # NoamSchedule(model_dim 1, warmup, factor = rate * sqrt(warmup)): peaks at `rate`.
        factor = rate * math.sqrt(warmup)
        return lambda step: factor * min(step**-0.5, step * warmup**-1.5)
    if kind == "cosine":
        decay_steps = config["train.schedule_steps"] or total_steps
        if decay_steps <= warmup:
            raise SystemExit("train.schedule = cosine needs schedule_steps (or a step limit) "
                             "> warmup_steps")
        low = config["train.min_learning_rate"]

        def cosine(step):
            if step <= warmup:
                return rate * step / warmup
            progress = min(1.0, (step - warmup) / (decay_steps - warmup))
            return low + (rate - low) * 0.5 * (1.0 + math.cos(math.pi * progress))

        return cosine
    if kind == "constant":
        return lambda step: rate if step >= warmup else rate * step / warmup
    raise SystemExit(f"train.schedule must be constant, noam or cosine; got '{kind}'")


# ---- decoding -------------------------------------------------------------------------------


def _heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:  # [B, N, E] -> [B, H, N, d]
    batch, length, width = x.shape
    return x.view(batch, length, num_heads, width // num_heads).transpose(1, 2)


def _merge(x: torch.Tensor) -> torch.Tensor:  # [B, H, N, d] -> [B, N, E]
    batch, heads, length, dim = x.shape
    return x.transpose(1, 2).reshape(batch, length, heads * dim)


def _projection(attention, x, part: int):
    """Part 0, 1, 2 (query, key, value) of a torch.nn.MultiheadAttention's in-projection."""
    width = attention.embed_dim
    rows = slice(part * width, (part + 1) * width)
    return F.linear(x, attention.in_proj_weight[rows], attention.in_proj_bias[rows])


class StepDecoder:
    """Incremental decoding of the mirror Transformer (eval mode): the encoder and the
    cross-attention keys/values run once; each step feeds one token per row, appends its
    self-attention keys/values to every layer's cache and returns next-token log-probs.
    The same contract as attn's TransformerStepModel (include/attn/models/transformer.h)."""

    def __init__(self, model: Transformer, source: torch.Tensor):
        self.model = model
        self.options = model.options
        padding = source == PAD_ID
        memory = model.encode(source, padding)  # [B, S, E]
        heads = self.options.num_heads
        self.memory = [(_heads(_projection(layer.cross_attention, memory, 1), heads),
                        _heads(_projection(layer.cross_attention, memory, 2), heads))
                       for layer in model.decoder.layers]
        self.may_attend = ~padding[:, None, None, :]  # [B, 1, 1, S]
        self.caches: list[Optional[tuple[torch.Tensor, torch.Tensor]]] = [None] * len(self.memory)
        self.steps = 0

    def max_length(self) -> int:
        return self.options.max_length

    def _self_attention(self, index: int, layer, x):
        attention = layer.self_attention
        heads = self.options.num_heads
        query = _heads(_projection(attention, x, 0), heads)
        key = _heads(_projection(attention, x, 1), heads)
        value = _heads(_projection(attention, x, 2), heads)
        if self.caches[index] is not None:
            key = torch.cat([self.caches[index][0], key], dim=2)
            value = torch.cat([self.caches[index][1], value], dim=2)
        self.caches[index] = (key, value)
        return attention.out_proj(_merge(F.scaled_dot_product_attention(query, key, value)))

    def _cross_attention(self, index: int, layer, x):
        attention = layer.cross_attention
        query = _heads(_projection(attention, x, 0), self.options.num_heads)
        key, value = self.memory[index]
        out = F.scaled_dot_product_attention(query, key, value, attn_mask=self.may_attend)
        return attention.out_proj(_merge(out))

    def next_log_probs(self, last_tokens: torch.Tensor) -> torch.Tensor:
        model = self.model
        table = model._tables()[1]
        embedder = model.embedder
        x = table(last_tokens[:, None]) * embedder.scale
        x = x + embedder.table[self.steps : self.steps + 1].to(x.dtype)
        pre = self.options.norm == "pre"
        for index, layer in enumerate(model.decoder.layers):
            sublayers = [(layer.self_attention_norm,
                          lambda y: self._self_attention(index, layer, y)),
                         (layer.cross_attention_norm,
                          lambda y: self._cross_attention(index, layer, y)),
                         (layer.feed_forward_norm, layer.feed_forward)]
            for norm, sublayer in sublayers:
                x = x + sublayer(norm(x)) if pre else norm(x + sublayer(x))
        if model.decoder.final_norm is not None:
            x = model.decoder.final_norm(x)
        if self.options.tie_output:
            logits = F.linear(x, table.weight)
        else:
            logits = model.output_projection(x)
        self.steps += 1
        return torch.log_softmax(logits[:, 0].float(), dim=-1)

    def select(self, rows: list[int]) -> None:
        index = torch.tensor(rows, dtype=torch.int64)
        self.memory = [(k.index_select(0, index), v.index_select(0, index)) for k, v in self.memory]
        self.may_attend = self.may_attend.index_select(0, index)
        self.caches = [(k.index_select(0, index), v.index_select(0, index)) for k, v in self.caches]


def greedy(decoder: StepDecoder, max_length: int) -> list[list[int]]:
    """attn::decode::greedy: argmax per step; a row stops at </s> or the length limit."""
    rows = decoder.memory[0][0].size(0)
    results: list[list[int]] = [[] for _ in range(rows)]
    alive = list(range(rows))
    last = torch.full((rows,), BOS_ID, dtype=torch.int64)
    for _ in range(min(max_length, decoder.max_length())):
        if not alive:
            break
        tokens = decoder.next_log_probs(last).argmax(dim=-1).tolist()
        keep = [i for i, token in enumerate(tokens) if token != EOS_ID]
        for i in keep:
            results[alive[i]].append(tokens[i])
        if keep and len(keep) != len(alive):
            decoder.select(keep)
        alive = [alive[i] for i in keep]
        last = torch.tensor([tokens[i] for i in keep], dtype=torch.int64)
    return results


def length_penalty(length: int, alpha: float) -> float:
    return ((5.0 + length) / 6.0) ** alpha


def beam_search(decoder: StepDecoder, beam_size: int, alpha: float,
                max_length: int) -> list[list[int]]:
    """attn::decode::beam_search with n_best 1: per source, the best 2·beam extensions of its
    live beams; an end token among the first beam_size finishes a hypothesis (scored
    log_prob / lp), the others fill the beam; done when beam_size hypotheses have finished."""
    sources = decoder.memory[0][0].size(0)
    live = [[([], 0.0)] for _ in range(sources)]  # (tokens, log_prob) per live beam
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(sources)]
    done = [False] * sources
    last = torch.full((sources,), BOS_ID, dtype=torch.int64)
    for _ in range(min(max_length, decoder.max_length())):
        if all(done):
            break
        log_probs = decoder.next_log_probs(last)
        top_values, top_tokens = log_probs.topk(min(2 * beam_size, log_probs.size(1)), dim=-1)
        top_values, top_tokens = top_values.tolist(), top_tokens.tolist()
        rows, next_tokens, first_row = [], [], 0
        for source in range(sources):
            if done[source]:
                continue
            beams = live[source]
            candidates = sorted(
                ((beams[b][1] + top_values[first_row + b][k], b, top_tokens[first_row + b][k])
                 for b in range(len(beams)) for k in range(len(top_tokens[first_row + b]))),
                key=lambda c: (-c[0], c[1], c[2]))[: 2 * beam_size]
            new_live, new_rows = [], []
            for rank, (log_prob, beam, token) in enumerate(candidates):
                tokens = beams[beam][0]
                if token == EOS_ID:
                    if rank < beam_size:
                        score = log_prob / length_penalty(len(tokens) + 1, alpha)
                        finished[source].append((score, tokens))
                    continue
                new_live.append((tokens + [token], log_prob))
                new_rows.append(first_row + beam)
                if len(new_live) == beam_size:
                    break
            first_row += len(beams)
            live[source] = new_live
            done[source] = len(finished[source]) >= beam_size or not new_live
            if not done[source]:
                rows += new_rows
                next_tokens += [tokens[-1] for tokens, _ in new_live]
        if not rows:
            break
        if rows != list(range(log_probs.size(0))):
            decoder.select(rows)
        last = torch.tensor(next_tokens, dtype=torch.int64)
    results = []
    for source in range(sources):
        hypotheses = list(finished[source])
        if not done[source]:  # cut at the length limit
            hypotheses += [(lp / length_penalty(len(t), alpha), t) for t, lp in live[source]]
        hypotheses.sort(key=lambda h: -h[0])  # stable: earlier found first among ties
        results.append(hypotheses[0][1] if hypotheses else [])
    return results


@torch.no_grad()
def translate(model, source_tokenizer, target_tokenizer, sentences: list[str], method: str,
              beam_size: int = 4, alpha: float = 0.6, max_length: int = 256,
              batch_size: int = 32) -> list[str]:
    """attn's translate_sentences: sources sorted by length, decoded batch_size at a time."""
    model.eval()
    sources = [ids + [EOS_ID] for ids in source_tokenizer.encode(sentences)]
    for number, source in enumerate(sources, 1):
        if len(source) > model.options.max_length:
            raise SystemExit(f"translate: sentence {number} is {len(source)} tokens long with "
                             f"</s>; the model takes at most {model.options.max_length}")
    results = [""] * len(sentences)
    pending = sorted((i for i, s in enumerate(sources) if len(s) > 1),
                     key=lambda i: len(sources[i]))
    for begin in range(0, len(pending), batch_size):
        indices = pending[begin : begin + batch_size]
        decoder = StepDecoder(model, pad([sources[i] for i in indices]))
        if method == "greedy":
            found = greedy(decoder, max_length)
        else:
            found = beam_search(decoder, beam_size, alpha, max_length)
        for index, tokens in zip(indices, found):
            results[index] = decode_ids(target_tokenizer, tokens)
    return results


def corpus_bleu(hypotheses: list[str], references: list[str]) -> float:
    import sacrebleu

    return sacrebleu.corpus_bleu(hypotheses, [references]).score


# ---- checkpoints ----------------------------------------------------------------------------


def load_initial(path: Path) -> tuple[dict, dict[str, torch.Tensor], str]:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as file:
        metadata = file.metadata() or {}
        tensors = {name: file.get_tensor(name) for name in file.keys()}
    if "config" not in metadata:
        raise SystemExit(f"{path}: no 'config' metadata; is it an attn checkpoint?")
    config = json.loads(metadata["config"])
    if config.get("arch") != "transformer":
        raise SystemExit(f"{path}: arch '{config.get('arch')}', the reference trains a transformer")
    return config, tensors, metadata["config"]


def save_checkpoint(path: Path, model, config_json: str, step: int) -> None:
    """An attn checkpoint (attn/io/checkpoint.h), written atomically."""
    from safetensors.torch import save_file

    tensors = {name: tensor.detach().contiguous() for name, tensor in model.state_dict().items()}
    metadata = {"format": "attn", "format_version": "1", "config": config_json, "step": str(step)}
    temporary = path.with_suffix(".tmp")
    save_file(tensors, str(temporary), metadata=metadata)
    os.replace(temporary, path)


# ---- the training loop, as train::Trainer -----------------------------------------------------


class MetricsLog:
    """metrics.jsonl in the format of attn/train/metrics_log.h."""

    def __init__(self, path: Path):
        self.file = open(path, "w", encoding="utf-8")

    def write(self, record: dict) -> None:
        def number(value):
            if isinstance(value, (int, bool)) or value is None or math.isfinite(value):
                return value
            return None  # NaN and infinities, as attn writes them

        self.file.write(json.dumps({k: (number(v) if not isinstance(v, (str, dict)) else v)
                                    for k, v in record.items()}, separators=(",", ":")) + "\n")
        self.file.flush()


def cpu_load_seconds() -> tuple[float, float]:
    """(CPU seconds of all processes on the machine, of this process): bench_support.h's meter."""
    with open("/proc/stat") as stat:
        fields = stat.readline().split()
    user, nice, system, idle, iowait, irq, softirq = (float(x) for x in fields[1:8])
    usage = resource.getrusage(resource.RUSAGE_SELF)
    machine = (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")
    return machine, usage.ru_utime + usage.ru_stime


class Reference:
    def __init__(self, config: dict, arguments):
        self.config = config
        self.arguments = arguments
        self.run_dir = Path(config["train.run_dir"])
        seed = config["train.seed"]
        torch.manual_seed(seed)  # dropout masks, and the initialisation without --init-from
        if config["train.threads"] > 0:
            torch.set_num_threads(config["train.threads"])

        tokenizer_dir = Path(arguments.tokenizer_dir)
        self.tokenizer_dir = tokenizer_dir
        self.source_tokenizer = load_tokenizer(tokenizer_dir, "source")
        self.target_tokenizer = load_tokenizer(tokenizer_dir, "target")
        self.model, self.config_json = self._build_model()

        model_limit = self.model.options.max_length
        length_limit = config["data.max_length"]
        if model_limit > 0:
            length_limit = min(length_limit, model_limit)
        directory = Path(config["data.dir"])
        source_side, target_side = config["data.source"], config["data.target"]

        def lines(split):
            source = read_lines(directory / f"{split}.{source_side}")
            target = read_lines(directory / f"{split}.{target_side}")
            if len(source) != len(target):
                raise SystemExit(f"{directory}/{split}: {len(source)} source but {len(target)} "
                                 "target lines")
            return source, target

        started = time.perf_counter()
        train_source, train_target = lines("train")
        self.train, dropped = encode_corpus(train_source, train_target, self.source_tokenizer,
                                            self.target_tokenizer, length_limit)
        valid_source, valid_target = lines("valid")
        self.valid, _ = encode_corpus(valid_source, valid_target, self.source_tokenizer,
                                      self.target_tokenizer, length_limit,
                                      config["data.valid_sentences"])
        bleu_count = min(len(valid_source), max(0, config["eval.bleu_sentences"]))
        self.bleu_sources = valid_source[:bleu_count]
        self.bleu_references = valid_target[:bleu_count]
        self.seed = seed
        self.max_tokens = config["data.max_tokens"]
        self._cached_epoch, self._cached_batches = None, []
        self.batches_per_epoch = len(self.batches_for(0))
        tokens = sum(self.train.target_lengths)
        print(f"data: {len(self.train.sources)} training pairs ({dropped} left out: empty or "
              f"longer than {length_limit} tokens), {tokens} target tokens, "
              f"{self.batches_per_epoch} batches per epoch; {len(self.valid.sources)} validation "
              f"pairs (encoded in {time.perf_counter() - started:.1f} s)", file=sys.stderr)
        count = sum(p.numel() for p in self.model.parameters())
        print(f"model: transformer, {count} parameters; torch {torch.__version__}, "
              f"{torch.get_num_threads()} threads", file=sys.stderr)

    def _build_model(self):
        config = self.config
        if self.arguments.init_from:
            run_config, tensors, config_json = load_initial(Path(self.arguments.init_from))
            options = TransformerOptions.from_json(run_config["model"])
            for key, value in dataclass_items(options):
                dotted = f"model.transformer.{key}"
                if dotted in config and config[dotted] != value:
                    print(f"note: {dotted} = {config[dotted]!r} in the configuration, {value!r} in "
                          f"{self.arguments.init_from}; using the latter (except dropout rates)",
                          file=sys.stderr)
            # Dropout rates do not change the weights: the configuration's apply, so that
            # an override such as model.transformer.dropout=0 works as it does for attn.
            for key in ("dropout", "attention_dropout", "activation_dropout"):
                setattr(options, key, config[f"model.transformer.{key}"])
            model = Transformer(options)
            missing, unexpected = model.load_state_dict(tensors, strict=False)
            if missing or unexpected:
                raise SystemExit(f"{self.arguments.init_from}: parameters missing {missing}, "
                                 f"unexpected {unexpected}")
            run_config["model"] = dataclass_dict(options)
            return model, json.dumps(run_config, separators=(",", ":"))
        fields = {key.removeprefix("model.transformer."): value for key, value in config.items()
                  if key.startswith("model.transformer.")}
        fields["source_vocab_size"] = self.source_tokenizer.get_piece_size()
        fields["target_vocab_size"] = self.target_tokenizer.get_piece_size()
        options = TransformerOptions.from_json(fields)
        model = Transformer(options)
        run_config = {"task": "translation", "arch": "transformer",
                      "model": dataclass_dict(options)}
        return model, json.dumps(run_config, separators=(",", ":"))

    def batches_for(self, epoch: int) -> list[list[int]]:
        if epoch != self._cached_epoch:
            self._cached_batches = make_pair_batches(self.train.source_lengths,
                                                     self.train.target_lengths, self.max_tokens,
                                                     self.seed, epoch, shuffle=True)
            self._cached_epoch = epoch
        return self._cached_batches

    # ---- validation --------------------------------------------------------------------------

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        self.model.eval()
        total, tokens = 0.0, 0
        batches = make_pair_batches(self.valid.source_lengths, self.valid.target_lengths,
                                    self.max_tokens, self.seed, 0, shuffle=False)
        for indices in batches:
            loss, count = batch_loss(self.model, self.valid, indices, 0.0)
            total += loss.item() * count
            tokens += count
        result = {"loss": total / max(tokens, 1)}
        result["perplexity"] = math.exp(result["loss"])
        if self.bleu_sources:
            hypotheses = translate(self.model, self.source_tokenizer, self.target_tokenizer,
                                   self.bleu_sources, "greedy")
            result["bleu"] = corpus_bleu(hypotheses, self.bleu_references)
        self.model.train()
        return result

    # ---- training ----------------------------------------------------------------------------

    def prepare_run_dir(self) -> Path:
        checkpoints = self.run_dir / "checkpoints"
        if (checkpoints / "last.safetensors").exists() and not self.arguments.force:
            raise SystemExit(f"{self.run_dir} already holds a run; choose another train.run_dir "
                             "(--run-dir) or pass --force to start it over")
        if self.run_dir.resolve() == self.tokenizer_dir.resolve().parent:
            raise SystemExit(f"--run-dir {self.run_dir} is the attn run itself; choose another")
        checkpoints.mkdir(parents=True, exist_ok=True)
        for stale in ("best.safetensors", "last.safetensors"):
            (checkpoints / stale).unlink(missing_ok=True)
        for name in ("source", "target"):
            for suffix in (".model", ".tokenizer.json"):
                source = self.tokenizer_dir / f"{name}{suffix}"
                if source.exists():
                    shutil.copyfile(source, checkpoints / f"{name}{suffix}")
        (self.run_dir / "config.toml").write_text(config_toml(self.config), encoding="utf-8")
        return checkpoints

    def fit(self) -> None:
        config = self.config
        max_steps, max_epochs = config["train.max_steps"], config["train.max_epochs"]
        max_minutes = config["train.max_minutes"]
        if max_steps <= 0 and max_epochs <= 0 and max_minutes <= 0:
            raise SystemExit("train: no limit is set; set train.max_steps, train.max_epochs or "
                             "train.max_minutes")
        total_steps = max_steps
        if max_epochs > 0:
            epoch_steps = max_epochs * self.batches_per_epoch
            total_steps = min(total_steps, epoch_steps) if total_steps > 0 else epoch_steps
        checkpoints = self.prepare_run_dir()
        model = self.model
        parameters = list(model.parameters())
        optimizer = make_optimizer(config, parameters)
        schedule = make_schedule(config, total_steps)
        clip = config["train.clip_grad_norm"]
        log_every, validate_every = config["train.log_every"], config["train.validate_every"]
        save_every = config["train.save_every"]
        smoothing = config["loss.label_smoothing"]
        best_metric, best_mode = config["train.best_metric"], config["train.best_mode"]
        patience, min_delta = config["train.patience"], config["train.min_delta"]

        log = MetricsLog(self.run_dir / "metrics.jsonl")
        start = time.perf_counter()
        elapsed = lambda: time.perf_counter() - start  # noqa: E731
        log.write({"type": "start", "step": 0, "elapsed_seconds": 0.0, "resumed": False,
                   "seed": str(self.seed), "implementation": f"torch {torch.__version__}"})
        step = epoch = batch_index = tokens_total = 0
        window = {"loss": 0.0, "grad_norm": 0.0, "tokens": 0, "steps": 0}
        rate_start, rate_tokens, learning_rate = time.perf_counter(), 0, 0.0
        best_score, best_step, bad_validations, last_validation_step = None, 0, 0, -1
        meter_start = cpu_load_seconds()

        def run_validation():
            nonlocal best_score, best_step, bad_validations, last_validation_step
            result = self.validate()
            score = result.get(best_metric, float("nan"))
            better = (score > best_score + min_delta if best_mode == "max"
                      else score < best_score - min_delta) if best_score is not None else True
            improved = math.isfinite(score) and better
            if improved:
                save_checkpoint(checkpoints / "best.safetensors", model, self.config_json, step)
                best_score, best_step, bad_validations = score, step, 0
            else:
                bad_validations += 1
            last_validation_step = step
            validation = {"loss": result["loss"]}
            validation.update({k: result[k] for k in sorted(result) if k != "loss"})
            log.write({"type": "validation", "step": step,
                       "epoch": epoch - 1 if batch_index == 0 else epoch,
                       "elapsed_seconds": elapsed(), "validation": validation, "score": score,
                       "is_best": improved})
            shown = ", ".join(f"{k} {v:.4f}" for k, v in validation.items())
            print(f"validation at step {step}: {shown}" + (" (best)" if improved else ""),
                  file=sys.stderr)

        reason = None
        model.train()
        while True:
            if patience > 0 and bad_validations >= patience:
                reason = "early_stopping"
            elif max_steps > 0 and step >= max_steps:
                reason = "max_steps"
            elif max_epochs > 0 and epoch >= max_epochs:
                reason = "max_epochs"
            elif max_minutes > 0 and elapsed() >= max_minutes * 60.0:
                reason = "max_minutes"
            if reason:
                break
            step_epoch = epoch
            optimizer.zero_grad(set_to_none=True)
            learning_rate = schedule(step + 1)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate
            loss, num_tokens = batch_loss(model, self.train, self.batches_for(epoch)[batch_index],
                                          smoothing)
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                raise SystemExit(f"train: the loss is {loss_value} at step {step + 1}")
            loss.backward()
            if clip > 0:
                grad_norm = float(torch.nn.utils.clip_grad_norm_(parameters, clip))
            else:
                grad_norm = math.sqrt(sum(float(p.grad.double().square().sum())
                                          for p in parameters if p.grad is not None))
            if not math.isfinite(grad_norm):
                raise SystemExit(f"train: the gradient norm is {grad_norm} at step {step + 1}")
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

            step += 1
            tokens_total += num_tokens
            window["loss"] += loss_value * num_tokens
            window["grad_norm"] += grad_norm
            window["tokens"] += num_tokens
            window["steps"] += 1
            rate_tokens += num_tokens
            batch_index += 1
            epoch_ended = batch_index == self.batches_per_epoch
            if epoch_ended:
                epoch, batch_index = epoch + 1, 0

            if step % log_every == 0:
                now = time.perf_counter()
                seconds = now - rate_start
                record = {"type": "train", "step": step, "epoch": step_epoch,
                          "loss": window["loss"] / window["tokens"], "learning_rate": learning_rate,
                          "tokens_per_second": rate_tokens / seconds if seconds > 0 else 0.0,
                          "tokens": tokens_total,
                          "grad_norm": window["grad_norm"] / window["steps"],
                          "elapsed_seconds": elapsed()}
                log.write(record)
                if config["train.progress"] != "none":
                    print(f"step {step} | loss {record['loss']:.4f} | "
                          f"{record['tokens_per_second']:.0f} tokens/s | lr {learning_rate:.3g} | "
                          f"{elapsed():.0f} s", file=sys.stderr)
                window = {"loss": 0.0, "grad_norm": 0.0, "tokens": 0, "steps": 0}
                rate_start, rate_tokens = now, 0
            validate_now = len(self.valid.sources) > 0 and (
                step % validate_every == 0 if validate_every > 0 else epoch_ended)
            if validate_now:
                run_validation()
            if validate_now or (save_every > 0 and step % save_every == 0):
                save_checkpoint(checkpoints / "last.safetensors", model, self.config_json, step)

        if (config["train.validate_at_end"] and len(self.valid.sources) > 0 and step > 0
                and last_validation_step != step):
            run_validation()
        save_checkpoint(checkpoints / "last.safetensors", model, self.config_json, step)
        machine_end, process_end = cpu_load_seconds()
        seconds = elapsed()
        others = max(0.0, (machine_end - meter_start[0]) - (process_end - meter_start[1])) / seconds
        log.write({"type": "end", "step": step, "elapsed_seconds": seconds, "reason": reason,
                   "other_cpus": others})
        print(f"stopped: {reason} after {step} steps ({seconds / 60:.3g} min, {tokens_total} "
              f"tokens); other processes kept {others:.2f} cores busy meanwhile", file=sys.stderr)
        if best_score is not None:
            print(f"best {best_metric}: {best_score:.6g} at step {best_step}", file=sys.stderr)

    # ---- final evaluation --------------------------------------------------------------------

    def evaluate(self, split: str, methods: list[str]) -> None:
        checkpoints = self.run_dir / "checkpoints"
        weights = checkpoints / f"{self.arguments.decode_from}.safetensors"
        if not weights.exists():
            weights = checkpoints / "last.safetensors"
        if weights.exists():
            from safetensors.torch import load_file

            self.model.load_state_dict(load_file(str(weights)))
        else:
            print(f"note: no checkpoint in {checkpoints}; decoding with the current weights",
                  file=sys.stderr)
        directory = Path(self.config["data.dir"])
        sources = read_lines(directory / f"{split}.{self.config['data.source']}")
        references = read_lines(directory / f"{split}.{self.config['data.target']}")
        if self.arguments.decode_sentences > 0:
            sources = sources[: self.arguments.decode_sentences]
            references = references[: self.arguments.decode_sentences]
        for method in methods:
            started = time.perf_counter()
            hypotheses = translate(self.model, self.source_tokenizer, self.target_tokenizer,
                                   sources, method, self.arguments.beam_size,
                                   self.arguments.length_penalty)
            seconds = time.perf_counter() - started
            output = self.run_dir / f"{split}.{method}.{self.config['data.target']}"
            output.write_text("".join(h + "\n" for h in hypotheses), encoding="utf-8")
            label = method if method == "greedy" else (
                f"beam {self.arguments.beam_size}, length penalty {self.arguments.length_penalty}")
            print(f"BLEU ({split}, {len(sources)} sentences, {label}, {weights.name}): "
                  f"{corpus_bleu(hypotheses, references):.2f}  [{seconds:.0f} s; {output}]")


def dataclass_items(options):
    return [(name, getattr(options, name)) for name in options.__dataclass_fields__]


def dataclass_dict(options) -> dict:
    return dict(dataclass_items(options))


# ---- side-by-side report ----------------------------------------------------------------------


def read_metrics(run_dir: Path) -> tuple[dict[int, dict], dict[int, dict]]:
    """The train and validation records of a run's metrics.jsonl, by step."""
    train, validation = {}, {}
    with open(run_dir / "metrics.jsonl", encoding="utf-8") as file:
        for line in file:
            record = json.loads(line)
            if record.get("type") == "train":
                train[record["step"]] = record
            elif record.get("type") == "validation":
                validation[record["step"]] = record
    return train, validation


def report(attn_dir: Path, torch_dir: Path, rows: int = 12) -> None:
    """Markdown tables of two runs' metrics at the steps both logged (docs/RESULTS.md)."""
    attn_train, attn_valid = read_metrics(attn_dir)
    torch_train, torch_valid = read_metrics(torch_dir)

    def cell(record, key, digits):
        value = record["validation"].get(key) if record else None
        return "" if value is None else f"{value:.{digits}f}"

    steps = sorted(set(attn_valid) & set(torch_valid))
    print(f"Validation of {attn_dir} (attn) and {torch_dir} (PyTorch) at the same steps: loss "
          "(per target token, no label smoothing), perplexity, greedy BLEU.\n")
    print("| step | loss attn | loss PyTorch | perplexity attn | perplexity PyTorch "
          "| BLEU attn | BLEU PyTorch | BLEU difference |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for step in steps:
        a, t = attn_valid[step], torch_valid[step]
        difference = ""
        if "bleu" in a["validation"] and "bleu" in t["validation"]:
            difference = f"{a['validation']['bleu'] - t['validation']['bleu']:+.2f}"
        print(f"| {step} | {cell(a, 'loss', 4)} | {cell(t, 'loss', 4)} "
              f"| {cell(a, 'perplexity', 2)} | {cell(t, 'perplexity', 2)} "
              f"| {cell(a, 'bleu', 2)} | {cell(t, 'bleu', 2)} | {difference} |")
    common = sorted(set(attn_train) & set(torch_train))
    if common:
        count = min(rows, len(common))
        picked = sorted({common[round(i * (len(common) - 1) / max(count - 1, 1))]
                         for i in range(count)})
        same = all(attn_train[s]["tokens"] == torch_train[s]["tokens"] for s in common)
        print(f"\nTraining loss (label-smoothed, mean over each logging window) at {len(picked)} "
              f"of the {len(common)} logged steps; batches identical on both sides: "
              f"{'yes' if same else 'no'}.\n")
        print("| step | loss attn | loss PyTorch |")
        print("|---:|---:|---:|")
        for step in picked:
            print(f"| {step} | {attn_train[step]['loss']:.4f} | {torch_train[step]['loss']:.4f} |")
        # Wall time includes validations; throughput proper comes from bench/compare_training.sh.
        last = common[-1]
        print(f"\nUp to step {last}: attn {attn_train[last]['elapsed_seconds'] / 60:.1f} min, "
              f"PyTorch {torch_train[last]['elapsed_seconds'] / 60:.1f} min of wall time "
              "(validations included).")


# ---- self-test ------------------------------------------------------------------------------


def self_test() -> None:
    # Random123's known answers for Philox4x32-10 (as tests/core/tensor_test.cpp).
    zero = philox4x32(0, np.array([0], dtype=np.uint64), 0)[0].tolist()
    assert zero == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8], zero
    ones = philox4x32(2**64 - 1, np.array([2**64 - 1], dtype=np.uint64), 2**64 - 1)[0].tolist()
    assert ones == [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD], ones
    order = shuffled_indices(1000, 7, 3)
    assert sorted(order) == list(range(1000)) and order != list(range(1000))
    batches = make_pair_batches([3, 5, 2, 9, 4, 4], [4, 5, 1, 2, 4, 3], 12, 1, 0, shuffle=False)
    assert batches == [[2, 0, 5], [4, 1], [3]], batches  # keys (longer, source, target)
    # Incremental decoding equals recomputing the whole prefix, for both norm placements.
    torch.manual_seed(0)
    for norm in ("pre", "post"):
        options = TransformerOptions(source_vocab_size=40, target_vocab_size=40, d_model=16,
                                     num_heads=2, d_ff=32, encoder_layers=2, decoder_layers=2,
                                     max_length=12, norm=norm, share_embeddings=True,
                                     tie_output=norm == "pre")
        model = Transformer(options).eval()
        source = torch.tensor([[5, 6, 7, 8, EOS_ID], [9, 10, EOS_ID, PAD_ID, PAD_ID]])
        target = torch.tensor([[BOS_ID, 11, 12, 13, 14], [BOS_ID, 15, 16, 17, 18]])
        with torch.no_grad():
            full = torch.log_softmax(model(source, target, source == PAD_ID), dim=-1)
            decoder = StepDecoder(model, source)
            steps = torch.stack([decoder.next_log_probs(target[:, t]) for t in range(5)], dim=1)
            assert torch.allclose(full, steps, atol=1e-5), (full - steps).abs().max()
            decoder = StepDecoder(model, source)
            decoder.next_log_probs(target[:, 0])
            decoder.select([1])
            reordered = decoder.next_log_probs(target[1:, 1])
            assert torch.allclose(full[1:, 1], reordered, atol=1e-5)
            greedy_tokens = greedy(StepDecoder(model, source), 10)
            beam_tokens = beam_search(StepDecoder(model, source), 1, 0.6, 10)
            assert greedy_tokens == beam_tokens, (greedy_tokens, beam_tokens)
    print("self-test passed: Philox known answers, batching, incremental decoding = full decoding, "
          "beam 1 = greedy")


# ---- command line ---------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Remaining arguments are configuration overrides key=value, as for attn train.")
    parser.add_argument("--config", help="attn's TOML configuration (default: the attn run's "
                        "resolved config.toml)")
    parser.add_argument("--attn-run", help="an attn run directory: its config.toml, "
                        "checkpoints/initial.safetensors and tokenizers")
    parser.add_argument("--init-from", help="initial weights (default: ATTN_RUN/checkpoints/"
                        "initial.safetensors; without either, torch's own initialisation)")
    parser.add_argument("--tokenizer-dir", help="folder of source.model and target.model "
                        "(default: ATTN_RUN/checkpoints)")
    parser.add_argument("--run-dir", help="where this run goes (train.run_dir; default: the "
                        "configuration's run_dir + '-torch')")
    parser.add_argument("--max-steps", type=int, help="train.max_steps")
    parser.add_argument("--max-minutes", type=float, help="train.max_minutes")
    parser.add_argument("--force", action="store_true", help="start over a run directory that "
                        "already holds a run")
    parser.add_argument("--decode", action="append", choices=["valid", "test"], default=[],
                        help="after training, translate this split and print BLEU (repeatable)")
    parser.add_argument("--decode-only", action="store_true",
                        help="skip training; decode the run directory's checkpoint")
    parser.add_argument("--decode-from", choices=["best", "last"], default="best",
                        help="checkpoint to decode with (best falls back to last)")
    parser.add_argument("--decode-sentences", type=int, default=0, help="first N only (0: all)")
    parser.add_argument("--search", choices=["greedy", "beam", "both"], default="both")
    parser.add_argument("--beam-size", type=int, default=4)
    parser.add_argument("--length-penalty", type=float, default=0.6)
    parser.add_argument("--report", nargs=2, metavar=("ATTN_RUN", "TORCH_RUN"),
                        help="print markdown tables of the two runs' metrics at equal steps, "
                        "then exit")
    parser.add_argument("--self-test", action="store_true",
                        help="check the Philox port and the incremental decoder, then exit")
    arguments, overrides = parser.parse_known_args()
    if arguments.self_test:
        self_test()
        return
    if arguments.report:
        report(Path(arguments.report[0]), Path(arguments.report[1]))
        return
    unknown = [o for o in overrides if o.startswith("-") or "=" not in o]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")

    attn_run = Path(arguments.attn_run) if arguments.attn_run else None
    config_path = Path(arguments.config) if arguments.config else (
        attn_run / "config.toml" if attn_run else None)
    if config_path is None:
        parser.error("give --config or --attn-run")
    if attn_run:
        initial = attn_run / "checkpoints" / "initial.safetensors"
        arguments.init_from = arguments.init_from or str(initial)
        arguments.tokenizer_dir = arguments.tokenizer_dir or str(attn_run / "checkpoints")
    if not arguments.tokenizer_dir:
        parser.error("give --tokenizer-dir or --attn-run (the reference uses attn's tokenizers)")
    if arguments.init_from and not Path(arguments.init_from).exists():
        raise SystemExit(f"{arguments.init_from}: not found (attn train writes it before its "
                         "first step)")

    base_config = load_config(config_path, overrides)
    if arguments.max_steps is not None:
        overrides.append(f"train.max_steps={arguments.max_steps}")
    if arguments.max_minutes is not None:
        overrides.append(f"train.max_minutes={arguments.max_minutes}")
    run_dir = arguments.run_dir or base_config["train.run_dir"].rstrip("/") + "-torch"
    overrides.append(f'train.run_dir="{run_dir}"')
    config = load_config(config_path, overrides)

    reference = Reference(config, arguments)
    if not arguments.decode_only:
        reference.fit()
    methods = ["greedy", "beam"] if arguments.search == "both" else [arguments.search]
    for split in arguments.decode:
        reference.evaluate(split, methods)


if __name__ == "__main__":
    main()
