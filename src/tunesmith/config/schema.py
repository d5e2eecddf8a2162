"""The flat key space: every field of every group, aliases, and transformers' TrainingArguments.

Keys are unique across groups, so a LLaMA-Factory style flat YAML maps onto the groups without
prefixes. Field documentation is the string literal after each field, read here with ``ast``.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from tunesmith.config.errors import ConfigError
from tunesmith.config.groups_infer import ExportConfig, GenerateConfig, InferConfig, MiscConfig, ServeConfig
from tunesmith.config.groups_model import DataConfig, ModelConfig, TemplateConfig
from tunesmith.config.groups_train import FinetuneConfig, RLHFConfig, TrainConfig

GROUPS: tuple[tuple[str, type], ...] = (
    ("model", ModelConfig),
    ("template", TemplateConfig),
    ("data", DataConfig),
    ("finetune", FinetuneConfig),
    ("rlhf", RLHFConfig),
    ("train", TrainConfig),
    ("generate", GenerateConfig),
    ("infer", InferConfig),
    ("serve", ServeConfig),
    ("export", ExportConfig),
    ("misc", MiscConfig),
)
"""Group name (the attribute of ``RunConfig``) and its dataclass, in display order."""

GROUP_NAMES: tuple[str, ...] = tuple(name for name, _ in GROUPS)


@dataclass(frozen=True)
class FieldSpec:
    """One configurable key."""

    key: str
    group: str
    type: Any
    default: Any
    doc: str = ""
    secret: bool = False
    append: bool = False


@dataclass(frozen=True)
class Alias:
    """A second name for a key (LLaMA-Factory or older transformers spelling)."""

    target: str
    values: Mapping[str, Any] | None = None
    """When given, the alias accepts only these values and translates them for the target."""


ALIASES: Mapping[str, Alias] = MappingProxyType(
    {
        "flash_attn": Alias(
            "attn_implementation",
            MappingProxyType(
                {
                    "auto": None,
                    "disabled": "eager",
                    "sdpa": "sdpa",
                    "fa2": "flash_attention_2",
                    "fa3": "flash_attention_3",
                }
            ),
        ),
        "evaluation_strategy": Alias("eval_strategy"),
        "enable_liger_kernel": Alias("use_liger_kernel"),
    }
)


def _default_of(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    raise TypeError(f"config field {f.name} has no default")  # a programming error in a group


def field_docs(cls: type) -> dict[str, str]:
    """Field name → the string literal that follows the field in the class body (whitespace folded)."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):  # no source shipped (e.g. frozen application): help without docs
        return {}
    docs: dict[str, str] = {}
    (node,) = ast.parse(source).body
    assert isinstance(node, ast.ClassDef)
    body = node.body
    for stmt, nxt in zip(body, body[1:], strict=False):
        if (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
            and isinstance(nxt.value.value, str)
        ):
            docs[stmt.target.id] = " ".join(nxt.value.value.split())
    return docs


def field_specs(*, with_docs: bool = False) -> Mapping[str, FieldSpec]:
    """Every key of every group, in group order. Docs are read from the source only when asked."""
    specs: dict[str, FieldSpec] = {}
    for group, cls in GROUPS:
        hints = typing.get_type_hints(cls)
        docs = field_docs(cls) if with_docs else {}
        for f in dataclasses.fields(cls):
            if f.name in specs:  # keys must be unique across groups for flat YAML files
                raise TypeError(f"config key {f.name} is defined in both {specs[f.name].group} and {group}")
            specs[f.name] = FieldSpec(
                key=f.name,
                group=group,
                type=hints[f.name],
                default=_default_of(f),
                doc=docs.get(f.name, ""),
                secret=bool(f.metadata.get("secret")),
                append=bool(f.metadata.get("append")),
            )
    return MappingProxyType(specs)


class TrainingArgsCatalog:
    """Fields of transformers' (Seq2Seq)TrainingArguments that are not keys of our groups.

    transformers (and with it torch) is imported on first use only, so resolving a config that
    uses no pass-through key never imports them. One catalog lives for one resolution.
    """

    def __init__(self, own_keys: typing.Collection[str]) -> None:
        self._own_keys = frozenset(own_keys)
        self._types: Mapping[str, Any] | None = None

    def types(self) -> Mapping[str, Any]:
        """Pass-through key → its annotated type."""
        if self._types is None:
            self._types = MappingProxyType(self._load())
        return self._types

    def _load(self) -> dict[str, Any]:
        try:
            from transformers import Seq2SeqTrainingArguments
        except ImportError as exc:  # pragma: no cover - transformers is a hard dependency
            raise ConfigError(f"checking TrainingArguments keys needs transformers: {exc}") from exc
        try:
            hints = typing.get_type_hints(Seq2SeqTrainingArguments)
        except Exception:  # unresolvable forward references: fall back to the raw annotations
            hints = {}
        found: dict[str, Any] = {}
        for f in dataclasses.fields(Seq2SeqTrainingArguments):
            if not f.init or f.name.startswith("_") or f.name in self._own_keys:
                continue
            tp = hints.get(f.name, f.type)
            found[f.name] = Any if isinstance(tp, str) else tp
        return found


def all_keys(*, include_training_args: bool = False) -> tuple[str, ...]:
    """Every key of our groups in display order, then the aliases; with ``include_training_args``
    also the pass-through TrainingArguments keys (this imports transformers)."""
    own = tuple(field_specs())
    keys = own + tuple(ALIASES)
    if include_training_args:
        keys += tuple(sorted(TrainingArgsCatalog(own).types()))
    return keys
