"""attn.train: train any model attn trains, from a configuration file, without the shell."""

import os

from . import _core

__all__ = ["train"]


def train(config=None, *, resume=None, quiet=False, **overrides):
    """Trains the task that a TOML configuration describes (configs/*.toml; docs/TRAINING.md),
    as `attn train --config CONFIG key=value ...` does, and returns a dict of what the run did:
    kind, reason (why it stopped), steps, epoch, tokens, unit, skipped_steps,
    elapsed_seconds, run_dir, best_score, best_step, last_validation.

    Overrides are configuration keys: attn.train(config, **{"train.max_steps": 20}), or with
    "__" for the dots, attn.train(config, train__max_steps=20, train__run_dir="runs/x").
    Lists become comma-separated values. resume=RUN_DIR continues a stopped run exactly where
    it stopped, with its own configuration and any overrides. The log goes to the process's
    standard output and the progress display to its standard error, unless quiet. Ctrl-C stops the run at the next step, with a checkpoint, and
    the dict says "interrupted". A bad file, key or value is a ValueError that names it.
    """
    if (config is None) == (resume is None):
        raise ValueError("give attn.train a configuration file or resume=RUN_DIR (one of them)")
    assignments = [f"{key.replace('__', '.')}={_value_text(value)}" for key, value in overrides.items()]
    if quiet and not any(a.startswith("train.progress=") for a in assignments):
        assignments.append("train.progress=none")
    return _core.train(config=os.fspath(config) if config is not None else "",
                       overrides=assignments, resume=os.fspath(resume) if resume else "",
                       quiet=bool(quiet))


def _value_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_value_text(v) for v in value)
    return str(value)
