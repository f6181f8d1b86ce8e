"""attn: attention-based neural networks in C++, reached from Python.

The NumPy face (this module): ``attention`` for the five score functions (dot, scaled_dot,
general/bilinear, additive, cosine) with masks, the attention weights and the log-sum-exp, and
``attention_weights_from_lse``; pretrained Hugging Face encoders (``load_pretrained``:
embeddings, hidden states, attention maps) and their ``WordPieceTokenizer``; ``train`` and the
models it makes (``Translator``, ``Classifier``, ``TextGenerator``) with their tokenizers
(``Tokenizer``, ``load_tokenizer``). The PyTorch
face: ``attn.torch`` (custom operators with autograd, and nn.Modules). Arrays cross without
copies; the GIL is released while kernels run.
"""

from ._core import (
    PretrainedEncoder,
    Tokenizer,
    WordPieceTokenizer,
    available_simd_targets,
    get_num_threads,
    load_pretrained,
    load_tokenizer,
    set_num_threads,
    simd_target,
    supported_model_types,
)
from .functional import SCORES, attention, attention_weights_from_lse
from .models import Classifier, TextGenerator, Translator
from .training import train

__version__ = "0.1.0"

__all__ = [
    "Classifier",
    "PretrainedEncoder",
    "SCORES",
    "TextGenerator",
    "Tokenizer",
    "Translator",
    "WordPieceTokenizer",
    "attention",
    "attention_weights_from_lse",
    "available_simd_targets",
    "get_num_threads",
    "set_num_threads",
    "simd_target",
    "load_pretrained",
    "load_tokenizer",
    "supported_model_types",
    "train",
]
