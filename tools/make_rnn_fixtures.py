#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures for the RNN models to tests/fixtures/models/.

The PyTorch modules below mirror attn::models::RnnSeq2Seq and RnnAttentionClassifier
(include/attn/models/rnn_seq2seq.h, rnn_classifier.h, docs/MODELS_RNN.md) with the same
parameter names and layouts, so a state_dict loads into either side unchanged.

Each fixture holds the parameters ("param.<name>"), the int64 inputs, the outputs
("logits", "attention_weights"), a fixed projection of the logits ("projection.logits") and
the gradients of loss = sum(logits * projection.logits) with respect to every parameter
("grad.<name>"). As in make_nn_fixtures.py, parameters are drawn in float32 and the
references computed in float64 from those values, then rounded to float32.

Usage: python3 tools/make_rnn_fixtures.py [output_dir]
"""
import pathlib
import sys

import torch

from make_nn_fixtures import ROOT, SEED, randomize_parameters, save, uniform

PAD = 0


def padding_mask(lengths, steps):
    """bool [B, S], True at padded steps."""
    return torch.arange(steps)[None, :] >= lengths[:, None]


def masked_softmax(scores, padding):
    return torch.softmax(scores.masked_fill(padding, float("-inf")), dim=-1)


def bidirectional_gru(gru, embedded, lengths):
    """Outputs [B, S, 2H'] (zero at padded steps) and h_n [2, B, H'], as attn's nn::GRU."""
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        embedded, lengths, batch_first=True, enforce_sorted=False)
    output, h_n = gru(packed)
    output, _ = torch.nn.utils.rnn.pad_packed_sequence(
        output, batch_first=True, total_length=embedded.shape[1])
    return output, h_n


# ---- RnnSeq2Seq ----------------------------------------------------------------------------

class RecurrentAttention(torch.nn.Module):
    """score: "additive" (v·tanh(W q + U h)), "general" (q·W_a h) or "dot" (q·h)."""

    def __init__(self, score, hidden, attention):
        super().__init__()
        self.score = score
        if score == "additive":
            self.query = torch.nn.Linear(hidden, attention, bias=False)
            self.key = torch.nn.Linear(hidden, attention, bias=False)
            self.v = torch.nn.Linear(attention, 1, bias=False)
        elif score == "general":
            self.key = torch.nn.Linear(hidden, hidden, bias=False)

    def prepare_keys(self, memory):
        return self.key(memory) if self.score in ("additive", "general") else memory

    def forward(self, query, memory, keys, padding):
        if self.score == "additive":
            scores = self.v(torch.tanh(keys + self.query(query)[:, None, :])).squeeze(2)
        else:
            scores = torch.bmm(keys, query[:, :, None]).squeeze(2)
        weights = masked_softmax(scores, padding)
        return torch.bmm(weights[:, None, :], memory).squeeze(1), weights


class RnnSeq2Seq(torch.nn.Module):
    def __init__(self, source_vocab, target_vocab, embedding, hidden, attention_size,
                 attention, luong_score):
        super().__init__()
        self.bahdanau = attention == "bahdanau"
        self.source_embedding = torch.nn.Embedding(source_vocab, embedding, padding_idx=PAD)
        self.target_embedding = torch.nn.Embedding(target_vocab, embedding, padding_idx=PAD)
        self.encoder = torch.nn.GRU(embedding, hidden // 2, bidirectional=True, batch_first=True)
        self.bridge = torch.nn.Linear(hidden, hidden)
        self.decoder_cell = torch.nn.GRUCell(embedding + hidden, hidden)
        score = "additive" if self.bahdanau or luong_score == "concat" else luong_score
        self.attention = RecurrentAttention(score, hidden, attention_size)
        if self.bahdanau:
            self.output = torch.nn.Linear(2 * hidden + embedding, hidden)
        else:
            self.output = torch.nn.Linear(2 * hidden, hidden, bias=False)
        self.generator = torch.nn.Linear(hidden, target_vocab)

    def forward(self, source, lengths, target_in):
        memory, h_n = bidirectional_gru(self.encoder, self.source_embedding(source), lengths)
        keys = self.attention.prepare_keys(memory)
        padding = padding_mask(lengths, source.shape[1])
        hidden = torch.tanh(self.bridge(torch.cat([h_n[0], h_n[1]], dim=1)))
        attentional = torch.zeros_like(hidden)
        embedded = self.target_embedding(target_in)
        outputs, all_weights = [], []
        for t in range(target_in.shape[1]):
            e = embedded[:, t]
            if self.bahdanau:
                context, weights = self.attention(hidden, memory, keys, padding)
                hidden = self.decoder_cell(torch.cat([e, context], dim=1), hidden)
                output = torch.tanh(self.output(torch.cat([hidden, context, e], dim=1)))
            else:
                hidden = self.decoder_cell(torch.cat([e, attentional], dim=1), hidden)
                context, weights = self.attention(hidden, memory, keys, padding)
                attentional = torch.tanh(self.output(torch.cat([context, hidden], dim=1)))
                output = attentional
            outputs.append(output)
            all_weights.append(weights)
        return self.generator(torch.stack(outputs, 1)), torch.stack(all_weights, 1)


# ---- RnnAttentionClassifier ------------------------------------------------------------------

class AttentionPooling(torch.nn.Module):
    def __init__(self, input_size, attention_size):
        super().__init__()
        self.projection = torch.nn.Linear(input_size, attention_size)
        self.context = torch.nn.Parameter(torch.empty(attention_size))

    def forward(self, h, padding):
        u = torch.tanh(self.projection(h))
        weights = masked_softmax(u @ self.context, padding)
        return torch.bmm(weights[:, None, :], h).squeeze(1), weights


class RnnAttentionClassifier(torch.nn.Module):
    def __init__(self, vocab, embedding, hidden, attention, num_classes):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab, embedding, padding_idx=PAD)
        self.encoder = torch.nn.GRU(embedding, hidden, bidirectional=True, batch_first=True)
        self.attention = AttentionPooling(2 * hidden, attention)
        self.output = torch.nn.Linear(2 * hidden, num_classes)

    def forward(self, tokens, lengths):
        h, _ = bidirectional_gru(self.encoder, self.embedding(tokens), lengths)
        pooled, weights = self.attention(h, padding_mask(lengths, tokens.shape[1]))
        return self.output(pooled), weights


