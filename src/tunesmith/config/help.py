"""Plain-text ``--help`` for a verb: its groups' keys with type, default and documentation.

Reads field docs from the group modules' source with ``ast``; imports neither torch nor
transformers, so ``tunesmith <verb> --help`` stays fast.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

from tunesmith.config.coerce import type_name
from tunesmith.config.schema import ALIASES, GROUPS, Alias, FieldSpec, field_specs
from tunesmith.config.verbs import VERB_GROUPS, check_verb

WIDTH = 100
"""Width the documentation is wrapped to."""


def format_default(value: Any) -> str:
    """A default spelled the way it would be typed on the command line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(map(str, value)) if value else "[]"
    if isinstance(value, Mapping):
        return "{}" if not value else str(dict(value))
    if isinstance(value, str):
        return value if value else '""'
    return repr(value)


def _format_field(spec: FieldSpec) -> list[str]:
    head = f"  {spec.key}: {type_name(spec.type)} = {format_default(spec.default)}"
    if spec.append:
        head += "  (repeatable)"
    lines = [head]
    if spec.doc:
        lines.extend(textwrap.wrap(spec.doc, WIDTH, initial_indent=" " * 6, subsequent_indent=" " * 6))
    return lines


def _format_alias(name: str, alias: Alias) -> str:
    line = f"  {name} -> {alias.target}"
    if alias.values:
        line += " (" + ", ".join(f"{k}: {format_default(v)}" for k, v in alias.values.items()) + ")"
    return line


def format_help(verb: str) -> str:
    """Help text for ``tunesmith <verb>``: usage, then each of the verb's groups and its keys."""
    check_verb(verb)
    specs = field_specs(with_docs=True)
    group_docs = {name: " ".join((cls.__doc__ or "").split()) for name, cls in GROUPS}
    lines = [
        f"usage: tunesmith {verb} [CONFIG.yaml ...] [key=value ...] [--key value ...]",
        "",
        *textwrap.wrap(
            "Values come from config files (YAML or JSON, in order), then key=value / --key value "
            "overrides (in order); later ones win. A bare --flag sets a boolean to true. Lists take "
            "comma-separated values; mappings take a JSON object. Every verb accepts every key, so one "
            "file can serve train, chat and export.",
            WIDTH,
        ),
    ]
    for group in VERB_GROUPS[verb]:
        lines += ["", f"{group}: {group_docs[group]}"]
        for spec in specs.values():
            if spec.group == group:
                lines += _format_field(spec)
    if "train" in VERB_GROUPS[verb]:
        lines += [
            "",
            *textwrap.wrap(
                "Any other field of transformers' TrainingArguments (e.g. adam_beta2=0.95, "
                "max_grad_norm=0.5, deepspeed=ds.json) is accepted too and passed through.",
                WIDTH,
            ),
        ]
    lines += ["", "aliases (LLaMA-Factory / older transformers names):"]
    lines += [_format_alias(name, alias) for name, alias in ALIASES.items()]
    return "\n".join(lines) + "\n"
