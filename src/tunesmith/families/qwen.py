"""Qwen: Qwen2 / Qwen2-VL (no tools), Qwen2.5 (tools), QwQ (inline reasoning), Qwen3 (thinking),
Qwen3-Coder (XML tool calls)."""

from dataclasses import replace

from tunesmith.families.spec import Catalog, Family, ModelGroup
from tunesmith.templates.declarative import DeclarativeTemplate, ReasoningSpec, ToolSnippets
from tunesmith.templates.tools.qwen3_coder import DEFAULT_SYSTEM as QWEN3_CODER_TOOLS_SYSTEM

TOOLS_SYSTEM = (
    "{system}# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>{tools}\n</tools>\n\n"
    "For each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
)

_CHATML = dict(
    system="<|im_start|>system\n{content}<|im_end|>\n",
    user="<|im_start|>user\n{content}<|im_end|>\n",
    assistant="<|im_start|>assistant\n{content}<|im_end|>\n",
    tool="\n<tool_response>\n{content}\n</tool_response>",
    tool_group=("<|im_start|>user", "<|im_end|>\n"),
    tool_format="hermes",
    inner_system=True,
    tools_system=TOOLS_SYSTEM,
    stop_words=("<|im_end|>",),
    image_token="<|vision_start|><|image_pad|><|vision_end|>",
    video_token="<|vision_start|><|video_pad|><|vision_end|>",
    family="qwen",
)

_CHATML_PLAIN = dict(
    system=_CHATML["system"],
    user=_CHATML["user"],
    assistant=_CHATML["assistant"],
    stop_words=("<|im_end|>",),
    family="qwen",
)

QWEN2 = DeclarativeTemplate(
    name="qwen2",
    tool="<|im_start|>tool\n{content}<|im_end|>\n",
    default_system="You are a helpful assistant.",
    inner_system=True,
    without_tools="ignore",
    notes=(
        "Qwen2-Instruct: ChatML with a default system prompt. Its official template has no tool support: "
        "tool definitions are not written, tool calls are dropped, tool results are 'tool' turns."
    ),
    **_CHATML_PLAIN,
)

QWEN2_VL = replace(
    QWEN2,
    name="qwen2_vl",
    image_token=_CHATML["image_token"],
    video_token=_CHATML["video_token"],
    notes=QWEN2.notes.replace("Qwen2-Instruct", "Qwen2-VL-Instruct")
    + " Not supported declaratively: add_vision_id ('Picture N: ' labels).",
)

QWQ = DeclarativeTemplate(
    name="qwq",
    generation_prompt="<|im_start|>assistant\n<think>\n",
    reasoning=ReasoningSpec(keep="last_message", from_field=False, block_on_last=False, off_generation=""),
    notes=(
        "QwQ: the generation prompt opens <think>. History rule (as the official template): the last message "
        "is rendered as written; earlier assistant turns lose everything up to their last </think> and are "
        "trained on the rest. The official template ignores reasoning_content, so reasoning must be written "
        "inline in the content (<think>...</think>); a reasoning_content field is not rendered."
    ),
    **{
        **_CHATML,
        "tools_system": "{system}\n\n" + TOOLS_SYSTEM.removeprefix("{system}"),
        "tools_system_sep": "",
        "image_token": None,
        "video_token": None,
    },
)

QWEN2_5 = DeclarativeTemplate(
    name="qwen2_5",
    default_system="You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
    **_CHATML,
)

QWEN3 = DeclarativeTemplate(
    name="qwen3",
    reasoning=ReasoningSpec(),
    notes=(
        "Thinking: enable_thinking=False appends an empty <think></think> block to the generation prompt. "
        "History rule (as the official template): reasoning is kept only for assistant turns after the last "
        "user query; earlier turns render without it and so are trained without it."
    ),
    **_CHATML,
)

