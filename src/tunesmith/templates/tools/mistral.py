"""Mistral ``[TOOL_CALLS]`` tool calling, in the three forms Mistral's templates use.

- ``mistral`` (tekken v3: Mistral-Nemo-Instruct-2407, Mistral-7B-Instruct-v0.3):
  ``[TOOL_CALLS][{"name": "f", "arguments": {...}, "id": "a1b2c3d4e"}, ...]``
- ``mistral_v11`` (Mistral-Small-3.2-24B-Instruct-2506, Magistral):
  ``[TOOL_CALLS]f[CALL_ID]a1b2c3d4e[ARGS]{...}`` repeated for each call
- ``mistral_v13`` (Ministral-3 2512): ``[TOOL_CALLS]f[ARGS]{...}`` repeated, no ids

Call ids are nine ASCII letters or digits; the ``mistral`` and ``mistral_v11`` templates raise without
them, and so does :meth:`MistralToolFormat.format_calls`. :func:`with_call_ids` fills missing ids
deterministically (for data that has none).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from tunesmith.templates.messages import Message, ToolCall
from tunesmith.templates.tools.base import (
    ParsedToolCalls,
    ToolFormatError,
    call_from_object,
    dumps,
    function_of,
    join_content,
    require_id,
)

TOOL_CALLS = "[TOOL_CALLS]"
CALL_ID = "[CALL_ID]"
ARGS = "[ARGS]"
CALL_ID_PATTERN = re.compile(r"[A-Za-z0-9]{9}")
_ID_RULE = "Mistral tool call ids are 9 ASCII letters or digits"
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

MistralVersion = Literal["v3", "v11", "v13"]


def make_call_id(seed: str) -> str:
    """A deterministic 9-character alphanumeric id derived from ``seed``."""
    number = int.from_bytes(hashlib.sha256(seed.encode("utf-8")).digest()[:8], "big")
    chars = []
    for _ in range(9):
        number, digit = divmod(number, len(_ALPHABET))
        chars.append(_ALPHABET[digit])
    return "".join(chars)


def with_call_ids(calls: Sequence[ToolCall], *, salt: str = "") -> tuple[ToolCall, ...]:
    """The calls with every missing id filled by :func:`make_call_id` (from the salt, position, name and
    arguments, so the same data always gets the same ids); existing ids are kept."""
    return tuple(
        c if c.id is not None else replace(c, id=make_call_id(f"{salt}|{i}|{c.name}|{dumps(c.arguments)}"))
        for i, c in enumerate(calls)
    )


@dataclass(frozen=True)
class MistralToolFormat:
    """``[TOOL_CALLS]`` calls; ``version`` picks the form (see the module docstring).

    :meth:`format_definitions` returns the whole ``[AVAILABLE_TOOLS]...[/AVAILABLE_TOOLS]`` block, which
    the templates put right before the last user turn's ``[INST]``. For ``v3`` it is written key by key
    as the Nemo template does: string values are inserted without JSON escaping and ``return`` is left
    out. The text content of a tool-call message is dropped by the ``v3`` and ``v11`` templates and
    written before the calls by ``v13``.
    """

    name: str = "mistral"
    version: MistralVersion = "v3"

    def format_calls(self, calls: Sequence[ToolCall]) -> str:
        if not calls:
            return ""
        if self.version == "v3":
            items = [
                f'{{"name": "{c.name}", "arguments": {dumps(c.arguments)}, "id": "{self._id(c, i)}"}}'
                for i, c in enumerate(calls)
            ]
            return TOOL_CALLS + "[" + ", ".join(items) + "]"
        if self.version == "v11":
            return "".join(
                f"{TOOL_CALLS}{c.name}{CALL_ID}{self._id(c, i)}{ARGS}{dumps(c.arguments)}"
                for i, c in enumerate(calls)
            )
        return "".join(f"{TOOL_CALLS}{c.name}{ARGS}{dumps(c.arguments)}" for c in calls)

    def _id(self, call: ToolCall, index: int) -> str:
        return require_id(call, index, self.name, CALL_ID_PATTERN, _ID_RULE)

    def parse_calls(self, text: str) -> ParsedToolCalls:
        start = text.find(TOOL_CALLS)
        if start < 0:
            return ParsedToolCalls(text.strip())
        if self.version == "v3":
            return self._parse_list(text, start)
        return self._parse_segments(text, start)

    def _parse_list(self, text: str, start: int) -> ParsedToolCalls:
        calls: list[ToolCall] = []
        errors: list[str] = []
        kept: list[str] = []
        pos = 0
        decoder = json.JSONDecoder()
        while start >= 0:
            kept.append(text[pos:start])
            body = start + len(TOOL_CALLS)
            while body < len(text) and text[body].isspace():
                body += 1
            try:
                value, end = decoder.raw_decode(text, body)
            except json.JSONDecodeError as exc:
                errors.append(f"{self.name}: invalid JSON after {TOOL_CALLS} ({exc.msg} at char {exc.pos})")
                nxt = text.find(TOOL_CALLS, body)
                end = len(text) if nxt < 0 else nxt
                kept.append(text[start:end])
            else:
                before = len(errors)
                for obj in value if isinstance(value, list) else [value]:
                    try:
                        calls.append(
                            call_from_object(obj, f"{self.name} tool call {len(calls)}", id_key="id")
                        )
                    except ValueError as exc:
                        errors.append(str(exc))
                if len(errors) > before:
                    kept.append(text[start:end])
            pos = end
            start = text.find(TOOL_CALLS, pos)
        kept.append(text[pos:])
        return ParsedToolCalls(join_content(kept), tuple(calls), tuple(errors))

    def _parse_segments(self, text: str, start: int) -> ParsedToolCalls:
        calls: list[ToolCall] = []
        errors: list[str] = []
        kept = [text[:start]]
        segments = text[start + len(TOOL_CALLS) :].split(TOOL_CALLS)
        for i, segment in enumerate(segments):
            try:
                call, rest = self._read_segment(segment, i)
            except ValueError as exc:
                errors.append(str(exc))
                kept.append(TOOL_CALLS + segment)
                continue
            calls.append(call)
            kept.append(rest)
        return ParsedToolCalls(join_content(kept), tuple(calls), tuple(errors))

    def _read_segment(self, segment: str, index: int) -> tuple[ToolCall, str]:
        where = f"{self.name} tool call {index}"
        head, sep, tail = segment.partition(ARGS)
        if not sep:
            raise ValueError(f"{where}: missing {ARGS} (truncated output?)")
        call_id = None
        if self.version == "v11":
            head, sep_id, call_id = head.partition(CALL_ID)
            if not sep_id:
                raise ValueError(f"{where}: missing {CALL_ID}")
        name = head.strip()
        if not name:
            raise ValueError(f"{where}: empty function name")
        body = len(tail) - len(tail.lstrip())
        try:
            args, end = json.JSONDecoder().raw_decode(tail, body)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: invalid JSON arguments ({exc.msg} at char {exc.pos})") from None
        obj = {"name": name, "arguments": args, "id": call_id.strip() if call_id is not None else None}
        return call_from_object(obj, where, id_key="id"), tail[end:]

    def format_definitions(self, tools: Sequence[Mapping[str, Any]]) -> str:
        if self.version != "v3":
            return "[AVAILABLE_TOOLS]" + dumps(list(tools)) + "[/AVAILABLE_TOOLS]"
        parts = []
        for tool in tools:
            fields = [
                f'"{key}": "{val}"' if isinstance(val, str) else f'"{key}": {dumps(val)}'
                for key, val in function_of(tool).items()
                if key != "return"
            ]
            parts.append('{"type": "function", "function": {' + ", ".join(fields) + "}}")
        return "[AVAILABLE_TOOLS][" + ", ".join(parts) + "][/AVAILABLE_TOOLS]"

    def format_results(self, results: Sequence[Message]) -> str:
        """Each result's complete ``[TOOL_RESULTS]...[/TOOL_RESULTS]`` block. ``v3`` inserts the content
        unquoted into its JSON-like wrapper (the content is expected to be JSON already)."""
        out = []
        for i, m in enumerate(results):
            if self.version == "v13":
                out.append(f"[TOOL_RESULTS]{m.text}[/TOOL_RESULTS]")
                continue
            call_id = m.tool_call_id
            if call_id is None or not CALL_ID_PATTERN.fullmatch(call_id):
                raise ToolFormatError(
                    f"{self.name}: tool result {i} has tool_call_id {call_id!r}; {_ID_RULE}"
                )
            if self.version == "v3":
                out.append(f'[TOOL_RESULTS]{{"content": {m.text}, "call_id": "{call_id}"}}[/TOOL_RESULTS]')
            else:
                out.append(f"[TOOL_RESULTS]{call_id}[TOOL_CONTENT]{m.text}[/TOOL_RESULTS]")
        return "".join(out)
