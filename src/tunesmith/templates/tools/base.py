"""What every tool-call format offers, and the small JSON helpers the formats share.

A tool format knows how one model family writes tool definitions into the prompt, an assistant's tool
calls, and tool results, and how to read tool calls back out of generated text. The text is byte for
byte what the family's official chat template renders (``json.dumps(..., ensure_ascii=False)`` with the
default separators is exactly Jinja's ``tojson`` as transformers defines it).

Parsing never raises on model output: what cannot be read as a call is kept in
:attr:`ParsedToolCalls.content` and described in :attr:`ParsedToolCalls.errors`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from tunesmith.templates.messages import Message, ToolCall


class ToolFormatError(ValueError):
    """Tool calls or results cannot be written in this format (as the official template would refuse
    them); the message names the call and the reason."""


@dataclass(frozen=True)
class ParsedToolCalls:
    """The result of reading tool calls out of generated text."""

    content: str
    """The text outside the calls (stripped of surrounding whitespace); a call that could not be read
    stays here verbatim, so nothing the model wrote is lost."""
    calls: tuple[ToolCall, ...] = ()
    errors: tuple[str, ...] = ()
    """One line per call that could not be read (truncated JSON, wrong types, missing name)."""

    @property
    def ok(self) -> bool:
        return not self.errors


@runtime_checkable
class ToolFormat(Protocol):
    """How one model family writes and reads tool calls."""

    @property
    def name(self) -> str: ...

    def format_definitions(self, tools: Sequence[Mapping[str, Any]]) -> str:
        """The tools part of the prompt, as the family's template writes it (each format documents
        which part of the surrounding system or user text it returns)."""
        ...

    def format_calls(self, calls: Sequence[ToolCall]) -> str:
        """The assistant's tool calls, without the text content before them or the end-of-turn marker."""
        ...

    def parse_calls(self, text: str) -> ParsedToolCalls:
        """Read tool calls out of generated text; never raises."""
        ...

    def format_results(self, results: Sequence[Message]) -> str:
        """A run of consecutive tool-result messages, as the template writes them (each format documents
        which role markers are included)."""
        ...


def dumps(value: Any) -> str:
    """Jinja's ``tojson`` as transformers defines it: ``json.dumps(value, ensure_ascii=False)``."""
    return json.dumps(_plain(value), ensure_ascii=False)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping) and not isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def function_of(tool: Mapping[str, Any]) -> Mapping[str, Any]:
    """The function schema inside an OpenAI-style tool (a bare function schema is returned as is)."""
    fn = tool.get("function")
    return fn if isinstance(fn, Mapping) else tool


def wrapped(tool: Mapping[str, Any]) -> dict[str, Any]:
    """An OpenAI-style ``{"type": "function", "function": {...}}`` tool (bare schemas get wrapped)."""
    if isinstance(tool.get("function"), Mapping):
        return dict(tool)
    return {"type": "function", "function": dict(tool)}


def call_from_object(
    obj: Any, where: str, *, args_key: str = "arguments", id_key: str | None = None
) -> ToolCall:
    """A :class:`ToolCall` from a decoded ``{"name": ..., <args_key>: {...}}`` object.

    Raises ``ValueError`` with a short reason; parsers turn it into an entry of ``errors``.
    """
    if not isinstance(obj, Mapping):
        raise ValueError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where}: 'name' must be a non-empty string, got {name!r}")
    args = obj.get(args_key, {})
    if isinstance(args, str):  # some models double-encode the arguments
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: {args_key!r} is a string that is not JSON ({exc.msg})") from None
    if not isinstance(args, Mapping):
        raise ValueError(f"{where}: {args_key!r} must be a JSON object, got {type(args).__name__}")
    call_id = obj.get(id_key) if id_key else None
    if call_id is not None and not isinstance(call_id, str):
        raise ValueError(f"{where}: {id_key!r} must be a string, got {type(call_id).__name__}")
    return ToolCall(name, dict(args), call_id)


def load_object(text: str, where: str) -> Any:
    """``json.loads`` with a short error message (raises ``ValueError``)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        snippet = text if len(text) <= 60 else text[:57] + "..."
        raise ValueError(f"{where}: invalid JSON ({exc.msg} at char {exc.pos}): {snippet!r}") from None


@dataclass(frozen=True)
class Block:
    """One delimited call region found in the text: [start, end) and the inner text."""

    start: int
    end: int
    inner: str
    closed: bool = True
    """False when the text ended before the closing tag."""


def find_blocks(text: str, open_tag: str, close_tag: str) -> Iterator[Block]:
    """Regions ``open_tag ... close_tag``; an unclosed last region runs to the end of the text."""
    pos = 0
    while True:
        start = text.find(open_tag, pos)
        if start < 0:
            return
        inner_start = start + len(open_tag)
        close = text.find(close_tag, inner_start)
        if close < 0:
            yield Block(start, len(text), text[inner_start:], closed=False)
            return
        yield Block(start, close + len(close_tag), text[inner_start:close])
        pos = close + len(close_tag)


def parse_blocks(
    text: str, blocks: Sequence[Block], read: Callable[[Block, int], ToolCall]
) -> ParsedToolCalls:
    """Read each block with ``read``; unreadable blocks stay in the content and add an error."""
    calls: list[ToolCall] = []
    errors: list[str] = []
    kept: list[str] = []
    pos = 0
    for i, block in enumerate(blocks):
        kept.append(text[pos : block.start])
        try:
            calls.append(read(block, i))
        except ValueError as exc:
            errors.append(str(exc))
            kept.append(text[block.start : block.end])
        pos = block.end
    kept.append(text[pos:])
    return ParsedToolCalls(join_content(kept), tuple(calls), tuple(errors))


def join_content(pieces: Sequence[str]) -> str:
    return "".join(pieces).strip()


def require_id(call: ToolCall, index: int, fmt: str, pattern: re.Pattern[str], rule: str) -> str:
    if call.id is None or not pattern.fullmatch(call.id):
        raise ToolFormatError(
            f"{fmt}: tool_calls[{index}] ({call.name!r}) has id {call.id!r}; {rule} "
            "(use tunesmith.templates.tools.with_call_ids to fill missing ids)"
        )
    return call.id
