"""Turning values from YAML/JSON files and command-line strings into a field's type.

``coerce(value, tp)`` returns the value in its canonical, immutable form (lists become tuples,
mappings become read-only mappings) or raises :class:`CoercionError` saying what is allowed; the
loader adds the key and the source to that message.
"""

from __future__ import annotations

import enum
import json
import types
import typing
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Literal, Union

from tunesmith.config.errors import suggest

TRUE_WORDS = frozenset({"true", "1", "yes", "y", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "n", "off"})
NULL_WORDS = frozenset({"", "null", "~", "None", "Null", "NULL"})
"""Strings read as None for optional fields. Lower-case ``none`` is not among them because
transformers and LLaMA-Factory use it as a real value (``report_to: none``); it still means None
for an optional field that cannot hold a string."""


class CoercionError(ValueError):
    """A value does not fit a type; the message says what is allowed."""


def freeze(value: Any) -> Any:
    """Deep-convert lists to tuples and dicts to read-only mappings."""
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Inverse of :func:`freeze`: plain dicts and lists, e.g. for writing YAML."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


def _union_members(tp: Any) -> tuple[Any, ...] | None:
    if typing.get_origin(tp) in (Union, types.UnionType):
        return typing.get_args(tp)
    return None


def describe(tp: Any) -> str:
    """Human description of what a type accepts, for help and error messages."""
    members = _union_members(tp)
    if members is not None:
        parts = [describe(m) for m in members if m is not type(None)]
        if type(None) in members:
            parts.append("null")
        return " or ".join(parts)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in args)
    if origin in (tuple, list, Sequence) or tp in (tuple, list):
        inner = describe(args[0]) if args else "values"
        return f"a list of {inner} (comma-separated)"
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        return "a mapping (a JSON object on the command line)"
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    if tp in names:
        return names[tp]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "one of " + ", ".join(str(m.value) for m in tp)
    return getattr(tp, "__name__", str(tp))


def type_name(tp: Any) -> str:
    """Short type spelling for help (``int``, ``str | None``, ``list[str]``, ``lora|freeze|full``)."""
    members = _union_members(tp)
    if members is not None:
        return " | ".join(type_name(m) for m in members)
    if tp is type(None):
        return "None"
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        return "|".join(str(a) for a in args)
    if origin in (tuple, list, Sequence):
        return f"list[{type_name(args[0]) if args else 'Any'}]"
    if origin in (dict, Mapping):
        return "dict"
    if tp is Any:
        return "Any"
    return getattr(tp, "__name__", str(tp))


def _fail(value: Any, tp: Any) -> CoercionError:
    return CoercionError(f"{value!r} is not {describe(tp)}")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise _fail(value, bool)


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise _fail(value, int)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            raise _fail(value, int) from None
        if number.is_integer():
            return int(number)
    raise _fail(value, int)


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise _fail(value, float)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise _fail(value, float)


def _to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # YAML reads `model_revision: 1.0` or a numeric token as a number
    raise _fail(value, str)


def _to_literal(value: Any, tp: Any) -> Any:
    choices = typing.get_args(tp)
    if value in choices and not (isinstance(value, bool) and bool not in map(type, choices)):
        return value
    if isinstance(value, bool):  # YAML 1.1 reads a bare `no`/`yes` as a boolean
        for word in ("no", "false", "off") if not value else ("yes", "true", "on"):
            if word in choices:
                return word
    if isinstance(value, str):
        text = value.strip()
        by_text = {str(c): c for c in choices}
        if text in by_text:
            return by_text[text]
        folded = [c for c in choices if str(c).lower() == text.lower()]
        if len(folded) == 1:
            return folded[0]
        raise CoercionError(
            f"{value!r} is not one of {', '.join(map(str, choices))}" + suggest(text, by_text)
        )
    raise CoercionError(f"{value!r} is not one of {', '.join(map(str, choices))}")


