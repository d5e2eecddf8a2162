"""OpenAI gpt-oss (harmony) tool calls (``gpt_oss``).

The official template writes a call as its own assistant message,
``<|start|>assistant to=functions.NAME<|channel|>commentary json<|message|>{args}<|call|>``, with the
arguments as ``tojson``. :meth:`GptOssToolFormat.format_calls` returns what follows the first
``<|start|>assistant`` (the turn header, which is also the generation prompt): ``" to=functions.NAME…
<|call|>"``, further calls joined by ``<|start|>assistant``.

The parser reads that form and the one the harmony renderer and the models themselves write,
``<|channel|>commentary to=functions.NAME <|constrain|>json<|message|>{args}<|call|>`` (recipient after
the channel, optional ``<|constrain|>``), each with or without a leading ``<|start|>assistant``. A final
call whose ``<|call|>`` stop token was cut off is read when its arguments are complete JSON. Text
outside the calls (an ``analysis`` or ``final`` message, with its harmony markers) is left in the
content as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tunesmith.templates.jinja_env import compile_template
from tunesmith.templates.messages import Message, ToolCall
from tunesmith.templates.tools.base import (
    Block,
    ParsedToolCalls,
    ToolFormatError,
    call_from_object,
    dumps,
    load_object,
    parse_blocks,
)

START = "<|start|>assistant"
CALL_END = "<|call|>"
_CALL_START = re.compile(r"(?:<\|start\|>assistant)?\s*(?:<\|channel\|>commentary\s*)?to=functions\.")
_HEADER = re.compile(
    r"(?P<name>[^\s<]*)\s*(?:<\|channel\|>\s*commentary)?\s*(?:<\|constrain\|>)?\s*(?P<ctype>[^\s<]*)\s*<\|message\|>",
)

# The official template's macros, verbatim (tools are rendered as a TypeScript-like namespace).
_TYPESCRIPT = r"""
{%- macro render_typescript_type(param_spec, required_params, is_nullable=false) -%}
    {%- if param_spec.type == "array" -%}
        {%- if param_spec['items'] -%}
            {%- if param_spec['items']['type'] == "string" -%}
                {{- "string[]" }}
            {%- elif param_spec['items']['type'] == "number" -%}
                {{- "number[]" }}
            {%- elif param_spec['items']['type'] == "integer" -%}
                {{- "number[]" }}
            {%- elif param_spec['items']['type'] == "boolean" -%}
                {{- "boolean[]" }}
            {%- else -%}
                {%- set inner_type = render_typescript_type(param_spec['items'], required_params) -%}
                {%- if inner_type == "object | object" or inner_type|length > 50 -%}
                    {{- "any[]" }}
                {%- else -%}
                    {{- inner_type + "[]" }}
                {%- endif -%}
            {%- endif -%}
            {%- if param_spec.nullable -%}
                {{- " | null" }}
            {%- endif -%}
        {%- else -%}
            {{- "any[]" }}
            {%- if param_spec.nullable -%}
                {{- " | null" }}
            {%- endif -%}
        {%- endif -%}
    {%- elif param_spec.type is defined and param_spec.type is iterable and param_spec.type is not string and param_spec.type is not mapping and param_spec.type[0] is defined -%}
        {%- if param_spec.type | length > 1 -%}
            {{- param_spec.type | join(" | ") }}
        {%- else -%}
            {{- param_spec.type[0] }}
        {%- endif -%}
    {%- elif param_spec.oneOf -%}
        {%- set has_object_variants = false -%}
        {%- for variant in param_spec.oneOf -%}
            {%- if variant.type == "object" -%}
                {%- set has_object_variants = true -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if has_object_variants and param_spec.oneOf|length > 1 -%}
            {{- "any" }}
        {%- else -%}
            {%- for variant in param_spec.oneOf -%}
                {{- render_typescript_type(variant, required_params) -}}
                {%- if variant.description %}
                    {{- "// " + variant.description }}
                {%- endif -%}
                {%- if variant.default is defined %}
                    {{ "// default: " + variant.default|tojson }}
                {%- endif -%}
                {%- if not loop.last %}
                    {{- " | " }}
                {% endif -%}
            {%- endfor -%}
        {%- endif -%}
    {%- elif param_spec.type == "string" -%}
        {%- if param_spec.enum -%}
            {{- '"' + param_spec.enum|join('" | "') + '"' -}}
        {%- else -%}
            {{- "string" }}
            {%- if param_spec.nullable %}
                {{- " | null" }}
            {%- endif -%}
        {%- endif -%}
    {%- elif param_spec.type == "number" -%}
        {{- "number" }}
    {%- elif param_spec.type == "integer" -%}
        {{- "number" }}
    {%- elif param_spec.type == "boolean" -%}
        {{- "boolean" }}

    {%- elif param_spec.type == "object" -%}
        {%- if param_spec.properties -%}
            {{- "{\n" }}
            {%- for prop_name, prop_spec in param_spec.properties.items() -%}
                {{- prop_name -}}
                {%- if prop_name not in (param_spec.required or []) -%}
                    {{- "?" }}
                {%- endif -%}
                {{- ": " }}
                {{ render_typescript_type(prop_spec, param_spec.required or []) }}
                {%- if not loop.last -%}
                    {{-", " }}
                {%- endif -%}
            {%- endfor -%}
            {{- "}" }}
        {%- else -%}
            {{- "object" }}
        {%- endif -%}
    {%- else -%}
        {{- "any" }}
    {%- endif -%}
{%- endmacro -%}

