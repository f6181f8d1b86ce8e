"""PyTorch mirrors of attn's Transformer models (include/attn/models/).

Every module here has the same parameter names, shapes and computation as its attn
counterpart, so a state dict moves 1:1 between the two through safetensors:

    from safetensors.torch import save_file, load_file
    save_file(model.state_dict(), "weights.safetensors")        # attn loads it by name
    model.load_state_dict(load_file("checkpoint.safetensors"))  # an attn checkpoint

(an attn checkpoint is a safetensors file of the state dict; see docs/CHECKPOINTS.md).
The options classes take the JSON that attn stores in a checkpoint's "config" metadata.

Semantics shared with attn (docs/MODELS.md):
  - tokens are int64 [B, N], batch first; id 0 is padding; padding masks are bool with
    True = padding (torch.nn.MultiheadAttention's key_padding_mask);
  - embeddings are scaled by sqrt(d_model) and added to sinusoidal positions, then dropout;
  - norm "post" is the paper's LayerNorm(x + Dropout(Sublayer(x))); "pre" is
    x + Dropout(Sublayer(LayerNorm(x))) with a final LayerNorm after each stack;
  - the output projection has no bias; tie_output uses the target embedding instead.

Dropout masks differ from attn's (attn draws from its own Philox stream), so outputs match
exactly only with dropout off (eval mode or p = 0).

Run as a script to time one training step (forward, backward, Adam update):
    python3 tools/attn_torch_models.py --threads 2
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

# ---- options -------------------------------------------------------------------------------


def _from_json(cls, config: dict):
    names = {field.name for field in dataclasses.fields(cls)}
    unknown = sorted(set(config) - names)
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown key(s) {unknown}")
    return cls(**config)


@dataclasses.dataclass
class TransformerOptions:
    source_vocab_size: int = 0
    target_vocab_size: int = 0
    d_model: int = 512
    num_heads: int = 8
    d_ff: int = 2048
    encoder_layers: int = 6
    decoder_layers: int = 6
    dropout: float = 0.1
    attention_dropout: float = 0.0
    activation_dropout: float = 0.0
    activation: str = "relu"
    max_length: int = 1024
    norm: str = "post"
    share_embeddings: bool = False
    tie_output: bool = False
    layer_norm_epsilon: float = 1e-5

    @classmethod
    def from_json(cls, config: dict) -> "TransformerOptions":
        return _from_json(cls, config)


@dataclasses.dataclass
class LanguageModelOptions:
    vocab_size: int = 0
    d_model: int = 512
    num_heads: int = 8
    d_ff: int = 2048
    num_layers: int = 6
    dropout: float = 0.1
    attention_dropout: float = 0.0
    activation_dropout: float = 0.0
    activation: str = "gelu"
    max_length: int = 1024
    norm: str = "pre"
    tie_output: bool = True
    layer_norm_epsilon: float = 1e-5

    @classmethod
    def from_json(cls, config: dict) -> "LanguageModelOptions":
        return _from_json(cls, config)


@dataclasses.dataclass
class TransformerClassifierOptions:
    vocab_size: int = 0
    num_classes: int = 2
    d_model: int = 256
    num_heads: int = 4
    d_ff: int = 1024
    num_layers: int = 2
    dropout: float = 0.1
    attention_dropout: float = 0.0
    activation_dropout: float = 0.0
    activation: str = "relu"
    max_length: int = 512
    norm: str = "pre"
    layer_norm_epsilon: float = 1e-5

    @classmethod
    def from_json(cls, config: dict) -> "TransformerClassifierOptions":
        return _from_json(cls, config)


# ---- building blocks -----------------------------------------------------------------------


def sinusoidal_table(length: int, dim: int) -> torch.Tensor:
    """PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(...), in float64."""
    position = torch.arange(length, dtype=torch.float64)[:, None]
    pair = torch.arange(dim // 2, dtype=torch.float64)[None, :]
    theta = position / torch.pow(torch.tensor(10000.0, dtype=torch.float64), 2.0 * pair / dim)
    table = torch.empty(length, dim, dtype=torch.float64)
    table[:, 0::2] = torch.sin(theta)
    table[:, 1::2] = torch.cos(theta)
    return table


class FeedForward(nn.Module):
    """attn::nn::FeedForward: w2(dropout(activation(w1(x))))."""

    def __init__(self, d_model: int, d_ff: int, dropout: float, activation: str):
        super().__init__()
        self.w1 = nn.Linear(d_model, d_ff)
        self.dropout = nn.Dropout(dropout)
        self.w2 = nn.Linear(d_ff, d_model)
        self.activation = F.relu if activation == "relu" else F.gelu

    def forward(self, x):
        return self.w2(self.dropout(self.activation(self.w1(x))))


def make_embedding(vocab_size: int, dim: int) -> nn.Embedding:
    """Padding row 0; N(0, 1/dim) so that sqrt(dim) * embedding has unit variance."""
    table = nn.Embedding(vocab_size, dim, padding_idx=0)
    nn.init.normal_(table.weight, 0.0, dim**-0.5)
    with torch.no_grad():
        table.weight[0].zero_()
    return table


def make_output_projection(dim: int, vocab_size: int) -> nn.Linear:
    projection = nn.Linear(dim, vocab_size, bias=False)
    nn.init.xavier_uniform_(projection.weight)
    return projection


class _Residual:
    """The sublayer wrapper of both norm placements."""

    @staticmethod
    def apply(norm_placement, norm, dropout, x, sublayer):
        if norm_placement == "post":
            return norm(x + dropout(sublayer(x)))
        return x + dropout(sublayer(norm(x)))


def causal_mask(length: int, device) -> torch.Tensor:
    """True above the diagonal: 'may not attend' in torch's convention."""
    return torch.ones(length, length, dtype=torch.bool, device=device).triu(1)


