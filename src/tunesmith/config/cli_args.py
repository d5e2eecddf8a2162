"""Splitting a command line into config files and ``key=value`` / ``--key value`` overrides."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, Union

from tunesmith.config.coerce import FALSE_WORDS, TRUE_WORDS
from tunesmith.config.errors import ConfigError
from tunesmith.config.schema import field_specs

CONFIG_SUFFIXES: tuple[str, ...] = (".yaml", ".yml", ".json")
"""Positional arguments with these suffixes are config files."""

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_FLAG_VALUES = TRUE_WORDS | FALSE_WORDS | {"null", "~"}


def normalize_key(key: str) -> str:
    """``--lora-rank`` and ``lora_rank`` name the same key."""
    return key.replace("-", "_")


def _is_bool_type(tp: Any) -> bool:
    if tp is bool:
        return True
    if typing.get_origin(tp) in (Union, types.UnionType):
        members = [m for m in typing.get_args(tp) if m is not type(None)]
        return members == [bool]
    return False


def bool_keys() -> frozenset[str]:
    """Our keys that may be given as a bare ``--flag``."""
    return frozenset(spec.key for spec in field_specs().values() if _is_bool_type(spec.type))


def _is_config_file(token: str) -> bool:
    return token.lower().endswith(CONFIG_SUFFIXES)


def _split_assignment(token: str) -> tuple[str, str] | None:
    key, sep, value = token.partition("=")
    if sep and _KEY.fullmatch(key):
        return normalize_key(key), value
    return None


def _looks_like_value(token: str) -> bool:
    """Whether the token after ``--key`` (a key not known to be boolean or not) is its value."""
    if token.startswith("--"):
        return False
    if _split_assignment(token) is not None:
        return False
    return not (_is_config_file(token) and Path(token).is_file())


def parse_cli_args(
    args: Sequence[str],
    *,
    flag_keys: Collection[str] | None = None,
    known_keys: Collection[str] | None = None,
) -> tuple[list[str], list[tuple[str, str]]]:
    """Split ``args`` into config file paths and ordered ``(key, raw string value)`` overrides.

    Accepted forms: ``run.yaml`` (also ``.yml``, ``.json``), ``key=value``, ``--key value``,
    ``--key=value`` and, for booleans, a bare ``--flag`` meaning true. Dashes in keys read as
    underscores. ``flag_keys`` are keys known to be boolean (a bare flag unless followed by a
    boolean word); ``known_keys`` are all keys known to need a value. Both default to our groups'
    keys; any other ``--key`` takes the next token as its value unless that looks like another
    argument, in which case it is a bare flag.
    """
    if flag_keys is None or known_keys is None:
        specs = field_specs()
        flag_keys = bool_keys() if flag_keys is None else flag_keys
        known_keys = specs.keys() if known_keys is None else known_keys
    files: list[str] = []
    overrides: list[tuple[str, str]] = []
    i = 0
    while i < len(args):
        token = args[i]
        i += 1
        if token.startswith("--") and len(token) > 2:
            body = token[2:]
            assignment = _split_assignment(body)
            if assignment is not None:
                overrides.append(assignment)
                continue
            if not _KEY.fullmatch(body):
                raise ConfigError(f"malformed option {token!r} on the command line")
            key = normalize_key(body)
            nxt = args[i] if i < len(args) else None
            if key in flag_keys:
                if nxt is not None and nxt.strip().lower() in _FLAG_VALUES:
                    overrides.append((key, nxt))
                    i += 1
                else:
                    overrides.append((key, "true"))
            elif key in known_keys:
                if nxt is None or nxt.startswith("--"):
                    raise ConfigError(f"option {token} on the command line expects a value")
                overrides.append((key, nxt))
                i += 1
            elif nxt is not None and _looks_like_value(nxt):
                overrides.append((key, nxt))
                i += 1
            else:
                overrides.append((key, "true"))
            continue
        if _is_config_file(token) and Path(token).is_file():
            files.append(token)
            continue
        assignment = _split_assignment(token)
        if assignment is not None:
            overrides.append(assignment)
            continue
        if _is_config_file(token):
            files.append(token)  # reported as missing by the loader, with its path
            continue
        raise ConfigError(
            f"unexpected argument {token!r} on the command line: expected a config file "
            f"({', '.join(CONFIG_SUFFIXES)}), key=value, or --key value"
        )
    return files, overrides
