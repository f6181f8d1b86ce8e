"""attn.train: a tiny character language model on Jane Austen's text (the fixture sentences
the pretrained tests use), trained, resumed, and refused with a clear error."""

import json
from pathlib import Path

import pytest

import attn

REPOSITORY = Path(__file__).resolve().parents[2]
CONFIG = REPOSITORY / "configs" / "austen_lm.toml"
SMALL = {"data.source": "text", "data.context_length": 32, "data.batch_size": 4,
         "tokenizer.kind": "char", "model.transformer.d_model": 32,
         "model.transformer.num_heads": 2, "model.transformer.d_ff": 64,
         "model.transformer.num_layers": 1, "train.warmup_steps": 2, "train.log_every": 1,
         "train.validate_every": 0, "train.threads": 1}


@pytest.fixture
def corpus(tmp_path):
    lines = (REPOSITORY / "tests" / "fixtures" / "pretrained" / "minilm_sentences.txt").read_text()
    lines = lines.split("\n")
    (tmp_path / "train.txt").write_text("\n".join(lines[:200]) + "\n")
    (tmp_path / "valid.txt").write_text("\n".join(lines[200:220]) + "\n")
    return tmp_path


def test_trains_and_resumes_a_run(corpus):
    run = corpus / "run"
    result = attn.train(CONFIG, quiet=True, **SMALL, data__dir=corpus, train__run_dir=run,
                        train__max_steps=4, train__max_minutes=0)
    assert result["kind"] == "language_model" and result["reason"] == "max_steps"
    assert result["steps"] == 4 and result["tokens"] > 0
    assert Path(result["run_dir"]) == run and (run / "config.toml").is_file()
    assert result["last_validation"] is not None and "perplexity" in result["last_validation"]
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert sum(1 for r in records if r.get("step")) >= 4
    resumed = attn.train(resume=run, quiet=True, train__max_steps=6)
    assert resumed["steps"] == 6 and resumed["reason"] == "max_steps"


def test_bad_configurations_are_value_errors_that_name_them(corpus):
    with pytest.raises(ValueError, match="train.learnig_rate"):
        attn.train(CONFIG, quiet=True, **{"train.learnig_rate": 0.1})
    with pytest.raises(ValueError, match="does not exist"):
        attn.train(corpus / "absent.toml", quiet=True)
    with pytest.raises(ValueError, match="one of them"):
        attn.train()
