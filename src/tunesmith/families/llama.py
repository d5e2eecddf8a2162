"""Llama: Llama 2, Llama 3, Llama 3.1 / 3.3 (tools, fixed date), Llama 3.2 (tools, today's date), Llama 4.

``llama4`` passes the whole conformance battery against llama-4-scout-17b-16e-instruct (its reference),
tool shapes included: tools open the first user message, a tool-call message is
``<|python_start|>text<|python_end|>`` then its calls as concatenated JSON objects (a snippet; parsed
back with the ``llama4`` tool format), tool results are ``ipython`` turns written with ``tojson``. Outside
the battery it differs only with tools *and* a system message (the official system turn then starts
with ``Environment: ipython``) and in trimming the first user message when tools are given.
"""

from dataclasses import replace

from tunesmith.families.spec import Catalog, Family, ModelGroup
from tunesmith.templates.declarative import DeclarativeTemplate, ToolSnippets
from tunesmith.templates.tools.llama3 import TOOLS_IN_USER_HEAD

LLAMA2 = DeclarativeTemplate(
    name="llama2",
    user="{bos_token}[INST] {content} [/INST]",
    assistant=" {content} {eos_token}",
    generation_prompt="",
    system_style="merge",
    merge_system="<<SYS>>\n{system}\n<</SYS>>\n\n{content}",
    strip_content=("assistant",),
    strip_merged=True,
    alternate_error="Conversation roles must alternate user/assistant/user/assistant/...",
    family="llama",
    notes="Every user turn starts with BOS; the system prompt is merged into the first user turn. No tools.",
)

LLAMA3 = DeclarativeTemplate(
    name="llama3",
    prefix="{bos_token}",
    system="<|start_header_id|>system<|end_header_id|>\n\n{content}<|eot_id|>",
    user="<|start_header_id|>user<|end_header_id|>\n\n{content}<|eot_id|>",
    assistant="<|start_header_id|>assistant<|end_header_id|>\n\n{content}<|eot_id|>",
    tool="<|start_header_id|>tool<|end_header_id|>\n\n{content}<|eot_id|>",
    strip_content=True,
    inner_system=True,
    without_tools="ignore",
    stop_words=("<|eot_id|>", "<|eom_id|>"),
    family="llama",
    notes=(
        "Meta-Llama-3 (3.0) has no tool support: as its official template, tool definitions are not written "
        "and tool calls are dropped (the assistant turn keeps only its text); tool results are written as "
        "'tool' turns. Use llama3_1 for tool data."
    ),
)

_DATES = "Cutting Knowledge Date: December 2023\nToday Date: {date}\n\n{system}"

LLAMA3_1 = replace(
    LLAMA3,
    name="llama3_1",
    default_system="",
    system_content=_DATES,
    default_date="26 Jul 2024",
    tool="<|start_header_id|>ipython<|end_header_id|>\n\n{content}<|eot_id|>",
    tool_content_json=True,
    tool_format="llama3",
    without_tools="raise",
    tools_system="Environment: ipython\n" + _DATES,
    tools_system_sep="",
    tools_in_first_user=TOOLS_IN_USER_HEAD + "{tools}{content}",
    tool_definitions="json_indent4",
    tool_call_content="drop",
    single_tool_call_error="This model only supports single tool-calls at once!",
    notes=(
        "Llama 3.1 / 3.3: the system turn always carries the knowledge cut-off and the date (render option "
        "date_string; default '26 Jul 2024' as the official template). Tools are described in the first "
        "user message (tools_in_user_message=True, the official default); the text of a tool-call message "
        "is dropped; one tool call per message (more is refused, as the official template does); tool "
        "results are 'ipython' turns holding the content as a JSON string. Not supported declaratively: "
        "builtin_tools, custom_tools and tools_in_user_message=False (the model's own template handles them)."
    ),
)

LLAMA3_2 = replace(
    LLAMA3_1,
    name="llama3_2",
    default_date=None,
    notes=LLAMA3_1.notes.replace(
        "default '26 Jul 2024' as the official template", "default today's date, strftime_now('%d %b %Y')"
    ).replace("Llama 3.1 / 3.3", "Llama 3.2"),
)

_LLAMA4_CALLS = """
{{- '<|python_start|>' + content + '<|python_end|>' }}
{%- for tool_call in m.tool_calls %}
    {{- '{"name": "' + tool_call.function.name + '", "parameters": ' + tool_call.function.arguments | tojson + '}' }}
{%- endfor %}"""

