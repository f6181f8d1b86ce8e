#!/usr/bin/env python3
"""Converts an attn translation Transformer to a CTranslate2 model folder.

    tools/convert_to_ctranslate2.py RUN OUT [--quantization int8|...] [--force]

RUN is a run directory of `attn train` (its best checkpoint, else its last) or a checkpoint
file beside the run's SentencePiece tokenizers (source.model, target.model). OUT receives
CTranslate2's model.bin and vocabularies. The weights are the same numbers: CTranslate2's
Python package builds the model from a TransformerSpec filled with attn's tensors, so the
comparison in bench/compare_ctranslate2.sh runs one model in two engines.

What maps to what (attn's names on the left; docs/PERFORMANCE.md has the comparison):
  shared_embedding / source_embedding / target_embedding   embeddings (scaled by sqrt(d_model))
  the sinusoidal table (sin and cos interleaved)            position_encodings, written out,
                                                            since CTranslate2's own table puts
                                                            the sines first
  *.self_attention.in_proj (q, k, v stacked)               self_attention.linear[0]
  *.cross_attention.in_proj                                attention.linear[0] (q) and
                                                            linear[1] (k, v)
  *.out_proj, feed_forward.w1 / w2, *_norm, final_norm       the matching linear and layer norms
  the tied output layer                                     decoder.projection

Needs the packages `ctranslate2`, `safetensors`, `numpy` and `sentencepiece`
(bench/compare_ctranslate2.sh makes an environment with them).
"""
import argparse
import json
import math
import pathlib
import sys

import numpy as np
from safetensors import safe_open

import ctranslate2
from ctranslate2.specs import common_spec, transformer_spec


def fail(message):
    print(f"convert_to_ctranslate2.py: {message}", file=sys.stderr)
    sys.exit(2)


def locate_checkpoint(path):
    """The checkpoint a run directory means: its best, else its last."""
    path = pathlib.Path(path)
    if path.is_file():
        return path
    for name in ("best.safetensors", "last.safetensors"):
        candidate = path / "checkpoints" / name
        if candidate.is_file():
            return candidate
    fail(f"{path} is neither a checkpoint nor a run directory with checkpoints/best or last")


def read_checkpoint(path):
    with safe_open(str(path), framework="numpy") as file:
        metadata = file.metadata() or {}
        tensors = {name: file.get_tensor(name) for name in file.keys()}
    if "config" not in metadata:
        fail(f"{path} has no attn config in its header")
    return json.loads(metadata["config"]), tensors


def vocabulary(model_file):
    """The pieces of a SentencePiece model in id order (attn's ids are the model's ids)."""
    import sentencepiece

    processor = sentencepiece.SentencePieceProcessor(model_file=str(model_file))
    return [processor.id_to_piece(i) for i in range(processor.get_piece_size())]


