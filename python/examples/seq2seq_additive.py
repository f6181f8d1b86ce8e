"""A GRU encoder-decoder with Bahdanau (additive) attention, trained in PyTorch with attn's
fused operator: the decoder attends to every encoder state at each step, and the
[B, Nq, Nk, a] tensor of the textbook version is never built.

The task is a toy one, reversing sequences of digits, so that the example runs in seconds:

    python python/examples/seq2seq_additive.py [--steps 300]
"""

import argparse

import torch
from torch import nn

import attn.torch as attn_torch

VOCABULARY, BEGIN = 12, 11  # digits 0-9, padding 10, begin-of-sequence 11


class Seq2Seq(nn.Module):
    def __init__(self, hidden=64, attention_dim=32):
        super().__init__()
        self.embed = nn.Embedding(VOCABULARY, hidden)
        self.encoder = nn.GRU(hidden, hidden // 2, batch_first=True, bidirectional=True)
        self.decoder = nn.GRU(hidden, hidden, batch_first=True)
        self.attention = attn_torch.AdditiveAttention(hidden, attention_dim)
        self.output = nn.Linear(2 * hidden, VOCABULARY)

    def forward(self, source, target_in, source_padding):
        memory, _ = self.encoder(self.embed(source))             # [B, Ns, hidden]
        states, _ = self.decoder(self.embed(target_in))          # [B, Nt, hidden]
        # Every decoder state attends to every encoder state (teacher forcing: all steps at
        # once); the weights come back for inspection.
        context, weights = self.attention(states, memory, memory,
                                          key_padding_mask=source_padding, need_weights=True)
        return self.output(torch.cat([states, context], dim=-1)), weights


def batch(size, length, generator):
    source = torch.randint(0, 10, (size, length), generator=generator)
    lengths = torch.randint(length // 2, length + 1, (size,), generator=generator)
    padding = torch.arange(length)[None, :] >= lengths[:, None]
    source = source.masked_fill(padding, 10)
    target = torch.stack([torch.cat([row[:n].flip(0), row[n:]]) for row, n in zip(source, lengths)])
    target_in = torch.cat([torch.full((size, 1), BEGIN), target[:, :-1]], dim=1)
    return source, target_in, target, padding


def train(steps=300, seed=0, log_every=50):
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = Seq2Seq()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for step in range(1, steps + 1):
        source, target_in, target, padding = batch(32, 10, generator)
        logits, _ = model(source, target_in, padding)
        loss = nn.functional.cross_entropy(logits.reshape(-1, VOCABULARY), target.reshape(-1),
                                           ignore_index=10)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if log_every and step % log_every == 0:
            print(f"step {step}: loss {loss.item():.3f}")
    return model, losses


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    arguments = parser.parse_args()
    model, _ = train(arguments.steps)
    source, target_in, target, padding = batch(1, 8, torch.Generator().manual_seed(1))
    logits, weights = model(source, target_in, padding)
    print("source   ", source[0].tolist())
    print("predicted", logits.argmax(-1)[0].tolist())
    print("attention of the first output step over the source:",
          [round(w, 2) for w in weights[0, 0].tolist()])


if __name__ == "__main__":
    main()
