"""Nous Hermes: Hermes-2-Pro (Llama-3 / Mistral) and Hermes-3 (Llama-3.1): BOS + ChatML.

Hermes models share the ``llama`` / ``mistral`` model types with their base models, so this family
claims no model type; pick the groups by name.

Conformance against the shared corpus: ``hermes`` vs hermes-2-pro-llama-3-8b, ``hermes3`` vs
hermes-3-llama-3_1-70b — every battery shape. The models ship two named templates, ``default`` (used
without tools) and ``tool_use`` (used with ``tools=``); the declarative templates follow both: with tool
definitions, a fixed system turn lists each tool as a Python-style signature (the snippets below are the
official macros), the conversation's own system message follows as a turn of its own, Hermes 3's default
system prompt is not written, an assistant's text content next to tool calls is dropped, and a run of
tool results is one ``tool`` turn closed by ``<|im_end|>`` without a newline. Without tool definitions
(``default``), tool calls are dropped and tool results are plain ``tool`` turns — as the official
template does.
"""

from tunesmith.families.spec import Catalog, Family, ModelGroup
from tunesmith.templates.declarative import DeclarativeTemplate, ToolSnippets

_PYTHON_TYPE = """{%- macro json_to_python_type(json_spec) %}
{%- set basic_type_map = {"string": "str", "number": "float", "integer": "int", "boolean": "bool"} %}
{%- if basic_type_map[json_spec.type] is defined %}
    {{- basic_type_map[json_spec.type] }}
{%- elif json_spec.type == "array" %}
    {{- "list[" +  json_to_python_type(json_spec|items) + "]"}}
{%- elif json_spec.type == "object" %}
    {%- if json_spec.additionalProperties is defined %}
        {{- "dict[str, " + json_to_python_type(json_spec.additionalProperties) + ']'}}
    {%- else %}
        {{- "dict" }}
    {%- endif %}
{%- elif json_spec.type is iterable %}
    {{- "Union[" }}
    {%- for t in json_spec.type %}
      {{- json_to_python_type({"type": t}) }}
      {%- if not loop.last %}
        {{- "," }}
    {%- endif %}
    {%- endfor %}
    {{- "]" }}
{%- else %}
    {{- "Any" }}
{%- endif %}
{%- endmacro %}"""

_DEFINITIONS = """
{{- '<|im_start|>system\n' }}
{{- "You are a function calling AI model. You are provided with function signatures within <tools></tools> \
XML tags. You may call one or more functions to assist with the user query. Don't make assumptions about what \
values to plug into functions. Here are the available tools: <tools> " }}
{%- for tool in tools %}
    {%- if tool.function is defined %}
        {%- set tool = tool.function %}
    {%- endif %}
    {{- '{"type": "function", "function": ' }}
    {{- '{"name": "' + tool.name + '", ' }}
    {{- '"description": "' + tool.name + '(' }}
    {%- for param_name, param_fields in tool.parameters.properties|items %}
        {{- param_name + ": " + json_to_python_type(param_fields) }}
        {%- if not loop.last %}
            {{- ", " }}
        {%- endif %}
    {%- endfor %}
    {{- ")" }}
    {%- if tool.return is defined %}
        {{- " -> " + json_to_python_type(tool.return) }}
    {%- endif %}
    {{- " - " + tool.description + "\n\n" }}
    {%- for param_name, param_fields in tool.parameters.properties|items %}
        {%- if loop.first %}
            {{- "    Args:\n" }}
        {%- endif %}
        {{- "        " + param_name + "(" + json_to_python_type(param_fields) + "): " + param_fields.description|trim }}
    {%- endfor %}
    {%- if tool.return is defined and tool.return.description is defined %}
        {{- "\n    Returns:\n        " + tool.return.description }}
    {%- endif %}
    {{- '"' }}
    {{- ', "parameters": ' }}
    {%- if tool.parameters.properties | length == 0 %}
        {{- "{}" }}
    {%- else %}
        {{- tool.parameters|tojson }}
    {%- endif %}
    {{- "}" }}
    {%- if not loop.last %}
        {{- "\n" }}
    {%- endif %}
{%- endfor %}
{{- " </tools>" }}
{{- 'Use the following pydantic model json schema for each tool call you will make: {"properties": {"name": \
{"title": "Name", "type": "string"}, "arguments": {"title": "Arguments", "type": "object"}}, "required": \
["name", "arguments"], "title": "FunctionCall", "type": "object"}}\n' }}
{{- "For each function call return a json object with function name and arguments within \
<tool_call></tool_call> XML tags as follows:\n" }}
{{- "<tool_call>\n" }}
{{- '{"name": <function-name>, "arguments": <args-dict>}\n' }}
{{- '</tool_call><|im_end|>\n' }}"""

