"""Cohere tool calls: Command R / R+ (``command_r``) and Command R7B (``command_r7b``).

``command_r`` — the ``tool_use`` template of c4ai-command-r(-plus): the assistant writes its text, then
``\\nAction:\\n```json\\n[...]```\\n`` where each call is ``{"tool_name": ..., "parameters": {...}}``
pretty-printed (``tojson(indent=4)`` indented by 8); results are ``<results>`` system turns.

``command_r7b`` — c4ai-command-r7b-12-2024: ``<|START_THINKING|>plan<|END_THINKING|><|START_ACTION|>[...]
<|END_ACTION|>``, one call per line as ``{"tool_call_id": "N", "tool_name": ..., "parameters": {...}}``;
results are a JSON list inside ``<|START_TOOL_RESULT|>...<|END_TOOL_RESULT|>``. The template numbers
``tool_call_id`` across the whole conversation; the format numbers the calls it is given from 0.

Parsing never raises: a call region that cannot be read stays in the content and adds an error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tunesmith.templates.messages import Message, ToolCall
from tunesmith.templates.tools.base import (
    ParsedToolCalls,
    ToolFormatError,
    call_from_object,
    dumps,
    find_blocks,
    function_of,
    join_content,
    load_object,
)

ACTION_OPEN = "<|START_ACTION|>"
ACTION_CLOSE = "<|END_ACTION|>"
THINKING = ("<|START_THINKING|>", "<|END_THINKING|>")
_ACTION = re.compile(r"Action:\s*(?:```(?:json)?\s*)?(?=[\[{])")
_PY_TYPES = {"string": "str", "number": "float", "integer": "int", "boolean": "bool"}


@dataclass(frozen=True)
class CommandRToolFormat:
    """Command R / R+ (``version="r"``) or Command R7B (``version="r7b"``) tool calls.

    ``r``: :meth:`format_calls` returns ``Action:`` up to the closing ``]```\\``` (the template writes
    ``"\\n"`` before it, after the trimmed text, and ``"\\n"`` after it, with no end-of-turn token);
    :meth:`format_definitions` the Python-style signatures after ``## Available Tools ...:\\n\\n``;
    :meth:`format_results` the whole ``<results>`` system turns.

    ``r7b``: :meth:`format_calls` returns ``<|START_ACTION|>...<|END_ACTION|>`` (the template writes
    ``<|START_THINKING|>tool_plan<|END_THINKING|>`` before it); :meth:`format_definitions` the
    ````json [...] ```` list of the preamble; :meth:`format_results` ``<|START_TOOL_RESULT|>`` to
    ``<|END_TOOL_RESULT|>``.
    """

    name: str = "command_r"
    version: Literal["r", "r7b"] = "r"

    # -- calls ----------------------------------------------------------------------------------
    def format_calls(self, calls: Sequence[ToolCall]) -> str:
        if not calls:
            return ""
        if self.version == "r7b":
            return (
                ACTION_OPEN
                + "["
                + ",".join(
                    f'\n    {{"tool_call_id": "{i}", "tool_name": "{c.name}", "parameters": {dumps(c.arguments)}}}'
                    for i, c in enumerate(calls)
                )
                + "\n]"
                + ACTION_CLOSE
            )
        items = []
        for c in calls:
            args = json.dumps(dict(c.arguments), ensure_ascii=False, indent=4)
            params = _jinja_indent(args, 8) + "\n" if c.arguments else "{}\n"
            items.append(f'    {{\n        "tool_name": "{c.name}",\n        "parameters": {params}    }}')
        return "Action:\n```json\n[\n" + ",\n".join(items) + "\n]```"

    def parse_calls(self, text: str) -> ParsedToolCalls:
        if self.version == "r" or ACTION_OPEN not in text:
            return self._parse_actions(text) if self.version == "r" else ParsedToolCalls(text.strip())
        calls: list[ToolCall] = []
        errors: list[str] = []
        kept: list[str] = []
        pos = 0
        for n, block in enumerate(find_blocks(text, ACTION_OPEN, ACTION_CLOSE)):
            kept.append(text[pos : block.start])
            where = f"{self.name} action {n}"
            try:
                if not block.closed:
                    raise ValueError(f"{where}: no closing {ACTION_CLOSE}")
                calls.extend(self._read_list(load_object(block.inner.strip(), where), where))
            except ValueError as exc:
                errors.append(str(exc))
                kept.append(text[block.start : block.end])
            pos = block.end
        kept.append(text[pos:])
        content = "".join(kept)
        for marker in THINKING:  # the plan before the calls is the message's text
            content = content.replace(marker, "")
        return ParsedToolCalls(join_content([content]), tuple(calls), tuple(errors))

    def _read_list(self, value: Any, where: str) -> list[ToolCall]:
        objects = value if isinstance(value, list) else [value]
        out = []
        for k, obj in enumerate(objects):
            if isinstance(obj, Mapping) and "tool_name" in obj:
                obj = {"name": obj["tool_name"], "parameters": obj.get("parameters", {})}
            out.append(call_from_object(obj, f"{where}[{k}]", args_key="parameters"))
        return out

    def _parse_actions(self, text: str) -> ParsedToolCalls:
        decoder = json.JSONDecoder()
        calls: list[ToolCall] = []
        errors: list[str] = []
        kept: list[str] = []
        pos = 0
        starts = [m for m in _ACTION.finditer(text)]
        for n, m in enumerate(starts):
            if m.start() < pos:
                continue
            kept.append(text[pos : m.start()])
            where = f"{self.name} action {n}"
            nxt = starts[n + 1].start() if n + 1 < len(starts) else len(text)
            try:
                value, end = decoder.raw_decode(text, m.end())
            except json.JSONDecodeError as exc:
                errors.append(f"{where}: invalid JSON ({exc.msg} at char {exc.pos - m.end()})")
                kept.append(text[m.start() : nxt])
                pos = nxt
                continue
            close = re.match(r"\s*```", text[end:])
            end += close.end() if close else 0
            try:
                calls.extend(self._read_list(value, where))
            except ValueError as exc:
                errors.append(str(exc))
                kept.append(text[m.start() : end])
            pos = end
        kept.append(text[pos:])
        return ParsedToolCalls(join_content(kept), tuple(calls), tuple(errors))

    # -- definitions and results ----------------------------------------------------------------
    def format_definitions(self, tools: Sequence[Mapping[str, Any]]) -> str:
        if self.version == "r7b":
            lines = []
            for t in tools:
                fn = function_of(t)
                lines.append(
                    f'    {{"name": "{fn.get("name")}", "description": "{fn.get("description")}", '
                    f'"parameters": {dumps(fn.get("parameters"))}, "responses": null}}'
                )
            return "```json\n[\n" + ",\n".join(lines) + ("\n" if lines else "") + "]\n```"
        return "\n\n".join(_python_def(t, i) for i, t in enumerate(tools))

    def format_results(self, results: Sequence[Message]) -> str:
        if self.version == "r7b":
            items = [
                f'    {{\n        "tool_call_id": "{i}",\n        "results": {{\n            "0": '
                f'{dumps(m.text)}\n        }},\n        "is_error": null\n    }}'
                for i, m in enumerate(results)
            ]
            return "<|START_TOOL_RESULT|>[\n" + ",\n".join(items) + "\n]<|END_TOOL_RESULT|>"
        return "".join(
            f"<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|><results>\n{m.text.strip()}</results><|END_OF_TURN_TOKEN|>"
            for m in results
        )


def _jinja_indent(text: str, width: int) -> str:
    """Jinja's ``indent`` filter (``first=False``, ``blank=False``), quirks included."""
    lines = (text + "\n").splitlines()
    out = lines.pop(0)
    if lines:
        out += "\n" + "\n".join(" " * width + line if line else line for line in lines)
    return out


