"""ReAct-style ``Action:`` / ``Action Input:`` tool calls (``react``), LLaMA-Factory's default tool format.

For templates whose model has no tool format of its own. Definitions, calls and parsing are
LLaMA-Factory's ``DefaultToolUtils`` (same text, same regular expression), so data prepared for
LLaMA-Factory's ``default`` tool format trains identically.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tunesmith.templates.messages import Message, ToolCall
from tunesmith.templates.tools.base import ParsedToolCalls, call_from_object, dumps, function_of, join_content

TOOL_PROMPT = (
    "You have access to the following tools:\n{tool_text}"
    "Use the following format if using a tool:\n"
    "```\n"
    "Action: tool name (one of [{tool_names}])\n"
    "Action Input: the input to the tool, in a JSON format representing the kwargs "
    '(e.g. ```{{"input": "hello world", "num_beams": 5}}```)\n'
    "```\n"
)
ACTION = re.compile(r"Action:\s*([a-zA-Z0-9_]+)\s*Action Input:\s*(.+?)(?=\s*Action:|\s*$)", re.DOTALL)


@dataclass(frozen=True)
class ReactToolFormat:
    """``Action: f\\nAction Input: {...}``, calls joined by ``"\\n"``.

    :meth:`format_definitions` returns LLaMA-Factory's whole default tool prompt (it becomes, or is
    appended to, the system text).
    """

    name: str = "react"

    def format_calls(self, calls: Sequence[ToolCall]) -> str:
        return "\n".join(f"Action: {c.name}\nAction Input: {dumps(c.arguments)}" for c in calls)

    def parse_calls(self, text: str) -> ParsedToolCalls:
        calls: list[ToolCall] = []
        errors: list[str] = []
        kept: list[str] = []
        pos = 0
        for i, match in enumerate(ACTION.finditer(text)):
            kept.append(text[pos : match.start()])
            pos = match.end()
            where = f"{self.name} tool call {i}"
            raw = match.group(2).strip().strip('"').strip("`")  # as LLaMA-Factory: strip quotes and fences
            try:
                args = json.loads(raw)
            except json.JSONDecodeError as exc:
                errors.append(
                    f"{where}: invalid JSON in Action Input ({exc.msg} at char {exc.pos}): {raw[:60]!r}"
                )
                kept.append(match.group(0))
                continue
            try:
                calls.append(call_from_object({"name": match.group(1).strip(), "arguments": args}, where))
            except ValueError as exc:
                errors.append(str(exc))
                kept.append(match.group(0))
        kept.append(text[pos:])
        return ParsedToolCalls(join_content(kept), tuple(calls), tuple(errors))

    def format_definitions(self, tools: Sequence[Mapping[str, Any]]) -> str:
        tool_text = ""
        names = []
        for tool in tools:
            fn = function_of(tool)
            params = fn.get("parameters") or {}
            required = params.get("required", [])
            args = ""
            for pname, spec in (params.get("properties") or {}).items():
                req = ", required" if pname in required else ""
                enum = ""
                if spec.get("enum"):
                    enum = ", should be one of [{}]".format(", ".join(str(e) for e in spec["enum"]))
                items = ""
                if spec.get("items"):
                    items = ", where each item should be {}".format(spec["items"].get("type", ""))
                args += (
                    f"  - {pname} ({spec.get('type', '')}{req}): {spec.get('description', '')}{enum}{items}\n"
                )
            tool_text += f"> Tool Name: {fn['name']}\nTool Description: {fn.get('description', '')}\nTool Args:\n{args}\n"
            names.append(fn["name"])
        return TOOL_PROMPT.format(tool_text=tool_text, tool_names=", ".join(names))

    def format_results(self, results: Sequence[Message]) -> str:
        """The results' text, one per line (the template's observation slot adds any markers)."""
        return "\n".join(m.text for m in results)
