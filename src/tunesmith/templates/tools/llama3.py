"""Llama 3.1 / 3.2 / 3.3 JSON tool calling (``llama3``).

A call is ``{"name": "f", "parameters": {...}}`` — the key is ``parameters``, not ``arguments`` — and it
is the whole assistant message (the official templates drop the text content of a tool-call message).
The official templates accept exactly one call per message and raise otherwise; for parallel calls this
format writes a JSON list of such objects (as LLaMA-Factory does) and the parser also reads a list and
``;``-separated objects (as vLLM's ``llama3_json`` parser does).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tunesmith.templates.messages import Message, ToolCall
from tunesmith.templates.tools.base import ParsedToolCalls, call_from_object, dumps

PYTHON_TAG = "<|python_tag|>"
TOOLS_IN_USER_HEAD = (
    "Given the following functions, please respond with a JSON for a function call "
    "with its proper arguments that best answers the given prompt.\n\n"
    'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.'
    "Do not use variables.\n\n"
)
TOOLS_IN_SYSTEM_HEAD = (
    "You have access to the following functions. To call a function, please respond with JSON for a function call."
    'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.'
    "Do not use variables.\n\n"
)


@dataclass(frozen=True)
class Llama3ToolFormat:
    """Llama 3.x JSON tool calls.

    :meth:`format_definitions` returns the instructions and the tools (each ``tojson(indent=4)`` followed
    by ``"\\n\\n"``). With ``tools_in_user_message=True`` (the templates' default) this text opens the
    first user turn and the user's (trimmed) text follows it directly; with ``False`` it sits in the
    system turn after ``Today Date: ...\\n\\n`` and before the (trimmed) system message.
    """

    name: str = "llama3"
    tools_in_user_message: bool = True

    def format_calls(self, calls: Sequence[ToolCall]) -> str:
        if not calls:
            return ""
        objects = [f'{{"name": "{c.name}", "parameters": {dumps(c.arguments)}}}' for c in calls]
        return objects[0] if len(objects) == 1 else "[" + ", ".join(objects) + "]"

    def parse_calls(self, text: str) -> ParsedToolCalls:
        """A message that starts with JSON (after ``<|python_tag|>``, if any) is read as calls; JSON that
        does not look like a call (no ``"name"``) is ordinary content."""
        start = _first_json_start(text)
        if start is None:
            return ParsedToolCalls(text.strip())
        try:
            values, end = _decode_all(text, start)
        except json.JSONDecodeError as exc:
            if '"name"' not in text:
                return ParsedToolCalls(text.strip())
            error = f"{self.name}: invalid JSON ({exc.msg} at char {exc.pos})"
            return ParsedToolCalls(text.strip(), (), (error,))
        if not any(isinstance(v, dict) and "name" in v for v in values):
            return ParsedToolCalls(text.strip())
        calls: list[ToolCall] = []
        errors: list[str] = []
        for i, obj in enumerate(values):
            try:
                calls.append(call_from_object(obj, f"{self.name} tool call {i}", args_key=_args_key(obj)))
            except ValueError as exc:
                errors.append(str(exc))
        if errors:
            return ParsedToolCalls(text.strip(), tuple(calls), tuple(errors))
        before = text[:start].replace(PYTHON_TAG, "")
        return ParsedToolCalls((before + text[end:]).strip(), tuple(calls))

    def format_definitions(self, tools: Sequence[Mapping[str, Any]]) -> str:
        head = TOOLS_IN_USER_HEAD if self.tools_in_user_message else TOOLS_IN_SYSTEM_HEAD
        return head + "".join(json.dumps(dict(t), ensure_ascii=False, indent=4) + "\n\n" for t in tools)

    def format_results(self, results: Sequence[Message]) -> str:
        """The content of each ``ipython`` turn, joined without markers (one turn per result). A string
        result is written as a JSON string, quotes included: the template's ``content is iterable`` test
        is true for strings too."""
        return "".join(
            dumps(m.content if isinstance(m.content, str) else [p.to_dict() for p in m.content])
            for m in results
        )


def _first_json_start(text: str) -> int | None:
    """Where the call JSON starts: the text must begin with it (after whitespace or ``<|python_tag|>``)."""
    stripped = text.lstrip()
    offset = len(text) - len(stripped)
    if stripped.startswith(PYTHON_TAG):
        stripped = stripped[len(PYTHON_TAG) :]
        offset = len(text) - len(stripped.lstrip())
        stripped = stripped.lstrip()
    if stripped.startswith("{") or stripped.startswith("[{"):
        return offset
    return None


def _decode_all(text: str, start: int) -> tuple[list[Any], int]:
    """Decode a JSON value, a list, or ``;``-separated values from ``start``; return them and the end."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    pos = start
    while True:
        value, end = decoder.raw_decode(text, pos)
        values.extend(value if isinstance(value, list) else [value])
        rest = text[end:].lstrip()
        if not rest.startswith(";"):
            return values, end
        after = rest[1:].lstrip()
        if not after:
            return values, len(text)
        pos = len(text) - len(after)


def _args_key(obj: Any) -> str:
    if isinstance(obj, dict) and "parameters" not in obj and "arguments" in obj:
        return "arguments"
    return "parameters"