{%- macro render_tool_namespace(namespace_name, tools) -%}
    {{- "## " + namespace_name + "\n\n" }}
    {{- "namespace " + namespace_name + " {\n\n" }}
    {%- for tool in tools %}
        {%- set tool = tool.function %}
        {{- "// " + tool.description + "\n" }}
        {{- "type "+ tool.name + " = " }}
        {%- if tool.parameters and tool.parameters.properties %}
            {{- "(_: {\n" }}
            {%- for param_name, param_spec in tool.parameters.properties.items() %}
                {%- if param_spec.description %}
                    {{- "// " + param_spec.description + "\n" }}
                {%- endif %}
                {{- param_name }}
                {%- if param_name not in (tool.parameters.required or []) -%}
                    {{- "?" }}
                {%- endif -%}
                {{- ": " }}
                {{- render_typescript_type(param_spec, tool.parameters.required or []) }}
                {%- if param_spec.default is defined -%}
                    {%- if param_spec.enum %}
                        {{- ", // default: " + param_spec.default }}
                    {%- elif param_spec.oneOf %}
                        {{- "// default: " + param_spec.default }}
                    {%- else %}
                        {{- ", // default: " + param_spec.default|tojson }}
                    {%- endif -%}
                {%- endif -%}
                {%- if not loop.last %}
                    {{- ",\n" }}
                {%- else %}
                    {{- ",\n" }}
                {%- endif -%}
            {%- endfor %}
            {{- "}) => any;\n\n" }}
        {%- else -%}
            {{- "() => any;\n\n" }}
        {%- endif -%}
    {%- endfor %}
    {{- "} // namespace " + namespace_name }}
{%- endmacro -%}
{{- "# Tools\n\n" }}
{{- render_tool_namespace("functions", tools) }}"""


@dataclass(frozen=True)
class GptOssToolFormat:
    """gpt-oss-20b / gpt-oss-120b.

    :meth:`format_definitions` returns the tools part of the developer message, from ``# Tools`` to
    ``} // namespace functions`` (the template writes it after ``<|start|>developer<|message|>`` and the
    ``# Instructions`` block, if any, and closes the message with ``<|end|>``); the system message then
    ends with ``Calls to these tools must go to the commentary channel: 'functions'.``
    """

    name: str = "gpt_oss"

    def format_calls(self, calls: Sequence[ToolCall]) -> str:
        return START.join(
            f" to=functions.{c.name}<|channel|>commentary json<|message|>{dumps(c.arguments)}{CALL_END}"
            for c in calls
        )

    def parse_calls(self, text: str) -> ParsedToolCalls:
        starts = list(_CALL_START.finditer(text))
        blocks: list[Block] = []
        for k, match in enumerate(starts):
            limit = starts[k + 1].start() if k + 1 < len(starts) else len(text)
            end = text.find(CALL_END, match.end(), limit)
            if end < 0:
                blocks.append(Block(match.start(), limit, text[match.end() : limit], closed=False))
            else:
                blocks.append(Block(match.start(), end + len(CALL_END), text[match.end() : end]))
        return parse_blocks(text, blocks, self._read)

    def _read(self, block: Block, index: int) -> ToolCall:
        where = f"{self.name} tool call {index}"
        header = _HEADER.match(block.inner)
        if header is None:
            raise ValueError(f"{where}: expected 'to=functions.NAME<|channel|>commentary json<|message|>'")
        name = header.group("name")
        if not name:
            raise ValueError(f"{where}: no function name after 'to=functions.'")
        args_text = block.inner[header.end() :].strip()
        if not block.closed and not args_text:
            raise ValueError(f"{where}: missing {CALL_END} (truncated output?)")
        args = load_object(args_text, where) if args_text else {}
        return call_from_object({"name": name, "arguments": args}, where)

    def format_definitions(self, tools: Sequence[Mapping[str, Any]]) -> str:
        for i, tool in enumerate(tools):
            fn = tool.get("function")
            if not isinstance(fn, Mapping) or not isinstance(fn.get("description"), str):
                raise ToolFormatError(
                    f"gpt_oss: tools[{i}] needs the OpenAI form with a string 'function.description' "
                    "(the template concatenates it)"
                )
        return str(compile_template(_TYPESCRIPT).render(tools=[dict(t) for t in tools]))

    def format_results(self, results: Sequence[Message]) -> str:
        """One ``<|start|>functions.NAME to=assistant<|channel|>commentary<|message|>"…"<|end|>`` message
        per result, the content as a JSON string. The template takes NAME from the most recent call (it
        writes only the first call of a message); here it is each result's ``name``, which is required."""
        out = []
        for i, m in enumerate(results):
            if not m.name:
                raise ToolFormatError(f"gpt_oss: results[{i}] needs the function's name (Message.name)")
            out.append(
                f"<|start|>functions.{m.name} to=assistant<|channel|>commentary<|message|>{dumps(m.text)}<|end|>"
            )
        return "".join(out)