_HEADER = """{{- '<|im_start|>assistant' + ('' if tools and m.tool_calls is defined else '\n') }}"""

_CALLS = """
{%- if not tools %}
    {{- content }}
{%- else %}
    {%- for tool_call in m.tool_calls %}
        {{- '\n<tool_call>\n' }}
        {%- if tool_call.function is defined %}
            {%- set tool_call = tool_call.function %}
        {%- endif %}
        {{- '{"name": "' + tool_call.name + '", ' }}
        {%- if tool_call.arguments is defined %}
            {{- '"arguments": ' }}
            {%- if tool_call.arguments is string %}
                {{- tool_call.arguments }}
            {%- else %}
                {{- tool_call.arguments|tojson }}
            {%- endif %}
        {%- endif %}
        {{- '}' }}
        {{- '\n</tool_call>' }}
    {%- endfor %}
{%- endif %}"""

_TOOL = """
{%- if not tools %}
    {{- '<|im_start|>tool\n' + m.content + '<|im_end|>\n' }}
{%- else %}
    {%- if i > 0 and body[i - 1].role != "tool" %}
        {{- '<|im_start|>tool\n' }}
    {%- endif %}
    {{- '<tool_response>\n' + m.content }}
    {{- '\n</tool_response>' + ('' if i == body | length - 1 else '\n') }}
    {%- if i == body | length - 1 or body[i + 1].role != "tool" %}
        {{- '<|im_end|>' }}
    {%- endif %}
{%- endif %}"""

_SNIPPETS = ToolSnippets(
    definitions=_DEFINITIONS, header=_HEADER, calls=_CALLS, tool=_TOOL, helpers=_PYTHON_TYPE
)

_CHATML = dict(
    prefix="{bos_token}",
    system="<|im_start|>system\n{content}<|im_end|>\n",
    user="<|im_start|>user\n{content}<|im_end|>\n",
    assistant="<|im_start|>assistant\n{content}<|im_end|>\n",
    stop_words=("<|im_end|>",),
    family="hermes",
    tool_format="hermes",
    tools_block="{tools}",
    default_system_with_tools=False,
    snippets=_SNIPPETS,
)

HERMES = DeclarativeTemplate(
    name="hermes",
    notes="Hermes-2-Pro default template: BOS + ChatML, no default system prompt. With tools, the tool_use template.",
    **_CHATML,
)

HERMES3 = DeclarativeTemplate(
    name="hermes3",
    default_system="You are a helpful assistant.",
    notes="Hermes-3 default template: BOS + ChatML with a default system prompt. With tools, the tool_use template.",
    **_CHATML,
)

FAMILY = Family(
    name="hermes",
    templates=(HERMES, HERMES3),
    default_template="hermes3",
    references={"hermes": "hermes-2-pro-llama-3-8b", "hermes3": "hermes-3-llama-3_1-70b"},
    groups=(
        ModelGroup("Hermes-2-Pro-Llama-3-8B", "NousResearch/Hermes-2-Pro-Llama-3-8B", None, "hermes"),
        ModelGroup("Hermes-2-Pro-Mistral-7B", "NousResearch/Hermes-2-Pro-Mistral-7B", None, "hermes"),
        ModelGroup("Hermes-3-Llama-3.1-8B", "NousResearch/Hermes-3-Llama-3.1-8B", None, "hermes3"),
        ModelGroup("Hermes-3-Llama-3.1-70B", "NousResearch/Hermes-3-Llama-3.1-70B", None, "hermes3"),
    ),
)


def register(catalog: Catalog) -> None:
    catalog.add_family(FAMILY)
