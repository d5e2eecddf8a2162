"""GLM tool calling: GLM-4-9B-Chat (``glm4``) and GLM-4.5 / GLM-4.6 (``glm4_moe``).

- ``glm4``: the call is the assistant turn's metadata line and content: ``f\\n{"k": "v"}`` right after
  ``<|assistant|>``. The template has no parallel calls (one call per assistant turn); several calls are
  written as consecutive assistant turns, joined by ``<|assistant|>``.
- ``glm4_moe``: ``<tool_call>f\\n<arg_key>k</arg_key>\\n<arg_value>v</arg_value>\\n</tool_call>``, parallel
  calls joined by ``"\\n"`` (the template writes another ``"\\n"`` before the first call). String values
  are written raw, other values as JSON, so ``"3"`` and ``3`` look the same: :meth:`Glm4MoeToolFormat.
  parse_calls` reads values as JSON where they parse, unless the tool schema (``tools=``) says the
  parameter is a string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tunesmith.templates.messages import Message, ToolCall
from tunesmith.templates.tools.base import (
    Block,
    ParsedToolCalls,
    ToolFormatError,
    call_from_object,
    dumps,
    find_blocks,
    function_of,
    join_content,
    load_object,
    parse_blocks,
)

ASSISTANT = "<|assistant|>"
GLM4_SYSTEM = (
    "你是一个名为 ChatGLM 的人工智能助手。你是基于智谱AI训练的语言模型 GLM-4 模型开发的，"
    "你的任务是针对用户的问题和要求提供适当的答复和支持。\n\n# 可用工具"
)
GLM4_TOOL_SUFFIX = "\n在调用上述函数时，请使用 Json 格式表示调用的参数。"

GLM4_MOE_TOOLS_HEAD = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
)
GLM4_MOE_TOOLS_TAIL = (
    "</tools>\n\nFor each function call, output the function name and arguments within the following XML format:"
    "\n<tool_call>{function-name}\n<arg_key>{arg-key-1}</arg_key>\n<arg_value>{arg-value-1}</arg_value>"
    "\n<arg_key>{arg-key-2}</arg_key>\n<arg_value>{arg-value-2}</arg_value>\n...\n</tool_call>"
)
CALL_OPEN = "<tool_call>"
CALL_CLOSE = "</tool_call>"
_ARG = re.compile(r"<arg_key>(.*?)</arg_key>\s*<arg_value>(.*?)</arg_value>", re.DOTALL)
_NAME_LINE = re.compile(r"[^\s{}<>]+")


@dataclass(frozen=True)
class Glm4ToolFormat:
    """GLM-4-9B-Chat.

    :meth:`format_definitions` returns the whole system text the template writes when a message carries
    ``tools`` (the template reads them from a message's ``tools`` key, not from the ``tools`` argument):
    the fixed ChatGLM introduction, ``# 可用工具`` and one section per function tool. It follows
    ``<|system|>\\n``. Built-in GLM tools (``python``, ``simple_browser``, ``cogview``) are refused.
    """

    name: str = "glm4"

    def format_calls(self, calls: Sequence[ToolCall]) -> str:
        return ASSISTANT.join(f"{c.name}\n{dumps(c.arguments)}" for c in calls)

    def parse_calls(self, text: str) -> ParsedToolCalls:
        calls: list[ToolCall] = []
        errors: list[str] = []
        kept: list[str] = []
        for i, piece in enumerate(text.split(ASSISTANT)):
            head, sep, rest = piece.partition("\n")
            if not sep or not _NAME_LINE.fullmatch(head) or not rest.lstrip().startswith("{"):
                kept.append(piece)
                continue
            where = f"{self.name} tool call {i}"
            try:
                obj = {"name": head, "arguments": load_object(rest.strip(), where)}
                calls.append(call_from_object(obj, where))
            except ValueError as exc:
                errors.append(str(exc))
                kept.append(piece)
        if not calls and not errors:
            return ParsedToolCalls(text.strip())
        return ParsedToolCalls(join_content(kept), tuple(calls), tuple(errors))

    def format_definitions(self, tools: Sequence[Mapping[str, Any]]) -> str:
        out = GLM4_SYSTEM
        for i, tool in enumerate(tools):
            kind = tool.get("type", "function") if "function" in tool else "function"
            if kind != "function":
                raise ToolFormatError(
                    f"glm4: tools[{i}] has type {kind!r}; only function tools are supported"
                )
            fn = function_of(tool)
            out += (
                f"\n## {fn.get('name')}\n\n"
                + json.dumps(dict(fn), ensure_ascii=False, indent=4)
                + GLM4_TOOL_SUFFIX
            )
        return out

    def format_results(self, results: Sequence[Message]) -> str:
        """What follows the first ``<|observation|>``: one observation turn per result."""
        return "<|observation|>".join("\n" + m.text for m in results)


@dataclass(frozen=True)
class Glm4MoeToolFormat:
    """GLM-4.5 / GLM-4.6 XML-style calls.

    :meth:`format_definitions` returns the system text from ``# Tools`` to the closing ``</tool_call>`` of
    the instructions; the template writes it right after ``[gMASK]<sop><|system|>\\n`` as a system turn of
    its own (the user's system message follows as a second ``<|system|>`` turn).
    """

    name: str = "glm4_moe"

    def format_calls(self, calls: Sequence[ToolCall]) -> str:
        return "\n".join(
            f"{CALL_OPEN}{c.name}\n"
            + "".join(
                f"<arg_key>{k}</arg_key>\n<arg_value>{v if isinstance(v, str) else dumps(v)}</arg_value>\n"
                for k, v in c.arguments.items()
            )
            + CALL_CLOSE
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
        head, _, body = block.inner.partition("\n")
        if "<arg_key>" in head:
            head, body = head[: head.index("<arg_key>")], head[head.index("<arg_key>") :] + "\n" + body
        name = head.strip()
        args: dict[str, Any] = {}
        strings = string_params.get(name, set())
        for match in _ARG.finditer(body):
            key, raw = match.group(1).strip(), match.group(2)
            args[key] = raw if key in strings else _value(raw)
        leftover = _ARG.sub("", body).strip()
        if leftover:
            raise ValueError(f"{where}: unreadable text between arguments: {leftover[:60]!r}")
        return call_from_object({"name": name, "arguments": args}, where)

    def format_definitions(self, tools: Sequence[Mapping[str, Any]]) -> str:
        return GLM4_MOE_TOOLS_HEAD + "".join(dumps(t) + "\n" for t in tools) + GLM4_MOE_TOOLS_TAIL

    def format_results(self, results: Sequence[Message]) -> str:
        """What follows ``<|observation|>`` for a run of tool results with string content."""
        return "".join(f"\n<tool_response>\n{m.text}\n</tool_response>" for m in results)


def _value(raw: str) -> Any:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return raw
    return raw if isinstance(value, str) else value


def _string_params(tools: Sequence[Mapping[str, Any]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for tool in tools:
        fn = function_of(tool)
        props = (fn.get("parameters") or {}).get("properties") or {}
        out[str(fn.get("name"))] = {
            k for k, spec in props.items() if isinstance(spec, Mapping) and spec.get("type") == "string"
        }
    return out
