"""Writes tests/fixtures/models/*.safetensors: tiny Transformer models built with the PyTorch
mirrors in tools/attn_torch_models.py, in float64, with their inputs, logits, loss and the
gradient of the loss w.r.t. every parameter. tests/models/transformer_test.cpp loads the
weights by name into attn's models and compares.

Each file holds
  param.<name>    the state dict (attn's parameter names)
  grad.<name>     d loss / d parameter
  input.*         tokens (int64), padding masks (bool, True = padding), targets
  output.logits, output.loss
and one metadata entry, "fixture": the JSON {"kind": "transformer" | "language_model" |
"classifier", "options": <the options, as attn stores them in a checkpoint's config>} (one
key, so that the file's bytes do not depend on the writer's metadata order).

Losses (what the C++ test recomputes with ops::cross_entropy):
  transformer      cross_entropy(logits [B*T, V], targets [B*T], ignore_index 0,
                   label_smoothing 0.1)
  language_model   the same on logits[:, :-1] against tokens[:, 1:]
  classifier       cross_entropy(logits [B, C], labels [B])

Run from the repository root: python3 tools/make_model_fixtures.py
"""

import json
import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

import attn_torch_models as models

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "models")
LABEL_SMOOTHING = 0.1


def tokens_with_padding(generator, vocab_size, lengths, width):
    """int64 [B, width]: ids in [4, vocab) up to each length, then 0; and the padding mask."""
    rows = []
    for length in lengths:
        row = torch.randint(4, vocab_size, (width,), generator=generator)
        row[length:] = 0
        rows.append(row)
    tokens = torch.stack(rows)
    return tokens, tokens == 0


def randomize(model, generator):
    """Non-trivial values everywhere (LayerNorm weights and biases included)."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("norm.weight"):
                parameter.copy_(1.0 + 0.2 * torch.randn(parameter.shape, generator=generator,
                                                        dtype=torch.float64))
            elif parameter.dim() == 1:
                parameter.copy_(0.1 * torch.randn(parameter.shape, generator=generator,
                                                  dtype=torch.float64))


def save(name, model, kind, options, inputs, logits, loss):
    loss.backward()
    tensors = {f"param.{key}": value.detach().clone()
               for key, value in model.state_dict().items()}
    for key, parameter in model.named_parameters():
        tensors[f"grad.{key}"] = parameter.grad.detach().clone()
    tensors.update({f"input.{key}": value.contiguous() for key, value in inputs.items()})
    tensors["output.logits"] = logits.detach().contiguous()
    tensors["output.loss"] = loss.detach().reshape(())
    metadata = {"fixture": json.dumps({"kind": kind, "options": options})}
    save_file(tensors, os.path.join(OUT, f"{name}.safetensors"), metadata=metadata)
    print(f"{name}: {sum(p.numel() for p in model.parameters())} parameters, loss {loss.item():.6f}")


def make_transformer(name, seed, **config):
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    base = dict(d_model=16, num_heads=2, d_ff=24, encoder_layers=2, decoder_layers=2, dropout=0.0,
                max_length=12)
    base.update(config)
    options = models.TransformerOptions(**base)
    model = models.Transformer(options).double()
    randomize(model, generator)
    source, source_padding = tokens_with_padding(generator, options.source_vocab_size, [7, 5, 2], 7)
    target, _ = tokens_with_padding(generator, options.target_vocab_size, [7, 4, 6], 7)
    target_in = target[:, :-1].clone()
    target_in[:, 0] = 2  # <s>
    targets = target[:, 1:].clone()
    logits = model(source, target_in, source_padding)
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1),
                           ignore_index=0, label_smoothing=LABEL_SMOOTHING)
    inputs = dict(source=source, source_padding=source_padding, target_in=target_in,
                  targets=targets)
    save(name, model, "transformer", base, inputs, logits, loss)


def make_language_model(name, seed, **config):
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    base = dict(vocab_size=15, d_model=16, num_heads=4, d_ff=32, num_layers=2, dropout=0.0,
                max_length=16)
    base.update(config)
    options = models.LanguageModelOptions(**base)
    model = models.TransformerLanguageModel(options).double()
    randomize(model, generator)
    tokens, _ = tokens_with_padding(generator, options.vocab_size, [9, 6], 9)
    tokens[:, 0] = 2
    logits = model(tokens)
    loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)), tokens[:, 1:].reshape(-1),
                           ignore_index=0, label_smoothing=LABEL_SMOOTHING)
    save(name, model, "language_model", base, dict(tokens=tokens), logits, loss)


def make_classifier(name, seed, padded, **config):
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    base = dict(vocab_size=17, num_classes=3, d_model=16, num_heads=2, d_ff=24, num_layers=2,
                dropout=0.0, max_length=10)
    base.update(config)
    options = models.TransformerClassifierOptions(**base)
    model = models.TransformerClassifier(options).double()
    randomize(model, generator)
    lengths = [8, 3, 5, 1] if padded else [8, 8, 8, 8]
    tokens, padding = tokens_with_padding(generator, options.vocab_size, lengths, 8)
    labels = torch.tensor([0, 2, 1, 2])
    logits = model(tokens, padding if padded else None)
    loss = F.cross_entropy(logits, labels)
    inputs = dict(tokens=tokens, labels=labels)
    if padded:
        inputs["padding"] = padding
    save(name, model, "classifier", base, inputs, logits, loss)


def main():
    torch.set_num_threads(1)  # the same summation order on every run: reproducible files
    os.makedirs(OUT, exist_ok=True)
    make_transformer("transformer_post", 1, source_vocab_size=13, target_vocab_size=11)
    make_transformer("transformer_post_tied", 2, source_vocab_size=13, target_vocab_size=11,
                     tie_output=True)
    make_transformer("transformer_pre_shared_tied", 3, source_vocab_size=13, target_vocab_size=13,
                     norm="pre", activation="gelu", share_embeddings=True, tie_output=True)
    make_language_model("language_model_pre_tied", 4, norm="pre", activation="gelu",
                        tie_output=True)
    make_language_model("language_model_post", 5, norm="post", activation="relu",
                        tie_output=False)
    make_classifier("classifier_pre_padded", 6, True, norm="pre")
    make_classifier("classifier_post", 7, False, norm="post", activation="gelu")


if __name__ == "__main__":
    main()