QWEN3_NOTHINK = replace(
    QWEN3,
    name="qwen3_nothink",
    generation_prompt="<|im_start|>assistant\n<think>\n\n</think>\n\n",
    reasoning=replace(QWEN3.reasoning, off_generation=""),  # already off: enable_thinking=False adds nothing
    notes="Qwen3 with thinking switched off for generation: the official Qwen3 template rendered with "
    "enable_thinking=False.",
)

# Qwen3-Coder: the official template's tool loops, verbatim (one source for render and export).
_CODER_ITEM_LIST = """{%- macro render_item_list(item_list, tag_name='required') %}
    {%- if item_list is defined and item_list is iterable and item_list | length > 0 %}
        {%- if tag_name %}{{- '\\n<' ~ tag_name ~ '>' -}}{% endif %}
            {{- '[' }}
                {%- for item in item_list -%}
                    {%- if loop.index > 1 %}{{- ", "}}{% endif -%}
                    {%- if item is string -%}
                        {{ "`" ~ item ~ "`" }}
                    {%- else -%}
                        {{ item }}
                    {%- endif -%}
                {%- endfor -%}
            {{- ']' }}
        {%- if tag_name %}{{- '</' ~ tag_name ~ '>' -}}{% endif %}
    {%- endif %}
{%- endmacro %}"""

_CODER_DEFINITIONS = """
{{- "You have access to the following functions:\\n\\n" }}
{{- "<tools>" }}
{%- for tool in tools %}
    {%- if tool.function is defined %}
        {%- set tool = tool.function %}
    {%- endif %}
    {{- "\\n<function>\\n<name>" ~ tool.name ~ "</name>" }}
    {{- '\\n<description>' ~ (tool.description | trim) ~ '</description>' }}
    {{- '\\n<parameters>' }}
    {%- for param_name, param_fields in tool.parameters.properties|items %}
        {{- '\\n<parameter>' }}
        {{- '\\n<name>' ~ param_name ~ '</name>' }}
        {%- if param_fields.type is defined %}
            {{- '\\n<type>' ~ (param_fields.type | string) ~ '</type>' }}
        {%- endif %}
        {%- if param_fields.description is defined %}
            {{- '\\n<description>' ~ (param_fields.description | trim) ~ '</description>' }}
        {%- endif %}
        {{- render_item_list(param_fields.enum, 'enum') }}
        {%- set handled_keys = ['type', 'description', 'enum', 'required'] %}
        {%- for json_key in param_fields.keys() | reject("in", handled_keys) %}
            {%- set normed_json_key = json_key | replace("-", "_") | replace(" ", "_") | replace("$", "") %}
            {%- if param_fields[json_key] is mapping %}
                {{- '\\n<' ~ normed_json_key ~ '>' ~ (param_fields[json_key] | tojson | safe) ~ '</' ~ normed_json_key ~ '>' }}
            {%- else %}
                {{-'\\n<' ~ normed_json_key ~ '>' ~ (param_fields[json_key] | string) ~ '</' ~ normed_json_key ~ '>' }}
            {%- endif %}
        {%- endfor %}
        {{- render_item_list(param_fields.required, 'required') }}
        {{- '\\n</parameter>' }}
    {%- endfor %}
    {{- render_item_list(tool.parameters.required, 'required') }}
    {{- '\\n</parameters>' }}
    {%- if tool.return is defined %}
        {%- if tool.return is mapping %}
            {{- '\\n<return>' ~ (tool.return | tojson | safe) ~ '</return>' }}
        {%- else %}
            {{- '\\n<return>' ~ (tool.return | string) ~ '</return>' }}
        {%- endif %}
    {%- endif %}
    {{- '\\n</function>' }}
{%- endfor %}
{{- "\\n</tools>" }}
{{- '\\n\\nIf you choose to call a function ONLY reply in the following format with NO suffix:\\n\\n<tool_call>\\n\
<function=example_function_name>\\n<parameter=example_parameter_1>\\nvalue_1\\n</parameter>\\n\
<parameter=example_parameter_2>\\nThis is the value for the second parameter\\nthat can span\\nmultiple lines\\n\
</parameter>\\n</function>\\n</tool_call>\\n\\n<IMPORTANT>\\nReminder:\\n- Function calls MUST follow the specified \
format: an inner <function=...></function> block must be nested within <tool_call></tool_call> XML tags\\n\
- Required parameters MUST be specified\\n- You may provide optional reasoning for your function call in natural \
language BEFORE the function call, but NOT after\\n- If there is no function call available, answer the question \
like normal with your current knowledge and do not tell the user about function calls\\n</IMPORTANT>' }}"""

