"""Models trained by attn.train and loaded back: Translator (RNN seq2seq with Bahdanau
attention), Classifier (BiGRU with attention pooling) and TextGenerator (Transformer language
model), each a few steps on Jane Austen's sentences (the fixture the pretrained tests use)."""

from pathlib import Path

import numpy as np
import pytest

import attn

REPOSITORY = Path(__file__).resolve().parents[2]
CONFIGS = REPOSITORY / "configs"
FIXED = {"train.max_minutes": 0, "train.validate_every": 0, "train.threads": 1,
         "train.log_every": 1, "train.warmup_steps": 1}


@pytest.fixture(scope="module")
def sentences():
    text = (REPOSITORY / "tests" / "fixtures" / "pretrained" / "minilm_sentences.txt").read_text()
    return [" ".join(line.split()[:12]) for line in text.split("\n")[:240] if line.strip()]


def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def translator_run(tmp_path_factory, sentences):
    folder = tmp_path_factory.mktemp("translation")
    for split, part in (("train", sentences[:200]), ("valid", sentences[200:210])):
        write_lines(folder / f"{split}.src", part)
        write_lines(folder / f"{split}.tgt", [" ".join(reversed(s.split())) for s in part])
    return attn.train(CONFIGS / "bible_rnn.toml", quiet=True, **FIXED, data__dir=folder,
                      data__source="src", data__target="tgt", data__max_tokens=400,
                      data__valid_sentences=5, tokenizer__vocab_size=300,
                      model__rnn__embedding_size=16, model__rnn__hidden_size=16,
                      model__rnn__attention_size=8, eval__bleu_sentences=3,
                      train__max_steps=3, train__run_dir=folder / "run")


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory, sentences):
    folder = tmp_path_factory.mktemp("classification")
    lines = [f"{int('Emma' in s)}\t{s}" for s in sentences]
    write_lines(folder / "train.tsv", lines[:200])
    write_lines(folder / "valid.tsv", lines[200:])
    return attn.train(CONFIGS / "imdb_bigru.toml", quiet=True, **FIXED, data__source="tsv",
                      data__dir=folder, data__max_length=32, data__max_tokens=512,
                      tokenizer__vocab_size=300, model__bigru__embedding_size=16,
                      model__bigru__hidden_size=8, model__bigru__attention_size=8,
                      train__max_steps=3, train__run_dir=folder / "run")


@pytest.fixture(scope="module")
def generator_run(tmp_path_factory, sentences):
    folder = tmp_path_factory.mktemp("language_model")
    write_lines(folder / "train.txt", sentences[:200])
    write_lines(folder / "valid.txt", sentences[200:])
    return attn.train(CONFIGS / "austen_lm.toml", quiet=True, **FIXED, data__source="text",
                      data__dir=folder, data__context_length=32, data__batch_size=4,
                      tokenizer__kind="char", model__transformer__d_model=32,
                      model__transformer__num_heads=2, model__transformer__d_ff=64,
                      model__transformer__num_layers=1, train__max_steps=3,
                      train__run_dir=folder / "run")


def test_translator_translates_and_shows_its_attention(translator_run, sentences):
    translator = attn.Translator(translator_run["run_dir"])
    sources = sentences[:3]
    best = translator.translate(sources, max_length=8)
    assert len(best) == 3 and all(isinstance(text, str) for text in best)
    hypotheses = translator.translate_hypotheses(sources[:1], n_best=2, max_length=8)
    assert len(hypotheses[0]) == 2 and hypotheses[0][0]["score"] >= hypotheses[0][1]["score"]
    assert best[0] == hypotheses[0][0]["text"]
    view = translator.attention(sources[0], "a few words")
    cross = [m for m in view["maps"] if m["kind"] == "cross"]
    assert cross and cross[0]["weights"].shape == (1, len(view["target_tokens"]),
                                                   len(view["source_tokens"]))
    np.testing.assert_allclose(cross[0]["weights"].sum(-1), 1.0, atol=1e-5)
    with pytest.raises(TypeError, match="list of strings"):
        translator.translate("one string")


def test_classifier_classifies_with_attention_pooling(classifier_run, sentences):
    classifier = attn.Classifier(classifier_run["run_dir"])
    results = classifier.classify(sentences[:4])
    assert len(results) == 4 and len(classifier.label_names) == 2
    for result in results:
        assert abs(sum(result["probabilities"]) - 1) < 1e-6
        assert len(result["attention"]) == len(result["tokens"])
    view = classifier.attention(sentences[0])
    assert view["maps"][0]["kind"] == "pooling"
    np.testing.assert_allclose(view["maps"][0]["weights"].reshape(-1), results[0]["attention"],
                               atol=1e-6)
    with pytest.raises(ValueError, match="1"):
        classifier.classify(["   "])


def test_generator_generates_scores_and_shows_its_attention(generator_run, sentences):
    generator = attn.TextGenerator(generator_run["run_dir"])
    first = generator.generate(["Emma was"], max_length=10, seed=7)
    again = generator.generate(["Emma was"], max_length=10, seed=7)
    assert first == again and first[0]["text"].startswith("Emma was")
    assert len(first[0]["tokens"]) <= 10
    score = generator.perplexity(sentences[200:210])
    assert score["perplexity"] > 1 and score["tokens"] > 0
    view = generator.attention("Emma was")
    weights = view["maps"][0]["weights"]
    assert np.allclose(np.triu(weights[0], 1), 0)  # causal: no weight on later tokens


def test_loading_what_is_not_a_run_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match=str(tmp_path.name)):
        attn.Translator(tmp_path)


def test_tokenizers_of_the_models_and_from_their_files(translator_run, generator_run):
    translator = attn.Translator(translator_run["run_dir"])
    source = translator.source_tokenizer
    assert source.kind == "sentencepiece" and source.vocab_size <= 300
    ids = source.encode("his humanity, as I tell you")
    assert ids and min(ids) >= 4 and source.decode(ids) == "his humanity, as I tell you"
    assert source.id_to_piece(3) == "</s>" and source.piece_to_id("</s>") == 3
    generator = attn.TextGenerator(generator_run["run_dir"])
    assert generator.tokenizer.kind == "char"
    assert generator.tokenizer.decode(generator.tokenizer.encode("Emma")) == "Emma"
    tokenizers = list(Path(generator_run["run_dir"]).rglob("*.tokenizer.json"))
    assert tokenizers
    loaded = attn.load_tokenizer(tokenizers[0].parent, tokenizers[0].name.split(".")[0])
    assert loaded.encode("Emma") == generator.tokenizer.encode("Emma")
    with pytest.raises(ValueError, match="absent"):
        attn.load_tokenizer(tokenizers[0].parent, "absent")