# ---- fixtures --------------------------------------------------------------------------------

def prepare(module, generator):
    """Random float32 parameters; embedding rows 0 (padding) at zero, as attn keeps them."""
    randomize_parameters(module, generator)
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if name.endswith("embedding.weight"):
                parameter[PAD].zero_()


def reference(module, inputs, generator):
    """Runs the module in float64; records parameters, inputs, outputs and gradients."""
    module64 = module.double()
    logits, weights = module64(*inputs.values())
    projection = uniform(generator, *logits.shape)
    (logits * projection.double()).sum().backward()
    record = dict(inputs)
    for name, parameter in module64.named_parameters():
        record[f"param.{name}"] = parameter.detach().float()
        record[f"grad.{name}"] = parameter.grad.float()
    record["logits"] = logits.detach().float()
    record["attention_weights"] = weights.detach().float()
    record["projection.logits"] = projection
    return record


def random_tokens(generator, shape, vocab):
    """Ids from the words (4 on), so no special id appears inside a sequence."""
    return torch.randint(4, vocab, shape, generator=generator, dtype=torch.int64)


def seq2seq_fixture(directory, attention, luong_score, seed):
    generator = torch.Generator().manual_seed(seed)
    config = {"source_vocab_size": 9, "target_vocab_size": 10, "embedding_size": 3,
              "hidden_size": 4, "attention_size": 3, "attention": attention,
              "luong_score": luong_score}
    module = RnnSeq2Seq(9, 10, 3, 4, 3, attention, luong_score)
    prepare(module, generator)
    lengths = torch.tensor([4, 2, 3], dtype=torch.int64)
    source = random_tokens(generator, (3, 4), 9).masked_fill(padding_mask(lengths, 4), PAD)
    target_in = random_tokens(generator, (3, 5), 10)
    target_in[:, 0] = 2  # <s>
    target_in[1, 4] = PAD  # a padded target step reads the zero padding embedding
    inputs = {"source": source, "source_lengths": lengths, "target_in": target_in}
    name = "rnn_seq2seq_" + (attention if attention == "bahdanau" else f"luong_{luong_score}")
    save(directory, name, reference(module, inputs, generator), config)


def classifier_fixture(directory, seed):
    generator = torch.Generator().manual_seed(seed)
    config = {"vocab_size": 8, "embedding_size": 3, "hidden_size": 2, "attention_size": 3,
              "num_classes": 3}
    module = RnnAttentionClassifier(8, 3, 2, 3, 3)
    prepare(module, generator)
    lengths = torch.tensor([5, 2, 4], dtype=torch.int64)
    tokens = random_tokens(generator, (3, 5), 8).masked_fill(padding_mask(lengths, 5), PAD)
    inputs = {"tokens": tokens, "lengths": lengths}
    save(directory, "rnn_classifier", reference(module, inputs, generator), config)


def main():
    default = ROOT / "tests" / "fixtures" / "models"
    directory = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else default
    directory.mkdir(parents=True, exist_ok=True)
    cases = [("bahdanau", "general"), ("luong", "dot"), ("luong", "general"), ("luong", "concat")]
    for index, (attention, luong_score) in enumerate(cases):
        seq2seq_fixture(directory, attention, luong_score, SEED + 100 + index)
    classifier_fixture(directory, SEED + 110)


if __name__ == "__main__":
    main()
