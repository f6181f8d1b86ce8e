"""Argument handling shared by the NumPy and PyTorch faces: score names and masks."""

SCORES = ("dot", "scaled_dot", "general", "additive", "cosine")

# Other names users know the scores by (the seeds' and the papers').
_SCORE_ALIASES = {"bilinear": "general", "luong": "general", "bahdanau": "additive"}


def score_name(score):
    """The canonical name of a score function; ValueError naming the accepted ones."""
    name = _SCORE_ALIASES.get(score, score)
    if name not in SCORES:
        raise ValueError(
            f"unknown score {score!r}; expected one of {', '.join(SCORES)} "
            f"(or {', '.join(_SCORE_ALIASES)})"
        )
    return name


def is_bool(array):
    return str(array.dtype) in ("bool", "torch.bool")


def split_mask(mask):
    """A mask as (allowed, bias): bool means True = may attend, as in
    torch.nn.functional.scaled_dot_product_attention; a float mask is added to the scores."""
    if mask is None:
        return None, None
    if is_bool(mask):
        return mask, None
    if "float" in str(mask.dtype):
        return None, mask
    raise TypeError(f"'mask' has dtype {mask.dtype}; expected bool (True = may attend) or a float")


def require_bool(array, name):
    if array is not None and not is_bool(array):
        raise TypeError(f"{name!r} has dtype {array.dtype}; expected bool (True = padding)")


def row_range(rows, queries):
    """(begin, end) of the query rows: all of them, a range with step 1, or (begin, end)."""
    if rows is None:
        return 0, queries
    if isinstance(rows, range):
        if rows.step != 1:
            raise ValueError(f"'rows' must be a range with step 1, got {rows}")
        return rows.start, rows.stop
    begin, end = rows
    return int(begin), int(end)
