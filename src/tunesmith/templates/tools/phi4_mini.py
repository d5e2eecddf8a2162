"""Phi-4-mini-instruct tool calls (``phi4_mini``).

The model is prompted with its tools in the system turn, ``<|system|>TEXT<|tool|>[...]<|/tool|><|end|>``
(the official template reads them, as a JSON string, from a ``tools`` key of the system message, not
from the ``tools`` argument), and calls tools with one JSON list, ``<|tool_call|>[{"name": "f",
"arguments": {...}}, ...]<|/tool_call|>``. The official template writes no tool calls (an assistant
message is its content only), so the call text follows the model card and the serving stacks that parse
this model's output; tool results are ``<|tool|>…<|end|>`` turns.

The parser also reads a single object instead of a list, ``"parameters"`` instead of ``"arguments"``,
and a last block whose closing ``<|/tool_call|>`` was cut off when its JSON is complete.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tunesmith.templates.messages import Message, ToolCall
from tunesmith.templates.tools.base import (
    Block,
    ParsedToolCalls,
    call_from_object,
    dumps,
    find_blocks,
    function_of,
    join_content,
    load_object,
)

CALL_OPEN = "<|tool_call|>"
CALL_CLOSE = "<|/tool_call|>"
TOOLS_OPEN = "<|tool|>"
TOOLS_CLOSE = "<|/tool|>"


@dataclass(frozen=True)
class Phi4MiniToolFormat:
    """Phi-4-mini-instruct (and Phi-4-multimodal-instruct, which shares the format).

    :meth:`format_definitions` returns ``<|tool|>[...]<|/tool|>``, the bare function schemas (``name``,
    ``description``, ``parameters``) as one JSON list, as the model card passes them; it follows the
    system text inside the system turn, before ``<|end|>``.
    """

    name: str = "phi4_mini"

    def format_calls(self, calls: Sequence[ToolCall]) -> str:
        if not calls:
            return ""
        return CALL_OPEN + dumps([{"name": c.name, "arguments": c.arguments} for c in calls]) + CALL_CLOSE

    def parse_calls(self, text: str) -> ParsedToolCalls:
        calls: list[ToolCall] = []
        errors: list[str] = []
        kept: list[str] = []
        pos = 0
        for k, block in enumerate(find_blocks(text, CALL_OPEN, CALL_CLOSE)):
            kept.append(text[pos : block.start])
            try:
                calls.extend(self._read(block, k, len(calls)))
            except ValueError as exc:
                errors.append(str(exc))
                kept.append(text[block.start : block.end])
            pos = block.end
        kept.append(text[pos:])
        return ParsedToolCalls(join_content(kept), tuple(calls), tuple(errors))

    def _read(self, block: Block, k: int, first: int) -> list[ToolCall]:
        """The calls of one block (all or none: one bad entry keeps the whole block as content)."""
        where = f"{self.name} tool call block {k}"
        inner = block.inner.strip()
        if not inner:
            raise ValueError(f"{where}: empty" + ("" if block.closed else " (truncated output?)"))
        value = load_object(inner, where)
        items = value if isinstance(value, list) else [value]
        out = []
        for i, obj in enumerate(items):
            at = f"{self.name} tool call {first + i}"
            key = (
                "parameters"
                if isinstance(obj, Mapping) and "arguments" not in obj and "parameters" in obj
                else "arguments"
            )
            out.append(call_from_object(obj, at, args_key=key))
        return out

    def format_definitions(self, tools: Sequence[Mapping[str, Any]]) -> str:
        return TOOLS_OPEN + dumps([dict(function_of(t)) for t in tools]) + TOOLS_CLOSE

    def format_results(self, results: Sequence[Message]) -> str:
        """One ``<|tool|>CONTENT<|end|>`` turn per result."""
        return "".join(f"{TOOLS_OPEN}{m.text}<|end|>" for m in results)
