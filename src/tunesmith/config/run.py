"""The resolved configuration of one run: groups, pass-through TrainingArguments, provenance."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from tunesmith.config.coerce import freeze, thaw
from tunesmith.config.groups_infer import ExportConfig, GenerateConfig, InferConfig, MiscConfig, ServeConfig
from tunesmith.config.groups_model import DataConfig, ModelConfig, TemplateConfig
from tunesmith.config.groups_train import FinetuneConfig, RLHFConfig, TrainConfig
from tunesmith.config.meta import empty_mapping
from tunesmith.config.schema import GROUP_NAMES

SECRET_PASSTHROUGH_KEYS: frozenset[str] = frozenset({"hub_token"})
"""TrainingArguments keys that hold credentials (redacted like our secret fields)."""


@dataclass(frozen=True)
class RunConfig:
    """One resolved, validated and immutable configuration.

    Built by :func:`tunesmith.config.load_config`; nothing mutates it afterwards (assigning an
    attribute raises ``dataclasses.FrozenInstanceError``; use ``dataclasses.replace`` to derive a
    changed copy).
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    template: TemplateConfig = field(default_factory=TemplateConfig)
    data: DataConfig = field(default_factory=DataConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    rlhf: RLHFConfig = field(default_factory=RLHFConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    infer: InferConfig = field(default_factory=InferConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    misc: MiscConfig = field(default_factory=MiscConfig)
    training_args: Mapping[str, Any] = field(default_factory=empty_mapping)
    """transformers TrainingArguments fields that are not keys of our groups, as given."""
    sources: tuple[str, ...] = ()
    """Where values came from, lowest precedence first (``base``, file paths, ``command line``)."""
    verb: str | None = None
    """The verb the config was resolved for, if any."""

    def __post_init__(self) -> None:
        # Construction-time normalisation only: a plain dict handed in becomes read-only.
        if not isinstance(self.training_args, MappingProxyType):
            object.__setattr__(self, "training_args", freeze(dict(self.training_args)))
        object.__setattr__(self, "sources", tuple(self.sources))

    def _groups(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in GROUP_NAMES)

    def get(self, key: str, default: Any = None) -> Any:
        """Flat lookup: a group field's value, else a pass-through TrainingArguments value, else ``default``."""
        for group in self._groups():
            if key in _field_names(type(group)):
                return getattr(group, key)
        return self.training_args.get(key, default)

    def to_dict(self, *, include_secrets: bool = False) -> dict[str, Any]:
        """Flat ``key → value`` of every field plus the pass-through TrainingArguments, as plain
        dicts and lists, ready to save as YAML and load again with ``load_config``.

        Credentials (``hf_hub_token``, ``ms_hub_token``, ``api_key``, ``hub_token``) are written as
        null unless ``include_secrets`` is true, so saved configs do not leak them.
        """
        flat: dict[str, Any] = {}
        for group in self._groups():
            for f in dataclasses.fields(group):
                value = getattr(group, f.name)
                if f.metadata.get("secret") and not include_secrets:
                    value = None
                flat[f.name] = thaw(value)
        for key, value in self.training_args.items():
            flat[key] = None if key in SECRET_PASSTHROUGH_KEYS and not include_secrets else thaw(value)
        return flat


def _field_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls))