def sinusoidal_table(length, dim):
    """attn's table (src/nn/positional.cpp): sin and cos of each frequency side by side."""
    table = np.zeros((length, dim), dtype=np.float64)
    for pair in range(dim // 2):
        frequency = math.exp(-math.log(10000.0) * (2 * pair) / dim)
        angles = np.arange(length) * frequency
        table[:, 2 * pair] = np.sin(angles)
        table[:, 2 * pair + 1] = np.cos(angles)
    return table.astype(np.float32)


class AttnConverter(ctranslate2.converters.Converter):
    def __init__(self, run):
        self.checkpoint = locate_checkpoint(run)
        self.folder = self.checkpoint.parent

    def _load(self):
        config, tensors = read_checkpoint(self.checkpoint)
        if config.get("task") != "translation" or config.get("arch") != "transformer":
            fail(f"{self.checkpoint} is a {config.get('task')} {config.get('arch')} model; "
                 "only translation Transformers convert")
        options = config["model"]
        activation = {"relu": common_spec.Activation.RELU, "gelu": common_spec.Activation.GELU}
        if options.get("activation", "relu") not in activation:
            fail(f"activation {options['activation']} has no CTranslate2 equivalent")
        spec = transformer_spec.TransformerSpec.from_config(
            (options["encoder_layers"], options["decoder_layers"]), options["num_heads"],
            pre_norm=options.get("norm", "pre") == "pre",
            activation=activation[options.get("activation", "relu")])
        used = set()

        def take(name):
            if name not in tensors:
                fail(f"{self.checkpoint} has no tensor {name}")
            used.add(name)
            return tensors[name]

        def linear(target, prefix, rows=None):
            weight, bias = take(prefix + "weight"), take(prefix + "bias")
            if rows is not None:
                weight, bias = weight[rows], bias[rows]
            target.weight = np.ascontiguousarray(weight)
            target.bias = np.ascontiguousarray(bias)

        def norm(target, prefix):
            target.gamma = take(prefix + "weight")
            target.beta = take(prefix + "bias")

        d_model = options["d_model"]
        shared = options.get("share_embeddings", False)
        source_embedding = take("shared_embedding.weight" if shared else "source_embedding.weight")
        target_embedding = take("shared_embedding.weight" if shared else "target_embedding.weight")
        positions = sinusoidal_table(options.get("max_length", 256), d_model)

        encoder = spec.encoder
        encoder.embeddings[0].weight = source_embedding
        encoder.scale_embeddings = True
        encoder.position_encodings.encodings = positions
        norm(encoder.layer_norm, "encoder.final_norm.")
        def self_attention_and_feed_forward(layer, prefix):
            norm(layer.self_attention.layer_norm, prefix + "self_attention_norm.")
            linear(layer.self_attention.linear[0], prefix + "self_attention.in_proj_")
            linear(layer.self_attention.linear[1], prefix + "self_attention.out_proj.")
            norm(layer.ffn.layer_norm, prefix + "feed_forward_norm.")
            linear(layer.ffn.linear_0, prefix + "feed_forward.w1.")
            linear(layer.ffn.linear_1, prefix + "feed_forward.w2.")

        for index, layer in enumerate(encoder.layer):
            self_attention_and_feed_forward(layer, f"encoder.layers.{index}.")

        decoder = spec.decoder
        decoder.embeddings.weight = target_embedding
        decoder.scale_embeddings = True
        decoder.position_encodings.encodings = positions
        norm(decoder.layer_norm, "decoder.final_norm.")
        for index, layer in enumerate(decoder.layer):
            prefix = f"decoder.layers.{index}."
            self_attention_and_feed_forward(layer, prefix)
            norm(layer.attention.layer_norm, prefix + "cross_attention_norm.")
            linear(layer.attention.linear[0], prefix + "cross_attention.in_proj_", slice(0, d_model))
            linear(layer.attention.linear[1], prefix + "cross_attention.in_proj_", slice(d_model, 3 * d_model))
            linear(layer.attention.linear[2], prefix + "cross_attention.out_proj.")
        if options.get("tie_output", False):
            decoder.projection.weight = target_embedding
        else:
            linear(decoder.projection, "output_projection.")
        unused = sorted(set(tensors) - used)
        if unused:
            fail(f"{self.checkpoint} has tensors this converter does not know: {', '.join(unused[:5])}")

        for side, register in (("source", spec.register_source_vocabulary),
                               ("target", spec.register_target_vocabulary)):
            model_file = self.folder / f"{side}.model"
            if not model_file.is_file():
                fail(f"{model_file} is missing: only SentencePiece runs convert")
            register(vocabulary(model_file))
        spec.config.bos_token = "<s>"
        spec.config.eos_token = "</s>"
        spec.config.unk_token = "<unk>"
        return spec


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", help="run directory or checkpoint of an attn translation Transformer")
    parser.add_argument("out", help="folder to write the CTranslate2 model to")
    parser.add_argument("--quantization", default=None,
                        help="CTranslate2 weight type (int8, int8_float32, bfloat16, ...); default float32")
    parser.add_argument("--force", action="store_true", help="replace OUT if it exists")
    arguments = parser.parse_args()
    AttnConverter(arguments.run).convert(arguments.out, quantization=arguments.quantization,
                                         force=arguments.force)
    print(f"wrote {arguments.out} (CTranslate2 {ctranslate2.__version__})")


if __name__ == "__main__":
    main()
