#!/usr/bin/env python3
"""Translates a file with a CTranslate2 model as `attn translate` does: the run's SentencePiece
tokenizers, </s> after each source sentence, decoding from <s>, in batches of sentences.

    bench/ctranslate2_translate.py --model CT2_DIR --tokenizers RUN/checkpoints \\
        --input FILE --output FILE [--method beam|greedy] [--beam-size 4] \\
        [--length-penalty 0.6] [--max-length 256] [--batch-size 32] [--threads 2]

The reference of bench/compare_ctranslate2.sh; the timing is of the whole process, model
loading included, as for attn.
"""
import argparse
import pathlib

import ctranslate2
import sentencepiece


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--tokenizers", required=True, help="folder with source.model and target.model")
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--method", choices=("beam", "greedy"), default="beam")
    parser.add_argument("--beam-size", type=int, default=4)
    parser.add_argument("--length-penalty", type=float, default=0.6)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    arguments = parser.parse_args()

    folder = pathlib.Path(arguments.tokenizers)
    source = sentencepiece.SentencePieceProcessor(model_file=str(folder / "source.model"))
    target = sentencepiece.SentencePieceProcessor(model_file=str(folder / "target.model"))
    translator = ctranslate2.Translator(arguments.model, device="cpu", inter_threads=1,
                                        intra_threads=arguments.threads)
    lines = pathlib.Path(arguments.input).read_text(encoding="utf-8").splitlines()
    batch = [source.encode(line, out_type=str) + ["</s>"] for line in lines]
    results = translator.translate_batch(
        batch, max_batch_size=arguments.batch_size, batch_type="examples",
        beam_size=1 if arguments.method == "greedy" else arguments.beam_size,
        length_penalty=arguments.length_penalty, max_decoding_length=arguments.max_length)
    with open(arguments.output, "w", encoding="utf-8") as out:
        for result in results:
            out.write(target.decode(result.hypotheses[0]) + "\n")


if __name__ == "__main__":
    main()