class EncoderLayer(nn.Module):
    def __init__(self, d_model, num_heads, d_ff, dropout, attention_dropout, activation_dropout,
                 activation, norm, layer_norm_epsilon):
        super().__init__()
        self.norm_placement = norm
        self.self_attention = nn.MultiheadAttention(d_model, num_heads, dropout=attention_dropout,
                                                    batch_first=True)
        self.self_attention_norm = nn.LayerNorm(d_model, eps=layer_norm_epsilon)
        self.feed_forward = FeedForward(d_model, d_ff, activation_dropout, activation)
        self.feed_forward_norm = nn.LayerNorm(d_model, eps=layer_norm_epsilon)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, key_padding_mask=None, causal=False):
        attn_mask = causal_mask(x.size(1), x.device) if causal else None

        def attend(y):
            return self.self_attention(y, y, y, key_padding_mask=key_padding_mask,
                                       attn_mask=attn_mask, need_weights=False)[0]

        x = _Residual.apply(self.norm_placement, self.self_attention_norm, self.dropout, x, attend)
        return _Residual.apply(self.norm_placement, self.feed_forward_norm, self.dropout, x,
                               self.feed_forward)


class DecoderLayer(nn.Module):
    def __init__(self, d_model, num_heads, d_ff, dropout, attention_dropout, activation_dropout,
                 activation, norm, layer_norm_epsilon):
        super().__init__()
        self.norm_placement = norm
        self.self_attention = nn.MultiheadAttention(d_model, num_heads, dropout=attention_dropout,
                                                    batch_first=True)
        self.self_attention_norm = nn.LayerNorm(d_model, eps=layer_norm_epsilon)
        self.cross_attention = nn.MultiheadAttention(d_model, num_heads,
                                                     dropout=attention_dropout, batch_first=True)
        self.cross_attention_norm = nn.LayerNorm(d_model, eps=layer_norm_epsilon)
        self.feed_forward = FeedForward(d_model, d_ff, activation_dropout, activation)
        self.feed_forward_norm = nn.LayerNorm(d_model, eps=layer_norm_epsilon)
        self.dropout = nn.Dropout(dropout)

    def forward(self, y, memory, memory_padding_mask=None):
        attn_mask = causal_mask(y.size(1), y.device)

        def self_attend(x):
            return self.self_attention(x, x, x, attn_mask=attn_mask, need_weights=False)[0]

        def cross_attend(x):
            return self.cross_attention(x, memory, memory, key_padding_mask=memory_padding_mask,
                                        need_weights=False)[0]

        residual = _Residual.apply
        y = residual(self.norm_placement, self.self_attention_norm, self.dropout, y, self_attend)
        y = residual(self.norm_placement, self.cross_attention_norm, self.dropout, y, cross_attend)
        return residual(self.norm_placement, self.feed_forward_norm, self.dropout, y,
                        self.feed_forward)


