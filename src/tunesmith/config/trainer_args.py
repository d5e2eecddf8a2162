"""Keyword arguments for transformers' TrainingArguments from a resolved config.

Imported by the training layer only: it imports transformers.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tunesmith.config.coerce import thaw
from tunesmith.config.run import RunConfig


def training_arguments_kwargs(cfg: RunConfig) -> dict[str, Any]:
    """Our train-group fields that ``Seq2SeqTrainingArguments`` knows, then the pass-through keys.

    Values are plain, freshly built dicts and lists (transformers tests ``isinstance(x, dict)``).
    ``warmup_ratio`` becomes a fractional ``warmup_steps`` where transformers has dropped it (v5);
    keys transformers does not know (``plot_loss``, ``overwrite_output_dir`` on v5, ...) stay ours.
    """
    from transformers import Seq2SeqTrainingArguments

    known = {f.name for f in dataclasses.fields(Seq2SeqTrainingArguments) if f.init}
    kwargs: dict[str, Any] = {
        f.name: thaw(getattr(cfg.train, f.name)) for f in dataclasses.fields(cfg.train) if f.name in known
    }
    if "warmup_ratio" not in known and cfg.train.warmup_steps == 0 and cfg.train.warmup_ratio > 0:
        kwargs["warmup_steps"] = cfg.train.warmup_ratio  # v5: a float in [0, 1) is a ratio
    # v5 renamed gradient_checkpointing and deprecated the old name
    if "activation_checkpointing" in known and kwargs.pop("gradient_checkpointing", False):
        kwargs["activation_checkpointing"] = True
    if "generation_num_beams" in known and "generation_num_beams" not in cfg.training_args:
        kwargs["generation_num_beams"] = cfg.generate.num_beams
    kwargs.update({key: thaw(value) for key, value in cfg.training_args.items()})
    return kwargs
