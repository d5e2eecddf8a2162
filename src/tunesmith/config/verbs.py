"""Which config groups each verb uses (and shows in its ``--help``)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from tunesmith.config.errors import ConfigError, suggest
from tunesmith.config.schema import GROUP_NAMES

VERB_GROUPS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "train": ("model", "template", "data", "finetune", "rlhf", "train", "generate", "misc"),
        "chat": ("model", "template", "generate", "infer", "misc"),
        "predict": ("model", "template", "data", "train", "generate", "infer", "misc"),
        "serve": ("model", "template", "generate", "infer", "serve", "misc"),
        "webchat": ("model", "template", "generate", "infer", "serve", "misc"),
        "export": ("model", "template", "export", "misc"),
        "template": ("model", "template", "misc"),
        "data": ("model", "template", "data", "finetune", "misc"),
        "adapt": ("model", "template", "misc"),
        "webui": GROUP_NAMES,
    }
)
"""Verb → the groups it shows in help, in display order. Every verb accepts every key, so one
YAML file can serve train, chat and export alike."""


def check_verb(verb: str) -> None:
    """Raise :class:`ConfigError` unless ``verb`` is one of :data:`VERB_GROUPS`."""
    if verb not in VERB_GROUPS:
        raise ConfigError(
            f"unknown verb {verb!r}; verbs are {', '.join(VERB_GROUPS)}{suggest(verb, VERB_GROUPS)}"
        )
