"""``<tool_call>`` JSON tool calls: Hermes-2-Pro / Hermes-3, Qwen2.5, Qwen3, QwQ (``hermes`` and ``qwen``).

A call is ``<tool_call>\\n{"name": "f", "arguments": {...}}\\n</tool_call>``; parallel calls are joined
by ``"\\n"``. What comes before the first call depends on the template, not the format, so it is left
to the caller: Qwen2.5 / QwQ / Hermes write ``"\\n"`` before every call (also the first, after the
role header), Qwen3 writes ``"\\n"`` before the first call only when the message has text content.

The two names differ in the tool definitions and results (see :class:`HermesToolFormat`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tunesmith.templates.messages import Message, ToolCall
from tunesmith.templates.tools.base import (
    Block,
    ParsedToolCalls,
    ToolFormatError,
    call_from_object,
    dumps,
    find_blocks,
    function_of,
    load_object,
    parse_blocks,
)

CALL_OPEN = "<tool_call>"
CALL_CLOSE = "</tool_call>"

QWEN_TOOLS_HEAD = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
)
QWEN_TOOLS_TAIL = (
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
    '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": '
    "<args-json-object>}\n</tool_call>"
)

HERMES_TOOLS_HEAD = (
    "You are a function calling AI model. You are provided with function signatures within <tools></tools> "
    "XML tags. You may call one or more functions to assist with the user query. Don't make assumptions about "
    "what values to plug into functions. Here are the available tools: <tools> "
)
HERMES_TOOLS_TAIL = (
    " </tools>Use the following pydantic model json schema for each tool call you will make: "
    '{"properties": {"name": {"title": "Name", "type": "string"}, "arguments": {"title": "Arguments", '
    '"type": "object"}}, "required": ["name", "arguments"], "title": "FunctionCall", "type": "object"}}\n'
    "For each function call return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags as follows:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-dict>}\n</tool_call>'
)

_PY_TYPES = {"string": "str", "number": "float", "integer": "int", "boolean": "bool"}


@dataclass(frozen=True)
class HermesToolFormat:
    """``<tool_call>`` JSON calls with Qwen-style or Hermes-style definitions.

    ``definitions="qwen"`` (Qwen2.5, Qwen3, QwQ): :meth:`format_definitions` returns the block from
    ``# Tools`` to the closing ``</tool_call>`` of the instructions; Qwen2.5/QwQ put it after the system
    text (or Qwen2.5's default system prompt) and ``"\\n\\n"``, Qwen3 after the system text and ``"\\n\\n"``
    when there is a system message, else at the start of the system turn.

    ``definitions="hermes"`` (Hermes-2-Pro, Hermes-3 ``tool_use`` template): the whole content of the
    first system turn, from ``You are a function calling AI model`` to ``</tool_call>``; the user's own
    system message becomes a separate system turn. The tool descriptions are rewritten into Python-style
    signatures exactly as the template does it (including its unbalanced braces).
    """

    name: str = "qwen"
    definitions: Literal["qwen", "hermes"] = "qwen"

    def format_calls(self, calls: Sequence[ToolCall]) -> str:
        return "\n".join(
            f'{CALL_OPEN}\n{{"name": "{c.name}", "arguments": {dumps(c.arguments)}}}\n{CALL_CLOSE}'
            for c in calls
        )

    def parse_calls(self, text: str) -> ParsedToolCalls:
        blocks = list(find_blocks(text, CALL_OPEN, CALL_CLOSE))
        return parse_blocks(text, blocks, self._read)

    def _read(self, block: Block, index: int) -> ToolCall:
        where = f"{self.name} tool call {index}"
        return call_from_object(load_object(block.inner.strip(), where), where)

    def format_definitions(self, tools: Sequence[Mapping[str, Any]]) -> str:
        if self.definitions == "qwen":
            return QWEN_TOOLS_HEAD + "".join("\n" + dumps(t) for t in tools) + QWEN_TOOLS_TAIL
        return (
            HERMES_TOOLS_HEAD + "\n".join(_hermes_tool(t, i) for i, t in enumerate(tools)) + HERMES_TOOLS_TAIL
        )

    def format_results(self, results: Sequence[Message]) -> str:
        """Qwen: what follows ``<|im_start|>user`` up to ``<|im_end|>``. Hermes: what follows
        ``<|im_start|>tool\\n`` up to ``<|im_end|>`` when more messages follow the results (the usual case;
        the template drops the final ``"\\n"`` when the conversation ends with them)."""
        if self.definitions == "qwen":
            return "".join(f"\n<tool_response>\n{m.text}\n</tool_response>" for m in results)
        return "".join(f"<tool_response>\n{m.text}\n</tool_response>\n" for m in results)


def _hermes_tool(tool: Mapping[str, Any], index: int) -> str:
    fn = function_of(tool)
    name = fn.get("name")
    description = fn.get("description")
    if not isinstance(name, str) or not isinstance(description, str):
        raise ToolFormatError(
            f"hermes: tools[{index}] needs a string 'name' and 'description' (the template concatenates them)"
        )
    params = fn.get("parameters") or {}
    props = params.get("properties") or {}
    where = f"hermes: tools[{index}] ({name})"
    sig = ", ".join(f"{p}: {_py_type(spec, where)}" for p, spec in props.items())
    out = f'{{"type": "function", "function": {{"name": "{name}", "description": "{name}({sig})'
    returns = fn.get("return")
    if returns is not None:
        out += " -> " + _py_type(returns, where)
    out += " - " + description + "\n\n"
    for i, (p, spec) in enumerate(props.items()):
        if i == 0:
            out += "    Args:\n"
        desc = spec.get("description", "") if isinstance(spec, Mapping) else ""
        out += f"        {p}({_py_type(spec, where)}): {str(desc).strip()}"
    if isinstance(returns, Mapping) and "description" in returns:
        out += "\n    Returns:\n        " + str(returns["description"])
    out += '", "parameters": ' + ("{}" if not props else dumps(params)) + "}"
    return out


def _py_type(spec: Any, where: str) -> str:
    """The template's ``json_to_python_type`` macro, quirks included."""
    kind = spec.get("type") if isinstance(spec, Mapping) else None
    if isinstance(kind, str) and kind in _PY_TYPES:
        return _PY_TYPES[kind]
    if kind == "array":
        # The template passes ``json_spec|items`` (key/value pairs) to itself, which has no ``type``.
        return "list[Union[]]"
    if kind == "object":
        extra = spec.get("additionalProperties")
        return "dict" if extra is None else f"dict[str, {_py_type(extra, where)}]"
    if kind is None:
        return "Union[]"  # an undefined type is iterable (and empty) in Jinja
    if isinstance(kind, list):
        return "Union[" + ",".join(_py_type({"type": t}, where) for t in kind) + "]"
    if isinstance(kind, str):
        raise ToolFormatError(f"{where}: JSON type {kind!r} makes the Hermes template recurse forever")
    return "Any"
