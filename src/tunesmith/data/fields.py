"""Field-level parsing shared by the converters: text, tools, function calls and media.

Every function raises :class:`RecordError` with a :class:`Reason` when a value is malformed, so the
caller can report the record instead of crashing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tunesmith.data.report import Reason, RecordError
from tunesmith.templates.messages import MEDIA_TYPES, Part, ToolCall

PLACEHOLDERS: dict[str, str] = {"image": "<image>", "video": "<video>", "audio": "<audio>"}
"""LLaMA-Factory's media placeholders in message text (kept in the text; the media become parts)."""

_URL_PREFIXES = ("http://", "https://", "data:", "s3://", "gs://", "file://")

MISSING = object()
"""Sentinel for a column absent from a record."""


def get_column(record: Mapping[str, Any], column: str | None, *, required: bool) -> Any:
    """The value of ``column``: None when the dataset has no such column; :data:`MISSING` (or an error
    when ``required``) when the record lacks it."""
    if column is None:
        return None
    if column not in record:
        if required:
            keys = ", ".join(repr(k) for k in list(record)[:10])
            raise RecordError(Reason.MISSING_COLUMN, f"column {column!r} is missing (record has {keys})")
        return MISSING
    return record[column]


def require_text(value: Any, where: str, *, allow_empty: bool = False) -> str:
    """A string turn content; empty or whitespace-only is an empty turn unless ``allow_empty``."""
    if not isinstance(value, str):
        raise RecordError(
            Reason.NON_STRING_CONTENT, f"{where}: expected a string, got {type(value).__name__}"
        )
    if not allow_empty and not value.strip():
        raise RecordError(Reason.EMPTY_TURN, f"{where} is empty")
    return value


def optional_text(value: Any, where: str) -> str:
    """A string or nothing (None, missing) → the string or ``""``."""
    if value is None or value is MISSING:
        return ""
    if not isinstance(value, str):
        raise RecordError(
            Reason.NON_STRING_CONTENT, f"{where}: expected a string, got {type(value).__name__}"
        )
    return value


def parse_tools(value: Any, column: str) -> tuple[Mapping[str, Any], ...] | None:
    """The ``tools`` column (a JSON string of function schemas, or already a list) → OpenAI tool dicts."""
    if value is None or value is MISSING:
        return None
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise RecordError(
                Reason.INVALID_TOOLS, f"column {column!r} is not valid JSON ({exc.msg})"
            ) from None
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list):
        raise RecordError(Reason.INVALID_TOOLS, f"column {column!r}: expected a list of function schemas")
    tools: list[Mapping[str, Any]] = []
    for i, tool in enumerate(value):
        if isinstance(tool, Mapping) and isinstance(tool.get("function"), Mapping):
            if not isinstance(tool["function"].get("name"), str):
                raise RecordError(Reason.INVALID_TOOLS, f"{column}[{i}].function.name: expected a string")
            tools.append(dict(tool))
        elif isinstance(tool, Mapping) and isinstance(tool.get("name"), str):
            tools.append({"type": "function", "function": dict(tool)})
        else:
            raise RecordError(
                Reason.INVALID_TOOLS, f"{column}[{i}]: expected a function schema with a 'name'"
            )
    return tuple(tools) or None


def _arguments(raw: Any, where: str) -> Mapping[str, Any]:
    if raw is None:
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            raise RecordError(
                Reason.INVALID_FUNCTION_CALL, f"{where}.arguments is not valid JSON ({exc.msg})"
            ) from None
    if not isinstance(raw, Mapping):
        raise RecordError(Reason.INVALID_FUNCTION_CALL, f"{where}.arguments: expected an object")
    return dict(raw)


def parse_function_calls(value: Any, where: str) -> tuple[ToolCall, ...]:
    """A sharegpt ``function_call`` turn: a JSON object ``{"name", "arguments"}`` or a list of them."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise RecordError(
                Reason.INVALID_FUNCTION_CALL, f"{where} is not valid JSON ({exc.msg})"
            ) from None
    items = [value] if isinstance(value, Mapping) else value
    if not isinstance(items, list) or not items:
        raise RecordError(Reason.INVALID_FUNCTION_CALL, f"{where}: expected an object or a list of objects")
    return tuple(tool_call(item, f"{where}[{i}]") for i, item in enumerate(items))


def tool_call(item: Any, where: str) -> ToolCall:
    """One call, as ``{"name", "arguments"}`` or OpenAI's ``{"function": {...}, "id"}``."""
    if not isinstance(item, Mapping):
        raise RecordError(Reason.INVALID_FUNCTION_CALL, f"{where}: expected an object")
    fn = item.get("function", item)
    if not isinstance(fn, Mapping) or not isinstance(fn.get("name"), str) or not fn["name"]:
        raise RecordError(Reason.INVALID_FUNCTION_CALL, f"{where}: needs a function 'name'")
    call_id = item.get("id")
    return ToolCall(
        fn["name"], _arguments(fn.get("arguments"), where), call_id if isinstance(call_id, str) else None
    )


def _media_items(value: Any, where: str) -> list[Any]:
    if value is None or value is MISSING:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _media_source(item: Any, where: str, base: Path | None) -> str:
    if isinstance(item, Mapping) and isinstance(item.get("path"), str):
        item = item["path"]
    if not isinstance(item, str) or not item:
        kind = "a list (video frames)" if isinstance(item, list) else type(item).__name__
        raise RecordError(Reason.INVALID_VALUE, f"{where}: expected a file path or URL, got {kind}")
    if base is None or item.startswith(_URL_PREFIXES):
        return item
    path = Path(item)
    if not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise RecordError(Reason.MISSING_MEDIA, f"{where}: {item!r} not found (looked at {path})")
    return str(path)


def parse_media(
    record: Mapping[str, Any], columns: Mapping[str, str | None], base: Path | None
) -> tuple[Part, ...]:
    """Media parts from the images/videos/audios columns. Relative paths resolve against ``base``
    (the dataset_dir of local datasets) and must exist; ``base=None`` keeps values as they are."""
    parts: list[Part] = []
    for kind in MEDIA_TYPES:
        column = columns.get(kind)
        if column is None:
            continue
        for i, item in enumerate(_media_items(record.get(column), column)):
            parts.append(Part(kind, source=_media_source(item, f"{column}[{i}]", base)))  # type: ignore[arg-type]
    return tuple(parts)


def check_placeholders(texts: Sequence[str], media: Sequence[Part]) -> None:
    """The number of ``<image>``/``<video>``/``<audio>`` placeholders must equal the number of media."""
    for kind, placeholder in PLACEHOLDERS.items():
        found = sum(text.count(placeholder) for text in texts)
        given = sum(1 for part in media if part.type == kind)
        if found != given:
            raise RecordError(
                Reason.MEDIA_MISMATCH,
                f"{found} {placeholder} placeholders in the text but {given} {kind}s given",
            )