def _layer_arguments(options) -> dict:
    return dict(d_model=options.d_model, num_heads=options.num_heads, d_ff=options.d_ff,
                dropout=options.dropout, attention_dropout=options.attention_dropout,
                activation_dropout=options.activation_dropout, activation=options.activation,
                norm=options.norm, layer_norm_epsilon=options.layer_norm_epsilon)


class TransformerEncoder(nn.Module):
    def __init__(self, options, num_layers: int):
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(**_layer_arguments(options))
                                    for _ in range(num_layers))
        self.final_norm = (nn.LayerNorm(options.d_model, eps=options.layer_norm_epsilon)
                           if options.norm == "pre" else None)

    def forward(self, x, key_padding_mask=None, causal=False):
        for layer in self.layers:
            x = layer(x, key_padding_mask, causal)
        return self.final_norm(x) if self.final_norm is not None else x


class TransformerDecoder(nn.Module):
    def __init__(self, options, num_layers: int):
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(**_layer_arguments(options))
                                    for _ in range(num_layers))
        self.final_norm = (nn.LayerNorm(options.d_model, eps=options.layer_norm_epsilon)
                           if options.norm == "pre" else None)

    def forward(self, y, memory, memory_padding_mask=None):
        for layer in self.layers:
            y = layer(y, memory, memory_padding_mask)
        return self.final_norm(y) if self.final_norm is not None else y


class _Embedder(nn.Module):
    """sqrt(d) * table[tokens] + PE, then dropout (no parameters of its own)."""

    def __init__(self, d_model: int, max_length: int, dropout: float):
        super().__init__()
        self.scale = math.sqrt(d_model)
        # Kept in float64 (like attn's table, computed in double) and rounded on use.
        self.register_buffer("table", sinusoidal_table(max_length, d_model), persistent=False)
        self.max_length = max_length
        self.dropout = nn.Dropout(dropout)

    def forward(self, table: nn.Embedding, tokens: torch.Tensor):
        if tokens.size(1) > self.max_length:
            raise ValueError(f"sequence length {tokens.size(1)} > max_length {self.max_length}")
        x = table(tokens) * self.scale
        return self.dropout(x + self.table[: tokens.size(1)].to(x.dtype))


# ---- models --------------------------------------------------------------------------------


class Transformer(nn.Module):
    """attn::models::Transformer."""

    def __init__(self, options: TransformerOptions):
        super().__init__()
        self.options = options
        if options.share_embeddings:
            assert options.source_vocab_size == options.target_vocab_size
            self.shared_embedding = make_embedding(options.source_vocab_size, options.d_model)
        else:
            self.source_embedding = make_embedding(options.source_vocab_size, options.d_model)
            self.target_embedding = make_embedding(options.target_vocab_size, options.d_model)
        self.embedder = _Embedder(options.d_model, options.max_length, options.dropout)
        self.encoder = TransformerEncoder(options, options.encoder_layers)
        self.decoder = TransformerDecoder(options, options.decoder_layers)
        if not options.tie_output:
            self.output_projection = make_output_projection(options.d_model,
                                                            options.target_vocab_size)

    def _tables(self):
        if self.options.share_embeddings:
            return self.shared_embedding, self.shared_embedding
        return self.source_embedding, self.target_embedding

    def encode(self, source, source_padding=None):
        return self.encoder(self.embedder(self._tables()[0], source), source_padding)

    def decode(self, target_in, memory, source_padding=None):
        target_table = self._tables()[1]
        hidden = self.decoder(self.embedder(target_table, target_in), memory, source_padding)
        if self.options.tie_output:
            return F.linear(hidden, target_table.weight)
        return self.output_projection(hidden)

    def forward(self, source, target_in, source_padding=None):
        return self.decode(target_in, self.encode(source, source_padding), source_padding)


