"""Qwen3-Coder XML tool calls (``qwen3_coder``).

A call is ``<tool_call>\\n<function=NAME>\\n<parameter=KEY>\\nVALUE\\n</parameter>\\n</function>\\n</tool_call>``
with one ``<parameter=...>`` block per argument; parallel calls are joined by ``"\\n"``. The official
template writes ``"\\n"`` before every call (also the first, right after ``<|im_start|>assistant``) and
puts a message's text content, trimmed, between ``"\\n"`` and ``"\\n"`` before the calls; that is left to
the caller.

String values are written raw; other values with Jinja's ``string`` filter, i.e. Python's ``str()``
(``True``, ``None``, ``{'k': 'v'}``), so ``"3"`` and ``3`` look the same: :meth:`Qwen3CoderToolFormat.
parse_calls` reads a value as JSON (or, for ``{...}``/``[...]``/``True``/``False``/``None``, as the
Python literal the template wrote) where it parses, unless the tool schema (``tools=``) says the
parameter is a string.
"""

from __future__ import annotations

import ast
import json
import re
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
    parse_blocks,
)

CALL_OPEN = "<tool_call>"
CALL_CLOSE = "</tool_call>"
DEFAULT_SYSTEM = "You are Qwen, a helpful AI assistant that can interact with a computer to solve tasks."
"""The system text the official template writes when tools are given and the conversation has no system
message (without tools it writes no system turn)."""
TOOLS_HEAD = "You have access to the following functions:\n\n<tools>"
TOOLS_TAIL = (
    "\n</tools>\n\nIf you choose to call a function ONLY reply in the following format with NO suffix:\n\n"
    "<tool_call>\n<function=example_function_name>\n<parameter=example_parameter_1>\nvalue_1\n</parameter>\n"
    "<parameter=example_parameter_2>\nThis is the value for the second parameter\nthat can span\nmultiple lines\n"
    "</parameter>\n</function>\n</tool_call>\n\n<IMPORTANT>\nReminder:\n- Function calls MUST follow the "
    "specified format: an inner <function=...></function> block must be nested within <tool_call></tool_call> "
    "XML tags\n- Required parameters MUST be specified\n- You may provide optional reasoning for your function "
    "call in natural language BEFORE the function call, but NOT after\n- If there is no function call "
    "available, answer the question like normal with your current knowledge and do not tell the user about "
    "function calls\n</IMPORTANT>"
)
_HANDLED = ("type", "description", "enum", "required")
_FUNCTION = re.compile(r"\s*<function=([^>\n]*)>")
_PARAM = re.compile(r"<parameter=([^>\n]*)>(.*?)</parameter>", re.DOTALL)
_PY_LITERALS = {"True": True, "False": False, "None": None}


@dataclass(frozen=True)
class Qwen3CoderToolFormat:
    """Qwen3-Coder (Qwen3-Coder-30B-A3B-Instruct, Qwen3-Coder-480B-A35B-Instruct).

    :meth:`format_definitions` returns the system text from ``You have access to the following
    functions`` to the closing ``</IMPORTANT>``; the template writes it after the system text (or
    :data:`DEFAULT_SYSTEM`) and ``"\\n\\n"``, inside the system turn.
    """

    name: str = "qwen3_coder"

    def format_calls(self, calls: Sequence[ToolCall]) -> str:
        return "\n".join(
            f"{CALL_OPEN}\n<function={c.name}>\n"
            + "".join(f"<parameter={k}>\n{_jinja_string(v)}\n</parameter>\n" for k, v in c.arguments.items())
            + f"</function>\n{CALL_CLOSE}"
            for c in calls
        )

    def parse_calls(self, text: str, tools: Sequence[Mapping[str, Any]] | None = None) -> ParsedToolCalls:
        """``tools``: the tool definitions, used to keep string parameters as strings."""
        string_params = _string_params(tools or ())
        blocks = list(find_blocks(text, CALL_OPEN, CALL_CLOSE))
        return parse_blocks(text, blocks, lambda block, i: self._read(block, i, string_params))

    def _read(self, block: Block, index: int, string_params: Mapping[str, set[str]]) -> ToolCall:
        where = f"{self.name} tool call {index}"
        if not block.closed:
            raise ValueError(f"{where}: missing {CALL_CLOSE} (truncated output?)")
        head = _FUNCTION.match(block.inner)
        if head is None:
            raise ValueError(f"{where}: expected <function=NAME> after {CALL_OPEN}")
        name = head.group(1).strip()
        body = block.inner[head.end() :]
        end = body.rfind("</function>")
        if end < 0:
            raise ValueError(f"{where}: missing </function>")
        after = body[end + len("</function>") :].strip()
        if after:
            raise ValueError(f"{where}: text after </function>: {after[:60]!r}")
        body = body[:end]
        strings = string_params.get(name, set())
        args: dict[str, Any] = {}
        for match in _PARAM.finditer(body):
            key, raw = match.group(1).strip(), _unwrap(match.group(2))
            args[key] = raw if key in strings else _value(raw)
        leftover = _PARAM.sub("", body).strip()
        if leftover:
            raise ValueError(f"{where}: unreadable text between parameters: {leftover[:60]!r}")
        return call_from_object({"name": name, "arguments": args}, where)

    def format_definitions(self, tools: Sequence[Mapping[str, Any]]) -> str:
        return TOOLS_HEAD + "".join(_tool(t) for t in tools) + TOOLS_TAIL

    def format_results(self, results: Sequence[Message]) -> str:
        """What follows ``<|im_start|>user\\n`` up to ``<|im_end|>``: one ``<tool_response>`` block per
        result, each followed by ``"\\n"`` (a run of results shares one user turn)."""
        return "".join(f"<tool_response>\n{m.text}\n</tool_response>\n" for m in results)


