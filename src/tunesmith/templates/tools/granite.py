"""IBM Granite 3.x tool calls (``granite``): ``<|tool_call|>`` followed by a JSON list of calls.

Granite 3.x models answer a tool request with ``<|tool_call|>[{"name": "f", "arguments": {...}}, ...]``
(the Granite 3.3 system prompt: "respond only with <|tool_call|> followed by a JSON list of tools used").
The official chat templates do not render ``tool_calls`` at all — Granite 3.0 drops them (and ``tool``
messages), Granite 3.3 writes only the message content — so this format is what the models generate,
read back by :meth:`GraniteToolFormat.parse_calls` (as vLLM's ``granite`` parser does, which also
accepts the plain-text ``<tool_call>`` some Granite 3.1 checkpoints write).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tunesmith.templates.messages import Message, ToolCall
from tunesmith.templates.tools.base import ParsedToolCalls, call_from_object, dumps, join_content

CALL_TOKEN = "<|tool_call|>"
CALL_TEXT = "<tool_call>"


@dataclass(frozen=True)
class GraniteToolFormat:
    """Granite 3.x ``<|tool_call|>[...]`` calls.

    :meth:`format_definitions` returns the content of Granite 3.0's ``available_tools`` turn (each tool
    ``tojson(indent=4)``, joined by a blank line); :meth:`format_results` returns Granite 3.3's ``tool``
    turns (Granite 3.0's template drops ``tool`` messages).
    """

    name: str = "granite"

    def format_calls(self, calls: Sequence[ToolCall]) -> str:
        if not calls:
            return ""
        return CALL_TOKEN + dumps([{"name": c.name, "arguments": dict(c.arguments)} for c in calls])

    def parse_calls(self, text: str) -> ParsedToolCalls:
        """Every ``<|tool_call|>`` (or ``<tool_call>``) followed by a JSON list of calls (or one call
        object) is read; one that cannot be read stays in the content, up to the next marker."""
        decoder = json.JSONDecoder()
        calls: list[ToolCall] = []
        errors: list[str] = []
        kept: list[str] = []
        pos = 0
        k = 0
        for start, marker in _markers(text):
            if start < pos:
                continue
            kept.append(text[pos:start])
            body = start + len(marker)
            while body < len(text) and text[body].isspace():
                body += 1
            nxt = min((s for s, _ in _markers(text, body)), default=len(text))
            try:
                value, end = decoder.raw_decode(text, body)
            except json.JSONDecodeError as exc:
                errors.append(f"{self.name} tool call {k}: invalid JSON ({exc.msg} at char {exc.pos - body})")
                kept.append(text[start:nxt])
                pos = nxt
                k += 1
                continue
            found: list[ToolCall] = []
            try:
                for obj in value if isinstance(value, list) else [value]:
                    found.append(call_from_object(obj, f"{self.name} tool call {k}", args_key=_args_key(obj)))
                    k += 1
            except ValueError as exc:
                errors.append(str(exc))
                kept.append(text[start:end])
                pos = end
                k += 1
                continue
            calls.extend(found)
            pos = end
        kept.append(text[pos:])
        return ParsedToolCalls(join_content(kept), tuple(calls), tuple(errors))

    def format_definitions(self, tools: Sequence[Mapping[str, Any]]) -> str:
        return "\n\n".join(json.dumps(dict(t), ensure_ascii=False, indent=4) for t in tools)

    def format_results(self, results: Sequence[Message]) -> str:
        return "".join(f"<|start_of_role|>tool<|end_of_role|>{m.text}<|end_of_text|>\n" for m in results)


def _markers(text: str, pos: int = 0) -> list[tuple[int, str]]:
    """(position, marker) of every call marker from ``pos`` on, in order."""
    found = []
    for marker in (CALL_TOKEN, CALL_TEXT):
        at = text.find(marker, pos)
        while at >= 0:
            found.append((at, marker))
            at = text.find(marker, at + len(marker))
    return sorted(found)


def _args_key(obj: Any) -> str:
    if isinstance(obj, dict) and "arguments" not in obj and "parameters" in obj:
        return "parameters"
    return "arguments"