# After the fixed header "<|im_start|>assistant\n": the trimmed text content and "\n\n" (when not empty),
# then each call with "\n" before all but the first (the official template writes "\n" before every call).
_CODER_CALLS = """
{%- if content | trim | length > 0 %}
    {{- content | trim + '\\n\\n' }}
{%- endif %}
{%- for tool_call in m.tool_calls %}
    {%- if tool_call.function is defined %}
        {%- set tool_call = tool_call.function %}
    {%- endif %}
    {{- ('' if loop.first else '\\n') + '<tool_call>\\n<function=' + tool_call.name + '>\\n' }}
    {%- if tool_call.arguments is defined %}
        {%- for args_name, args_value in tool_call.arguments|items %}
            {{- '<parameter=' + args_name + '>\\n' }}
            {%- set args_value = args_value if args_value is string else args_value | string %}
            {{- args_value }}
            {{- '\\n</parameter>\\n' }}
        {%- endfor %}
    {%- endif %}
    {{- '</function>\\n</tool_call>' }}
{%- endfor %}"""

# A run of tool results is one user turn; a tool message with nothing before it gets no header (as the
# official template's loop.previtem test).
_CODER_TOOL = """
{%- if i > 0 and body[i - 1].role != "tool" %}
    {{- '<|im_start|>user\\n' }}
{%- endif %}
{{- '<tool_response>\\n' + m.content + '\\n</tool_response>\\n' }}
{%- if i == body | length - 1 or body[i + 1].role != "tool" %}
    {{- '<|im_end|>\\n' }}
{%- endif %}"""


QWEN3_CODER = DeclarativeTemplate(
    name="qwen3_coder",
    system=_CHATML["system"],
    user=_CHATML["user"],
    assistant=_CHATML["assistant"],
    inner_system=True,
    tool_format="qwen3_coder",
    tools_system="{system}{tools}",
    tools_default_system=QWEN3_CODER_TOOLS_SYSTEM,
    snippets=ToolSnippets(
        definitions=_CODER_DEFINITIONS, calls=_CODER_CALLS, tool=_CODER_TOOL, helpers=_CODER_ITEM_LIST
    ),
    stop_words=("<|im_end|>",),
    family="qwen",
    notes=(
        "Qwen3-Coder: ChatML without a default system prompt, except with tools (then 'You are Qwen, a helpful "
        "AI assistant that can interact with a computer to solve tasks.'); tools are listed as XML in the "
        "system turn, calls are <tool_call><function=NAME><parameter=KEY> blocks (non-string values written "
        "with Python's str()), a run of tool results is one user turn of <tool_response> blocks. No thinking: "
        "reasoning_content is not written."
    ),
)

