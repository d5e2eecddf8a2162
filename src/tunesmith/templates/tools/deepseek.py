"""DeepSeek tool calling: DeepSeek-V3 / R1 / R1-Distill (``deepseek_v3``) and DeepSeek-V3.1 (``deepseek_v3_1``).

- ``deepseek_v3``: ``<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>f\\n```json\\n{...}\\n```
  <｜tool▁call▁end｜>`` (no line break before ``<｜tool▁call▁end｜>``), parallel calls joined by ``"\\n"``,
  then ``<｜tool▁calls▁end｜>``. The official DeepSeek-V3 and R1-Distill templates write the closing
  ``<｜tool▁calls▁end｜>`` after every call but the first (so a single call is never closed); this format
  writes it once, as the model generates it and as the fixed V3-0324 template and TRL's template do.
- ``deepseek_v3_1``: ``<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>f<｜tool▁sep｜>{...}<｜tool▁call▁end｜>``,
  parallel calls chained without separators, then ``<｜tool▁calls▁end｜>``.

The templates concatenate ``arguments`` as a string; this format writes ``json.dumps(arguments,
ensure_ascii=False)``, i.e. what the templates render when the arguments string was made that way.
Neither template renders tool definitions (see :meth:`DeepSeekToolFormat.format_definitions`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

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

CALLS_BEGIN = "<｜tool▁calls▁begin｜>"
CALLS_END = "<｜tool▁calls▁end｜>"
CALL_BEGIN = "<｜tool▁call▁begin｜>"
CALL_END = "<｜tool▁call▁end｜>"
SEP = "<｜tool▁sep｜>"
OUTPUTS_BEGIN = "<｜tool▁outputs▁begin｜>"
OUTPUTS_END = "<｜tool▁outputs▁end｜>"
OUTPUT_BEGIN = "<｜tool▁output▁begin｜>"
OUTPUT_END = "<｜tool▁output▁end｜>"

_V3_CALL = re.compile(r"\s*(?:(\w+)" + re.escape(SEP) + r")?(.+?)\n```(?:json)?\n(.*?)\n?```\s*", re.DOTALL)

_TOOLS_HEAD = "## Tools\nYou have access to the following tools:\n\n"
_V31_USAGE = (
    "IMPORTANT: ALWAYS adhere to this exact format for tool use:\n"
    f"{CALLS_BEGIN}{CALL_BEGIN}tool_call_name{SEP}tool_call_arguments{CALL_END}{{additional_tool_calls}}{CALLS_END}"
    "\n\nWhere:\n- `tool_call_name` must be an exact match to one of the available tools\n"
    "- `tool_call_arguments` must be valid JSON that strictly follows the tool's Parameters Schema\n"
    "- For multiple tool calls, chain them directly without separators or spaces"
)
_V3_USAGE = (
    "IMPORTANT: ALWAYS adhere to this exact format for tool use:\n"
    f"{CALLS_BEGIN}{CALL_BEGIN}function{SEP}tool_call_name\n```json\ntool_call_arguments\n```{CALL_END}"
    f"{{additional_tool_calls}}{CALLS_END}"
    "\n\nWhere:\n- `tool_call_name` must be an exact match to one of the available tools\n"
    "- `tool_call_arguments` must be valid JSON that strictly follows the tool's Parameters Schema\n"
    "- For multiple tool calls, separate them with a line break"
)


@dataclass(frozen=True)
class DeepSeekToolFormat:
    """DeepSeek special-token tool calls; ``version`` is ``"v3"`` or ``"v3_1"``.

    :meth:`format_definitions`: the official templates ignore ``tools``. For ``v3_1`` this returns the
    tool description block of the DeepSeek-V3.1 model card (``## Tools`` ... ``without separators or
    spaces``; parameters as ``json.dumps(parameters)`` as the card writes them), which the card appends to
    the system prompt after ``"\\n\\n"``. For ``v3`` no official text exists; it returns the same layout
    with the V3 call syntax in the instructions (tunesmith's choice, stated here so nobody mistakes it
    for DeepSeek's).
    """

    name: str = "deepseek_v3"
    version: Literal["v3", "v3_1"] = "v3"

    def format_calls(self, calls: Sequence[ToolCall]) -> str:
        if not calls:
            return ""
        if self.version == "v3":
            body = "\n".join(
                f"{CALL_BEGIN}function{SEP}{c.name}\n```json\n{dumps(c.arguments)}\n```{CALL_END}"
                for c in calls
            )
        else:
            body = "".join(f"{CALL_BEGIN}{c.name}{SEP}{dumps(c.arguments)}{CALL_END}" for c in calls)
        return CALLS_BEGIN + body + CALLS_END

    def parse_calls(self, text: str) -> ParsedToolCalls:
        calls: list[ToolCall] = []
        errors: list[str] = []
        kept: list[str] = []
        pos = 0
        while (start := _region_start(text, pos)) >= 0:
            end_marker = text.find(CALLS_END, start)
            end = len(text) if end_marker < 0 else end_marker + len(CALLS_END)
            region = text[start:end]
            kept.append(text[pos:start])
            leftover: list[str] = []
            failed = False
            last = 0
            blocks = list(find_blocks(region, CALL_BEGIN, CALL_END))
            for block in blocks:
                try:
                    calls.append(self._read(block, len(calls) + len(errors)))
                    leftover.append(region[last : block.start])
                except ValueError as exc:
                    errors.append(str(exc))
                    leftover.append(region[last : block.end])
                    failed = True
                last = block.end
            leftover.append(region[last:])
            if not blocks:
                errors.append(f"{self.name}: no {CALL_BEGIN} inside {CALLS_BEGIN}")
                failed = True
            if failed:  # keep the markers and the unreadable calls, so the output can be inspected
                kept.append("".join(leftover))
            pos = end
        kept.append(text[pos:])
        return ParsedToolCalls(join_content(kept), tuple(calls), tuple(errors))

    def _read(self, block: Block, index: int) -> ToolCall:
        where = f"{self.name} tool call {index}"
        if not block.closed:
            raise ValueError(f"{where}: missing {CALL_END} (truncated output?)")
        if self.version == "v3":
            match = _V3_CALL.fullmatch(block.inner)
            if match is None:
                raise ValueError(f"{where}: expected 'function{SEP}name\\n```json\\n{{...}}\\n```'")
            name, args_text = match.group(2).strip(), match.group(3)
        else:
            name, sep, args_text = block.inner.partition(SEP)
            if not sep:
                raise ValueError(f"{where}: missing {SEP}")
            name = name.strip()
        return call_from_object({"name": name, "arguments": load_object(args_text.strip(), where)}, where)

    def format_definitions(self, tools: Sequence[Mapping[str, Any]]) -> str:
        sections = []
        for tool in tools:
            fn = function_of(tool)
            params = json.dumps(fn.get("parameters", {}))
            sections.append(
                f"### {fn.get('name')}\nDescription: {fn.get('description', '')}\n\nParameters: {params}"
            )
        usage = _V3_USAGE if self.version == "v3" else _V31_USAGE
        return _TOOLS_HEAD + "\n\n".join(sections) + "\n\n" + usage

    def format_results(self, results: Sequence[Message]) -> str:
        """``v3``: the whole ``<｜tool▁outputs▁begin｜>...<｜tool▁outputs▁end｜>`` block (outputs joined by
        ``"\\n"``; the official template writes the closing marker when the next assistant turn starts).
        ``v3_1``: the outputs, chained."""
        outputs = [f"{OUTPUT_BEGIN}{m.text}{OUTPUT_END}" for m in results]
        if self.version == "v3":
            return OUTPUTS_BEGIN + "\n".join(outputs) + OUTPUTS_END
        return "".join(outputs)


def _region_start(text: str, pos: int) -> int:
    start = text.find(CALLS_BEGIN, pos)
    return start if start >= 0 else text.find(CALL_BEGIN, pos)  # tolerate a missing outer marker
