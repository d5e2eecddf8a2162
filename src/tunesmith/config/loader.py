"""Resolution: config files and overrides, in order, into one validated frozen ``RunConfig``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from tunesmith.config.cli_args import normalize_key, parse_cli_args
from tunesmith.config.coerce import CoercionError, coerce
from tunesmith.config.errors import COMMAND_LINE, ConfigError, suggest
from tunesmith.config.run import RunConfig
from tunesmith.config.schema import ALIASES, GROUPS, FieldSpec, TrainingArgsCatalog, field_specs
from tunesmith.config.validate import validate
from tunesmith.config.verbs import check_verb

BASE_SOURCE = "base"
"""Source name of the ``base`` mapping handed to :func:`load_config` by the caller."""

Source = tuple[str, Iterable[tuple[str, Any]]]
"""A source name (file path, ``command line`` or ``base``) and its ordered ``(key, value)`` pairs."""


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a flat ``key: value`` mapping from a YAML (.yaml, .yml) or JSON (.json) file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    if p.suffix.lower() == ".json":
        try:
            data = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: invalid JSON: {exc}") from None
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{path}: a config file must hold a mapping of key: value, not a {type(data).__name__}"
        )
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise ConfigError(f"{path}: keys must be strings, got {bad[0]!r}")
    return dict(data)


class _Resolver:
    """Accumulates values of one resolution; lives only inside :func:`resolve`."""

    def __init__(self) -> None:
        self.specs: Mapping[str, FieldSpec] = field_specs()
        self.catalog = TrainingArgsCatalog(self.specs.keys())
        self.values: dict[str, Any] = {}
        self.passthrough: dict[str, Any] = {}
        self.origins: dict[str, str] = {}

    def _coerce(self, key: str, value: Any, tp: Any, source: str, *, lenient: bool = False) -> Any:
        try:
            return coerce(value, tp, lenient=lenient)
        except CoercionError as exc:
            raise ConfigError(f"{key}: {exc} (from {source})") from None

    def _unknown(self, key: str, source: str) -> ConfigError:
        valid = list(self.specs) + list(ALIASES) + list(self.catalog.types())
        hint = suggest(key, valid) or "; run `tunesmith <verb> --help` to list the valid keys"
        return ConfigError(f"unknown key {key!r} (from {source}){hint}")

    def set(self, raw_key: str, value: Any, source: str) -> None:
        key = normalize_key(raw_key)
        alias = ALIASES.get(key)
        if alias is not None:
            if alias.values is not None:
                choice = self._coerce(key, value, Literal[tuple(alias.values)], source)
                value = alias.values[choice]
            key = alias.target
        spec = self.specs.get(key)
        if spec is not None:
            new = self._coerce(key, value, spec.type, source)
            if spec.append:  # accumulate over sources, keeping the first occurrence of each item
                new = tuple(dict.fromkeys(self.values.get(key, ()) + new))
            self.values[key] = new
        elif key in self.catalog.types():
            self.passthrough[key] = self._coerce(key, value, self.catalog.types()[key], source, lenient=True)
        else:
            raise self._unknown(raw_key, source)
        self.origins[key] = source

    def build(self, sources: tuple[str, ...], verb: str | None) -> RunConfig:
        groups: dict[str, Any] = {}
        for name, cls in GROUPS:
            own = {k: v for k, v in self.values.items() if self.specs[k].group == name}
            groups[name] = cls(**own)
        return RunConfig(
            **groups, training_args=MappingProxyType(dict(self.passthrough)), sources=sources, verb=verb
        )


def resolve(sources: Sequence[Source], *, verb: str | None = None) -> RunConfig:
    """Merge ``sources`` (lowest precedence first; within one, later pairs win), coerce, validate."""
    if verb is not None:
        check_verb(verb)
    resolver = _Resolver()
    for source, pairs in sources:
        for key, value in pairs:
            resolver.set(key, value, source)
    cfg = resolver.build(tuple(name for name, _ in sources), verb)
    validate(cfg, verb=verb, origins=resolver.origins)
    return cfg


def load_config(
    args: Sequence[str], *, verb: str | None = None, base: Mapping[str, Any] | None = None
) -> RunConfig:
    """Resolve a run's configuration from a command line.

    ``args`` holds config files (``*.yaml``, ``*.yml``, ``*.json``) and overrides (``key=value``,
    ``--key value``, ``--key=value``, bare ``--flag`` for true). Precedence, lowest first: the
    groups' defaults, ``base`` (defaults chosen by the caller, e.g. a verb), the files in order,
    then the overrides in order. Keys of transformers' TrainingArguments that are not ours are
    kept in ``training_args``. Raises :class:`ConfigError` naming the key and its source.
    """
    files, overrides = parse_cli_args(args)
    sources: list[Source] = []
    if base:
        sources.append((BASE_SOURCE, list(base.items())))
    sources.extend((path, list(read_config_file(path).items())) for path in files)
    if overrides:
        sources.append((COMMAND_LINE, overrides))
    return resolve(sources, verb=verb)