LLAMA4 = DeclarativeTemplate(
    name="llama4",
    prefix="{bos_token}",
    system="<|header_start|>system<|header_end|>\n\n{content}<|eot|>",
    user="<|header_start|>user<|header_end|>\n\n{content}<|eot|>",
    assistant="<|header_start|>assistant<|header_end|>\n\n{content}<|eot|>",
    tool="<|header_start|>ipython<|header_end|>\n\n{content}<|eot|>",
    tool_content_json=True,
    strip_content=("system",),
    inner_system=True,
    tool_format="llama4",
    tools_in_first_user=TOOLS_IN_USER_HEAD + "{tools}{content}",
    tool_definitions="json_indent4",
    tools_block="",
    snippets=ToolSnippets(calls=_LLAMA4_CALLS),
    image_token="<|image|>",
    stop_words=("<|eot|>", "<|eom|>"),
    family="llama",
    notes=(
        "Llama 4 (Scout / Maverick): no default system prompt, system text trimmed. With tools (the official "
        "default tools_in_user_message=True) the instructions and each tool as tojson(indent=4) open the "
        "first user message; a tool-call message is <|python_start|>text<|python_end|> followed by its calls "
        'as concatenated {"name": ..., "parameters": ...} objects (parallel calls allowed); tool results are '
        "'ipython' turns holding the content as a JSON string. Differences from the official template "
        "(outside the conformance battery): with tools *and* a system message the official system turn "
        "starts with 'Environment: ipython\\n', which is not written here; the first user message is not "
        "trimmed when tools are given (the official trims it). Tool calls are read back with the llama4 "
        "format. Not supported: custom_tools and tools_in_user_message=False."
    ),
)


def _g(name: str, hf: str, ms: str, template: str, multimodal: bool = False) -> ModelGroup:
    return ModelGroup(name, hf, ms, template, multimodal)


FAMILY = Family(
    name="llama",
    templates=(LLAMA2, LLAMA3, LLAMA3_1, LLAMA3_2, LLAMA4),
    default_template="llama3_1",
    default_dtype="bfloat16",
    export_files=("preprocessor_config.json", "processor_config.json"),
    download_ignore=("original/*",),
    model_types=("llama", "llama4", "llama4_text"),
    composite={
        "llama4": {
            "vision_tower": ("vision_model",),
            "projector": ("multi_modal_projector",),
            "language_model": ("language_model",),
        },
        # LLaVA-1.5 / LLaVA-NeXT (Vicuna/Llama language models); image_newline is a learned connector row
        "llava": {
            "vision_tower": ("model.vision_tower",),
            "projector": ("model.multi_modal_projector",),
            "language_model": ("model.language_model", "lm_head"),
        },
        "llava_next": {
            "vision_tower": ("model.vision_tower",),
            "projector": ("model.multi_modal_projector", "model.image_newline"),
            "language_model": ("model.language_model", "lm_head"),
        },
    },
    architectures=("LlamaForCausalLM", "Llama4ForConditionalGeneration", "Llama4ForCausalLM"),
    references={
        "llama2": "llama-2-7b-chat-hf",
        "llama3": "meta-llama-3-8b-instruct",
        "llama3_1": "llama-3_1-8b-instruct",
        "llama3_2": "llama-3_2-3b-instruct",
        "llama4": "llama-4-scout-17b-16e-instruct",
    },
    groups=(
        _g("Llama-2-7B-Chat", "meta-llama/Llama-2-7b-chat-hf", "modelscope/Llama-2-7b-chat-ms", "llama2"),
        _g("Llama-2-13B-Chat", "meta-llama/Llama-2-13b-chat-hf", "modelscope/Llama-2-13b-chat-ms", "llama2"),
        _g("Llama-2-70B-Chat", "meta-llama/Llama-2-70b-chat-hf", "modelscope/Llama-2-70b-chat-ms", "llama2"),
        _g(
            "Llama-3-8B-Instruct",
            "meta-llama/Meta-Llama-3-8B-Instruct",
            "LLM-Research/Meta-Llama-3-8B-Instruct",
            "llama3",
        ),
        _g(
            "Llama-3-70B-Instruct",
            "meta-llama/Meta-Llama-3-70B-Instruct",
            "LLM-Research/Meta-Llama-3-70B-Instruct",
            "llama3",
        ),
        _g(
            "Llama-3.1-8B-Instruct",
            "meta-llama/Llama-3.1-8B-Instruct",
            "LLM-Research/Meta-Llama-3.1-8B-Instruct",
            "llama3_1",
        ),
        _g(
            "Llama-3.1-70B-Instruct",
            "meta-llama/Llama-3.1-70B-Instruct",
            "LLM-Research/Meta-Llama-3.1-70B-Instruct",
            "llama3_1",
        ),
        _g(
            "Llama-3.2-1B-Instruct",
            "meta-llama/Llama-3.2-1B-Instruct",
            "LLM-Research/Llama-3.2-1B-Instruct",
            "llama3_2",
        ),
        _g(
            "Llama-3.2-3B-Instruct",
            "meta-llama/Llama-3.2-3B-Instruct",
            "LLM-Research/Llama-3.2-3B-Instruct",
            "llama3_2",
        ),
        _g(
            "Llama-3.3-70B-Instruct",
            "meta-llama/Llama-3.3-70B-Instruct",
            "LLM-Research/Llama-3.3-70B-Instruct",
            "llama3_1",
        ),
        _g(
            "Llama-4-Scout-17B-16E-Instruct",
            "meta-llama/Llama-4-Scout-17B-16E-Instruct",
            "LLM-Research/Llama-4-Scout-17B-16E-Instruct",
            "llama4",
            True,
        ),
        _g(
            "Llama-4-Maverick-17B-128E-Instruct",
            "meta-llama/Llama-4-Maverick-17B-128E-Instruct",
            "LLM-Research/Llama-4-Maverick-17B-128E-Instruct",
            "llama4",
            True,
        ),
    ),
)


def register(catalog: Catalog) -> None:
    catalog.add_family(FAMILY)