class TransformerLanguageModel(nn.Module):
    """attn::models::TransformerLanguageModel."""

    def __init__(self, options: LanguageModelOptions):
        super().__init__()
        self.options = options
        self.embedding = make_embedding(options.vocab_size, options.d_model)
        self.embedder = _Embedder(options.d_model, options.max_length, options.dropout)
        self.decoder = TransformerEncoder(options, options.num_layers)
        if not options.tie_output:
            self.output_projection = make_output_projection(options.d_model, options.vocab_size)

    def forward(self, tokens):
        hidden = self.decoder(self.embedder(self.embedding, tokens), None, causal=True)
        if self.options.tie_output:
            return F.linear(hidden, self.embedding.weight)
        return self.output_projection(hidden)


class TransformerClassifier(nn.Module):
    """attn::models::TransformerClassifier: encoder, masked mean pooling, dropout, linear."""

    def __init__(self, options: TransformerClassifierOptions):
        super().__init__()
        self.options = options
        self.embedding = make_embedding(options.vocab_size, options.d_model)
        self.embedder = _Embedder(options.d_model, options.max_length, options.dropout)
        self.encoder = TransformerEncoder(options, options.num_layers)
        self.classifier = nn.Linear(options.d_model, options.num_classes)

    def forward(self, tokens, padding=None):
        hidden = self.encoder(self.embedder(self.embedding, tokens), padding)
        if padding is None:
            pooled = hidden.mean(dim=1)
        else:
            real = (~padding).to(hidden.dtype).unsqueeze(-1)
            pooled = (hidden * real).sum(dim=1) / real.sum(dim=1).clamp(min=1.0)
        return self.classifier(self.embedder.dropout(pooled))


# ---- timing --------------------------------------------------------------------------------


def time_training_step(arguments) -> None:
    torch.manual_seed(0)
    torch.set_num_threads(arguments.threads)
    options = TransformerOptions(
        source_vocab_size=arguments.vocab, target_vocab_size=arguments.vocab,
        d_model=arguments.d_model, num_heads=arguments.heads, d_ff=arguments.d_ff,
        encoder_layers=arguments.layers, decoder_layers=arguments.layers, dropout=0.1,
        norm=arguments.norm, share_embeddings=True, tie_output=True)
    model = Transformer(options)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    batch, length = arguments.batch, arguments.length
    generator = torch.Generator().manual_seed(1)
    source = torch.randint(4, arguments.vocab, (batch, length), generator=generator)
    target = torch.randint(4, arguments.vocab, (batch, length + 1), generator=generator)

    def step():
        logits = model(source, target[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, arguments.vocab), target[:, 1:].reshape(-1),
                               ignore_index=0, label_smoothing=0.1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(arguments.warmup):
        step()
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(arguments.steps):
        step()
    seconds = (time.perf_counter() - start) / arguments.steps
    cpu_seconds = (time.process_time() - cpu_start) / arguments.steps
    tokens = batch * length
    print(f"torch {torch.__version__}, {arguments.threads} threads: {seconds * 1e3:.1f} ms/step, "
          f"{2 * tokens / seconds:.0f} tokens/s (source + target), batch {batch} x {length}; "
          f"CPU time {cpu_seconds * 1e3:.1f} ms/step")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--d-ff", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--norm", default="pre")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--length", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    time_training_step(parser.parse_args())


if __name__ == "__main__":
    main()
