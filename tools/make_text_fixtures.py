#!/usr/bin/env python3
"""Writes the tokenizer tests' fixtures into tests/fixtures/text/:

- genesis_1_3.txt: Genesis 1-3 of the Reina-Valera 1909 (Spanish) and the King James
  Version (English), both public domain, one verse per line, Spanish first. The tests train
  SentencePiece on it.
- default_ids.model: a SentencePiece model trained on it by spm_train with SentencePiece's
  own default special ids (unk 0, bos 1, eos 2, no pad), which attn must refuse to load.

Needs diatheke with the SWORD modules spaRV1909eb and engKJV2006eb (Debian's diatheke,
sword-text-sparv, sword-text-kjv) and spm_train (Debian's sentencepiece).
Usage: tools/make_text_fixtures.py [output_directory]
"""
import pathlib
import re
import subprocess
import sys

MODULES = ["spaRV1909eb", "engKJV2006eb"]
PASSAGE = "Genesis 1-3"
VERSE_PREFIX = re.compile(r"^[1-3]?\s?[A-Za-z]+ \d+:\d+: ")


def verses(module):
    output = subprocess.run(["diatheke", "-b", module, "-f", "plain", "-k", PASSAGE],
                            check=True, capture_output=True, text=True).stdout
    lines = []
    for line in output.splitlines():
        if not VERSE_PREFIX.match(line):
            continue  # the "(module)" trailer
        text = " ".join(VERSE_PREFIX.sub("", line).split())
        if text:
            lines.append(text)
    return lines


def train_default_ids_model(text_path, directory):
    prefix = directory / "default_ids"
    subprocess.run(["spm_train", f"--input={text_path}", f"--model_prefix={prefix}",
                    "--vocab_size=100", "--model_type=unigram", "--normalization_rule_name=identity", "--minloglevel=2"], check=True)
    (directory / "default_ids.vocab").unlink()  # only the model is used
    print(f"{prefix}.model")


def main():
    root = pathlib.Path(__file__).resolve().parent.parent
    default = root / "tests" / "fixtures" / "text"
    directory = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else default
    directory.mkdir(parents=True, exist_ok=True)
    text_path = directory / "genesis_1_3.txt"
    lines = [line for module in MODULES for line in verses(module)]
    text_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{text_path}: {len(lines)} lines")
    train_default_ids_model(text_path, directory)


if __name__ == "__main__":
    main()