FAMILY = Family(
    name="qwen",
    templates=(QWEN2, QWEN2_VL, QWEN2_5, QWQ, QWEN3, QWEN3_NOTHINK, QWEN3_CODER),
    default_template="qwen3",
    default_dtype="bfloat16",
    export_files=("preprocessor_config.json", "video_preprocessor_config.json", "chat_template.json"),
    model_types=("qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "qwen2_vl", "qwen2_5_vl"),
    composite={
        # transformers >= 4.52: the projector (merger) lives inside the vision tower module
        model_type: {
            "vision_tower": ("model.visual.patch_embed", "model.visual.blocks"),
            "projector": ("model.visual.merger",),
            "language_model": ("model.language_model", "lm_head"),
        }
        for model_type in ("qwen2_vl", "qwen2_5_vl")
    },
    architectures=(
        "Qwen2ForCausalLM",
        "Qwen3ForCausalLM",
        "Qwen3MoeForCausalLM",
        "Qwen2VLForConditionalGeneration",
    ),
    references={
        "qwen2": "qwen2-7b-instruct",
        "qwen2_vl": "qwen2-vl-7b-instruct",
        "qwen2_5": "qwen2_5-7b-instruct",
        "qwq": "qwq-32b",
        "qwen3": "qwen3-0_6b",
        "qwen3_nothink": "qwen3-0_6b",
        "qwen3_coder": "qwen3-coder-30b-a3b-instruct",
    },
    reference_kwargs={"qwen3_nothink": {"enable_thinking": False}},
    groups=(
        ModelGroup("Qwen2-0.5B-Instruct", "Qwen/Qwen2-0.5B-Instruct", "Qwen/Qwen2-0.5B-Instruct", "qwen2"),
        ModelGroup("Qwen2-1.5B-Instruct", "Qwen/Qwen2-1.5B-Instruct", "Qwen/Qwen2-1.5B-Instruct", "qwen2"),
        ModelGroup("Qwen2-7B-Instruct", "Qwen/Qwen2-7B-Instruct", "Qwen/Qwen2-7B-Instruct", "qwen2"),
        ModelGroup("Qwen2-72B-Instruct", "Qwen/Qwen2-72B-Instruct", "Qwen/Qwen2-72B-Instruct", "qwen2"),
        ModelGroup(
            "Qwen2-VL-2B-Instruct", "Qwen/Qwen2-VL-2B-Instruct", "Qwen/Qwen2-VL-2B-Instruct", "qwen2_vl", True
        ),
        ModelGroup(
            "Qwen2-VL-7B-Instruct", "Qwen/Qwen2-VL-7B-Instruct", "Qwen/Qwen2-VL-7B-Instruct", "qwen2_vl", True
        ),
        ModelGroup("QwQ-32B", "Qwen/QwQ-32B", "Qwen/QwQ-32B", "qwq"),
        ModelGroup(
            "Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-0.5B-Instruct", "qwen2_5"
        ),
        ModelGroup(
            "Qwen2.5-1.5B-Instruct", "Qwen/Qwen2.5-1.5B-Instruct", "Qwen/Qwen2.5-1.5B-Instruct", "qwen2_5"
        ),
        ModelGroup("Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct", "qwen2_5"),
        ModelGroup(
            "Qwen2.5-72B-Instruct", "Qwen/Qwen2.5-72B-Instruct", "Qwen/Qwen2.5-72B-Instruct", "qwen2_5"
        ),
        ModelGroup("Qwen3-0.6B", "Qwen/Qwen3-0.6B", "Qwen/Qwen3-0.6B", "qwen3"),
        ModelGroup("Qwen3-8B", "Qwen/Qwen3-8B", "Qwen/Qwen3-8B", "qwen3"),
        ModelGroup("Qwen3-32B", "Qwen/Qwen3-32B", "Qwen/Qwen3-32B", "qwen3"),
        ModelGroup("Qwen3-30B-A3B", "Qwen/Qwen3-30B-A3B", "Qwen/Qwen3-30B-A3B", "qwen3"),
        ModelGroup(
            "Qwen3-Coder-30B-A3B-Instruct",
            "Qwen/Qwen3-Coder-30B-A3B-Instruct",
            "Qwen/Qwen3-Coder-30B-A3B-Instruct",
            "qwen3_coder",
        ),
        ModelGroup(
            "Qwen3-Coder-480B-A35B-Instruct",
            "Qwen/Qwen3-Coder-480B-A35B-Instruct",
            "Qwen/Qwen3-Coder-480B-A35B-Instruct",
            "qwen3_coder",
        ),
    ),
)


def register(catalog: Catalog) -> None:
    catalog.add_family(FAMILY)