def _jinja_string(value: Any) -> str:
    """Jinja's ``string`` filter (``str()``) for non-strings, as the template applies it."""
    return value if isinstance(value, str) else str(value)


def _unwrap(raw: str) -> str:
    """The value between ``<parameter=K>`` and ``</parameter>``, without the one newline on each side."""
    if raw.startswith("\n"):
        raw = raw[1:]
    return raw[:-1] if raw.endswith("\n") else raw


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def _value(raw: str) -> Any:
    """JSON where it parses, else the Python literal the template wrote, else the text itself."""
    text = raw.strip()
    if text in _PY_LITERALS:
        return _PY_LITERALS[text]
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except ValueError:
        value = raw
        if text[:1] in ("{", "[") and len(text) < 100_000:
            try:
                value = _jsonable(ast.literal_eval(text))
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                value = raw
    return raw if isinstance(value, str) else value


def _jsonable(value: Any) -> Any:
    """A literal as JSON would have it: tuples and sets become lists; other types are refused."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise ValueError(f"not a JSON value: {type(value).__name__}")


def _string_params(tools: Sequence[Mapping[str, Any]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for tool in tools:
        fn = function_of(tool)
        props = (fn.get("parameters") or {}).get("properties") or {}
        out[str(fn.get("name"))] = {
            k for k, spec in props.items() if isinstance(spec, Mapping) and spec.get("type") == "string"
        }
    return out


# -- tool definitions, as the template's loop writes them ------------------------------------------------


def _tool(tool: Mapping[str, Any]) -> str:
    fn = function_of(tool)
    out = f"\n<function>\n<name>{_s(fn.get('name'))}</name>"
    out += f"\n<description>{_trim(fn.get('description'))}</description>\n<parameters>"
    params = fn.get("parameters") or {}
    for pname, fields in (params.get("properties") or {}).items():
        out += f"\n<parameter>\n<name>{pname}</name>"
        if "type" in fields:
            out += f"\n<type>{_s(fields['type'])}</type>"
        if "description" in fields:
            out += f"\n<description>{_trim(fields['description'])}</description>"
        out += _item_list(fields.get("enum"), "enum")
        for key in fields:
            if key in _HANDLED:
                continue
            tag = str(key).replace("-", "_").replace(" ", "_").replace("$", "")
            value = fields[key]
            text = dumps(value) if isinstance(value, Mapping) else _s(value)
            out += f"\n<{tag}>{text}</{tag}>"
        out += _item_list(fields.get("required"), "required")
        out += "\n</parameter>"
    out += _item_list(params.get("required"), "required")
    out += "\n</parameters>"
    if "return" in fn:
        ret = fn["return"]
        out += f"\n<return>{dumps(ret) if isinstance(ret, Mapping) else _s(ret)}</return>"
    return out + "\n</function>"


def _item_list(items: Any, tag: str) -> str:
    """The template's ``render_item_list`` macro: ``<tag>[`a`, `b`]</tag>`` for a non-empty list."""
    if items is None or isinstance(items, (int, float, bool)) or not len(items):
        return ""
    parts = [f"`{item}`" if isinstance(item, str) else _s(item) for item in items]
    return f"\n<{tag}>[" + ", ".join(parts) + f"]</{tag}>"


def _s(value: Any) -> str:
    """Jinja's ``string`` filter / ``{{ }}`` output (``None`` prints as ``None``)."""
    return value if isinstance(value, str) else str(value)


def _trim(value: Any) -> str:
    return "" if value is None else _s(value).strip()
