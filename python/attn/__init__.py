"""attn: attention-based neural networks in C++, reached from Python.

The NumPy face (this module): ``attention`` for the five score functions (dot, scaled_dot,
general/bilinear, additive, cosine) with masks, the attention weights and the log-sum-exp, and
``attention_weights_from_lse``. The PyTorch face: ``attn.torch`` (custom operators with
autograd, and nn.Modules). Arrays cross without copies; the GIL is released while kernels run.
"""

from ._core import available_simd_targets, get_num_threads, set_num_threads, simd_target
from .functional import SCORES, attention, attention_weights_from_lse

__version__ = "0.1.0"

__all__ = [
    "SCORES",
    "attention",
    "attention_weights_from_lse",
    "available_simd_targets",
    "get_num_threads",
    "set_num_threads",
    "simd_target",
]
