"""Llama 4 JSON tool calls (``llama4``), as Llama-4-Scout / Maverick's official chat template writes them.

The template writes an assistant message with tool calls as ``<|python_start|>CONTENT<|python_end|>``
followed by the calls, each ``{"name": "f", "parameters": {...}}`` (key ``parameters``, arguments as
``tojson``), concatenated without a separator, then ``<|eot|>``. :meth:`Llama4ToolFormat.format_calls`
returns the calls only; the ``<|python_start|>…<|python_end|>`` wrapper (written even when the content
is empty) belongs to the template.

(Meta's prompt-format guide also describes a "pythonic" ``[f(a=1)]`` answer style prompted through the
system message; the chat template does not write it, so it is not this format.)

The parser reads the calls after ``<|python_end|>`` (the text between ``<|python_start|>`` and
``<|python_end|>`` is content), or, without those markers, a run of call objects starting at the first
``{"name"`` in the text; objects may be separated by whitespace, ``,`` or ``;`` or form a JSON list.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tunesmith.templates.messages import Message, ToolCall
from tunesmith.templates.tools.base import ParsedToolCalls, call_from_object, dumps, join_content

PYTHON_START = "<|python_start|>"
PYTHON_END = "<|python_end|>"
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
_CALL_START = re.compile(r'(?:\[\s*)?\{\s*"name"\s*:')
_SEPARATORS = " \t\r\n,;"


@dataclass(frozen=True)
class Llama4ToolFormat:
    """Llama 4 Scout / Maverick.

    :meth:`format_definitions` returns the instructions and the tools (each ``tojson(indent=4)`` followed by
    ``"\\n\\n"``). With ``tools_in_user_message=True`` (the template's default) the text opens the first
    user turn, before the user's trimmed text; with ``False`` it sits in the system turn after
    ``Environment: ipython\\n`` and before the trimmed system text (which the template writes only when
    the conversation has a system message).
    """

    name: str = "llama4"
    tools_in_user_message: bool = True

    def format_calls(self, calls: Sequence[ToolCall]) -> str:
        return "".join(f'{{"name": "{c.name}", "parameters": {dumps(c.arguments)}}}' for c in calls)

    def parse_calls(self, text: str) -> ParsedToolCalls:
        end_marker = text.find(PYTHON_END)
        if end_marker >= 0:
            before = text[:end_marker].replace(PYTHON_START, "", 1)
            after_at = end_marker + len(PYTHON_END)
            start = _CALL_START.search(text, after_at)
            if start is None or text[after_at : start.start()].strip():
                return ParsedToolCalls(text.strip())
            head = before + text[after_at : start.start()]
        else:
            start = _CALL_START.search(text)
            if start is None:
                return ParsedToolCalls(text.strip())
            head = text[: start.start()]
        kept = [text[: start.start()]]  # verbatim while a call cannot be read; markers dropped once all are
        calls: list[ToolCall] = []
        errors: list[str] = []
        pos = start.start()
        for value, lo, hi in _decode_run(text, pos):
            if isinstance(value, str):  # undecodable: the rest of the text is kept
                errors.append(f"{self.name}: {value}")
                kept.append(text[lo:hi])
                pos = hi
                break
            try:
                calls.extend(self._read(value, len(calls)))
            except ValueError as exc:
                errors.append(str(exc))
                kept.append(text[lo:hi])
            pos = hi
        kept.append(text[pos:])
        if not errors:
            kept[0] = head
        return ParsedToolCalls(join_content(kept), tuple(calls), tuple(errors))

    def _read(self, value: Any, first: int) -> list[ToolCall]:
        """The calls of one decoded value (a list is read whole: one bad entry keeps all of it)."""
        out = []
        for i, obj in enumerate(value if isinstance(value, list) else [value]):
            has_params = isinstance(obj, Mapping) and "parameters" in obj
            key = (
                "arguments"
                if isinstance(obj, Mapping) and not has_params and "arguments" in obj
                else "parameters"
            )
            out.append(call_from_object(obj, f"{self.name} tool call {first + i}", args_key=key))
        return out

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


def _decode_run(text: str, start: int) -> Iterator[tuple[Any, int, int]]:
    """(value, start, end) of the JSON values from ``start``, separated by whitespace, ``,`` or ``;``,
    up to the first text that does not start another call object. A value that does not decode is
    yielded as its error message (a ``str``) spanning the rest of the text, and ends the run."""
    decoder = json.JSONDecoder()
    pos = start
    while True:
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            yield f"invalid JSON ({exc.msg} at char {exc.pos})", pos, len(text)
            return
        yield value, pos, end
        nxt = end
        while nxt < len(text) and text[nxt] in _SEPARATORS:
            nxt += 1
        if _CALL_START.match(text, nxt) is None:
            return
        pos = nxt
