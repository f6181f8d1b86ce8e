"""Models attn trained, loaded from a run directory or a checkpoint file: translate, classify,
generate, and look at their attention (docs/USAGE.md describes the same models on the CLI)."""

import os

from . import _core

__all__ = ["Classifier", "TextGenerator", "Translator"]


def _texts(texts, name):
    if isinstance(texts, str):
        raise TypeError(f"{name!r} must be a list of strings, not one string")
    return list(texts)


class Translator:
    """A translation model (Transformer or RNN seq2seq) with its tokenizers."""

    def __init__(self, path):
        """path: a checkpoint file, or a run directory (its best checkpoint, else its last)."""
        self._model = _core.Translator.load(os.fspath(path))

    @property
    def source_tokenizer(self):
        return self._model.source_tokenizer

    @property
    def target_tokenizer(self):
        return self._model.target_tokenizer

    def translate(self, sentences, *, method="beam", beam_size=4, length_penalty=0.6,
                  temperature=1.0, top_k=0, top_p=1.0, seed=0, max_length=256, batch_size=32):
        """The best translation of each sentence. method: beam, greedy or sample."""
        hypotheses = self.translate_hypotheses(
            sentences, n_best=1, method=method, beam_size=beam_size,
            length_penalty=length_penalty, temperature=temperature, top_k=top_k, top_p=top_p,
            seed=seed, max_length=max_length, batch_size=batch_size)
        return [n_best[0]["text"] for n_best in hypotheses]

    def translate_hypotheses(self, sentences, *, n_best=1, method="beam", beam_size=4,
                             length_penalty=0.6, temperature=1.0, top_k=0, top_p=1.0, seed=0,
                             max_length=256, batch_size=32):
        """n-best lists of {text, score, log_prob, num_tokens}, best first."""
        return self._model.translate(_texts(sentences, "sentences"), method, beam_size,
                                     length_penalty, n_best, temperature, top_k, top_p, seed,
                                     max_length, batch_size)

    def attention(self, source, target):
        """Forced decoding of `target` after `source`: {source_tokens, target_tokens, maps},
        each map {name, kind, layer, weights [H, Nq, Nk], query_tokens, key_tokens}."""
        return self._model.attention(source, target)


class Classifier:
    """A text classifier (BiGRU with attention pooling, Transformer, or a pretrained encoder)."""

    def __init__(self, path):
        self._model = _core.Classifier.load(os.fspath(path))

    @property
    def label_names(self):
        return self._model.label_names

    @property
    def tokenizer(self):
        return self._model.tokenizer

    def classify(self, texts, *, batch_size=64):
        """{label, label_name, probabilities, tokens, attention} per text; attention holds the
        BiGRU's pooling weight of each token (empty for other models)."""
        return self._model.classify(_texts(texts, "texts"), batch_size)

    def attention(self, text):
        """The classification of one text with its attention maps."""
        return self._model.attention(text)


class TextGenerator:
    """A Transformer language model with its tokenizer."""

    def __init__(self, path):
        self._model = _core.TextGenerator.load(os.fspath(path))

    @property
    def max_length(self):
        return self._model.max_length

    @property
    def tokenizer(self):
        return self._model.tokenizer

    def generate(self, prompts, *, method="sample", max_length=100, temperature=1.0, top_k=0,
                 top_p=1.0, seed=0, beam_size=4, length_penalty=0.6, batch_size=16):
        """Continues each prompt: {prompt, continuation, text, tokens, log_prob, finished}.
        method: sample (the same text for the same seed), greedy or beam."""
        return self._model.generate(_texts(prompts, "prompts"), method, max_length, temperature,
                                    top_k, top_p, seed, beam_size, length_penalty, batch_size)

    def perplexity(self, paragraphs, *, batch_size=16):
        """{perplexity, mean_nll, tokens, bits_per_token} over the paragraphs."""
        return self._model.perplexity(_texts(paragraphs, "paragraphs"), batch_size)

    def attention(self, text):
        """The causal self-attention of every layer on `text`: {tokens, maps}."""
        return self._model.attention(text)