def _parse_structured(text: str) -> Any:
    """Parse a JSON (or YAML flow-style) string such as ``{"a": 1}`` or ``[1, 2]``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        import yaml  # light, and only needed for the rarer YAML flow syntax

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise CoercionError(f"{text!r} is not valid JSON: {exc}") from None


def _to_sequence(value: Any, tp: Any) -> tuple[Any, ...]:
    args = typing.get_args(tp)
    inner = args[0] if args else Any
    if value is None or (isinstance(value, str) and value.strip() in NULL_WORDS):
        return ()
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            value = _parse_structured(text)
        else:
            value = [part.strip() for part in text.split(",") if part.strip()]
    elif not isinstance(value, (list, tuple)):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise _fail(value, tp)
    try:
        return tuple(coerce(item, inner) for item in value)
    except CoercionError as exc:
        raise CoercionError(f"{list(value)!r} is not {describe(tp)}: {exc}") from None


def _to_mapping(value: Any, tp: Any) -> Mapping[str, Any]:
    if isinstance(value, str):
        text = value.strip()
        if not text.startswith("{"):  # so that `dict | str` keeps a path such as ds_z3.json as text
            raise _fail(value, tp)
        value = _parse_structured(text)
    if not isinstance(value, Mapping):
        raise _fail(value, tp)
    return freeze(value)


def _to_union(value: Any, members: tuple[Any, ...], tp: Any) -> Any:
    optional = type(None) in members
    rest = [m for m in members if m is not type(None)]
    if value is None:
        if optional:
            return None
        raise _fail(value, tp)
    if isinstance(value, str) and optional:
        if value.strip() in NULL_WORDS:
            return None
        holds_text = any(m is str or "none" in map(str, typing.get_args(m)) for m in rest)
        if value.strip().lower() == "none" and not holds_text:
            return None
    # str accepts anything textual, so it is tried late: `dict | str` parses a JSON object first.
    ordered = sorted(rest, key=lambda m: (m is Any, m is str))
    errors: list[str] = []
    for member in ordered:
        try:
            return coerce(value, member)
        except CoercionError as exc:
            errors.append(str(exc))
    if len(rest) == 1:
        raise CoercionError(errors[0] + (" or null" if optional else ""))
    raise _fail(value, tp)


def coerce(value: Any, tp: Any, *, lenient: bool = False) -> Any:
    """Return ``value`` converted to type ``tp`` in canonical immutable form.

    With ``lenient``, types this module does not know (e.g. accelerate's config classes in
    TrainingArguments) accept the value unchanged and leave checking to their owner.
    """
    if tp is Any or tp is object:
        return freeze(value)
    members = _union_members(tp)
    if members is not None:
        if lenient:
            members = tuple(m if _known(m) else Any for m in members)
        return _to_union(value, members, tp)
    origin = typing.get_origin(tp)
    if origin is Literal:
        return _to_literal(value, tp)
    if origin in (tuple, list, Sequence) or tp in (tuple, list):
        return _to_sequence(value, tp)
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        return _to_mapping(value, tp)
    if tp is bool:
        return _to_bool(value)
    if tp is int:
        return _to_int(value)
    if tp is float:
        return _to_float(value)
    if tp is str:
        return _to_str(value)
    if tp is type(None):
        if value is None or (isinstance(value, str) and value.strip() in NULL_WORDS):
            return None
        raise _fail(value, tp)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        # The plain value is kept so that the resolved config stays YAML-serialisable.
        try:
            return tp(value).value
        except ValueError:
            raise _fail(value, tp) from None
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    if lenient:
        return freeze(value)
    raise _fail(value, tp)


def _known(tp: Any) -> bool:
    """Whether :func:`coerce` understands ``tp`` without ``lenient``."""
    if tp in (bool, int, float, str, type(None), Any, object, tuple, list, dict, Mapping):
        return True
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return True
    origin = typing.get_origin(tp)
    if origin in (Literal, tuple, list, Sequence, dict, Mapping):
        return True
    members = _union_members(tp)
    return members is not None and all(_known(m) for m in members)