def _python_def(tool: Mapping[str, Any], index: int) -> str:
    """One tool as the ``new_tool_parser`` macro of the Command R ``tool_use`` template writes it."""
    fn = function_of(tool)
    name, description = fn.get("name"), fn.get("description")
    where = f"command_r: tools[{index}] ({name})"
    if not isinstance(name, str) or not isinstance(description, str):
        raise ToolFormatError(
            f"{where} needs a string 'name' and 'description' (the template concatenates them)"
        )
    params = fn.get("parameters") or {}
    props = params.get("properties") or {}
    required = params.get("required") or []

    def typed(p: str, spec: Any) -> str:
        t = _py_type(spec, where)
        return t if p in required else f"Optional[{t}]"

    sig = ", ".join(f"{p}: {typed(p, s)}" + ("" if p in required else " = None") for p, s in props.items())
    out = f'```python\ndef {name}({sig}) -> List[Dict]:\n    """{description}'
    if props:
        args = []
        for p, spec in props.items():
            desc = spec.get("description") if isinstance(spec, Mapping) else None
            if not isinstance(desc, str):
                raise ToolFormatError(
                    f"{where}: parameter {p!r} needs a string 'description' (the template concatenates it)"
                )
            args.append(f"{p} ({typed(p, spec)}): {desc}")
        out += "\n\n    Args:\n        " + "\n        ".join(args)
    return out + '\n    """\n    pass\n```'


def _py_type(spec: Any, where: str) -> str:
    """The template's ``json_to_python_type`` macro, quirks included (a missing schema is ``Union[]``)."""
    kind = spec.get("type") if isinstance(spec, Mapping) else None
    if isinstance(kind, str) and kind in _PY_TYPES:
        return _PY_TYPES[kind]
    if kind == "array":  # ``json_spec.items`` is the dict's ``items`` method, which has no ``type``
        return "List[Union[]]"
    if kind == "object":
        if "additionalProperties" not in spec:  # the template reads ``.type`` of it and fails
            raise ToolFormatError(
                f"{where}: a JSON object needs 'additionalProperties' for the Command R template"
            )
        return f"Dict[str, {_py_type(spec['additionalProperties'], where)}]"
    if kind is None:
        return "Union[]"
    if isinstance(kind, list):
        return "Union[" + ",".join(_py_type({"type": t}, where) for t in kind) + "]"
    if isinstance(kind, str):
        raise ToolFormatError(f"{where}: JSON type {kind!r} makes the Command R template recurse forever")
    return "Any"
