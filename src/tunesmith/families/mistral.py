"""Mistral: Mistral-7B-Instruct v0.1/v0.2, Mixtral, Mistral-Nemo, Mistral-Small 3.2, Ministral 3."""

from tunesmith.families.spec import Catalog, Family, ModelGroup
from tunesmith.templates.declarative import DeclarativeTemplate, ToolSnippets

_ALTERNATE = (
    "After the optional system message, conversation roles must alternate user/assistant/user/assistant/..."
)

MISTRAL = DeclarativeTemplate(
    name="mistral",
    prefix="{bos_token}",
    user=" [INST] {content} [/INST]",
    assistant=" {content}{eos_token}",
    generation_prompt="",
    system_style="merge",
    merge_system="{system}\n\n{content}",
    alternate_error=_ALTERNATE,
    family="mistral",
    notes=(
        "Mistral-7B-Instruct-v0.2 / Mixtral-8x7B-Instruct-v0.1: the system prompt joins the first user turn; "
        "no tools (the official template refuses tool turns)."
    ),
)

_ID_ERROR = "{{- raise_exception('Tool call IDs should be alphanumeric strings with length 9!') }}"
_ID_CHECK = (
    "{%- if {x}.{f} is not defined or {x}.{f} is not string or {x}.{f}|length != 9 %}"
    + _ID_ERROR
    + "{%- endif %}"
)

# Mistral-Nemo (tekken v3): tool definitions written key by key (strings unescaped, "return" left out).
_NEMO_SNIPPETS = ToolSnippets(
    definitions="""
{%- for tool in tools %}
    {%- set tool = tool.function %}
    {{- '{"type": "function", "function": {' }}
    {%- for key, val in tool.items() if key != "return" %}
        {%- if val is string %}
            {{- '"' + key + '": "' + val + '"' }}
        {%- else %}
            {{- '"' + key + '": ' + val|tojson }}
        {%- endif %}
        {%- if not loop.last %}
            {{- ", " }}
        {%- endif %}
    {%- endfor %}
    {{- "}}" }}
    {%- if not loop.last %}
        {{- ", " }}
    {%- endif %}
{%- endfor %}""",
    calls="""
{{- "[TOOL_CALLS][" }}
{%- for tool_call in m.tool_calls %}
    {%- set out = tool_call.function|tojson %}
    {{- out[:-1] }}
    {%- if not tool_call.id is defined or tool_call.id|length != 9 %}"""
    + _ID_ERROR
    + """{%- endif %}
    {{- ', "id": "' + tool_call.id + '"}' }}
    {{- ", " if not loop.last else "]" }}
{%- endfor %}""",
    tool="""
{%- if m.content is defined and m.content.content is defined %}
    {%- set content = m.content.content %}
{%- else %}
    {%- set content = m.content %}
{%- endif %}
{{- '[TOOL_RESULTS]{"content": ' + content|string + ", " }}
{%- if not m.tool_call_id is defined or m.tool_call_id|length != 9 %}"""
    + _ID_ERROR
    + """{%- endif %}
{{- '"call_id": "' + m.tool_call_id + '"}[/TOOL_RESULTS]' }}""",
)

# Mistral-Small 3.2 (v11): [TOOL_CALLS]name[CALL_ID]id[ARGS]{...}, results with [TOOL_CONTENT].
_SMALL_SNIPPETS = ToolSnippets(
    definitions="{{- tools|tojson }}",
    calls="""
{%- for tool_call in m.tool_calls %}
    {{- '[TOOL_CALLS]' + tool_call.function.name }}"""
    + _ID_CHECK.replace("{x}", "tool_call").replace("{f}", "id")
    + """
    {{- '[CALL_ID]' + tool_call.id }}
    {{- '[ARGS]' + tool_call['function']['arguments']|tojson }}
{%- endfor %}""",
    tool="""
{%- if m.content is defined and m.content.content is defined %}
    {%- set content = m.content.content %}
{%- else %}
    {%- set content = m.content %}
{%- endif %}"""
    + _ID_CHECK.replace("{x}", "m").replace("{f}", "tool_call_id")
    + """
{{- '[TOOL_RESULTS]' + m.tool_call_id + '[TOOL_CONTENT]' + content|string + '[/TOOL_RESULTS]' }}""",
)

# Ministral 3 (v13): content, then [TOOL_CALLS]name[ARGS]{...} per call; results without ids.
_MINISTRAL3_SNIPPETS = ToolSnippets(
    definitions="{{- tools|tojson }}",
    calls="""
{{- content }}
{%- for tool in m.tool_calls %}
    {{- '[TOOL_CALLS]' }}
    {%- set arguments = tool['function']['arguments'] %}
    {%- if arguments is not string %}
        {%- set arguments = arguments|tojson|safe %}
    {%- elif arguments == '' %}
        {%- set arguments = '{}' %}
    {%- endif %}
    {{- tool['function']['name'] + '[ARGS]' + arguments }}
{%- endfor %}""",
    tool="{{- '[TOOL_RESULTS]' + m['content']|string + '[/TOOL_RESULTS]' }}",
)
_AVAILABLE_TOOLS = "[AVAILABLE_TOOLS]{tools}[/AVAILABLE_TOOLS]"
_TOOLS_BEFORE_LAST_USER = dict(
    tools_block=_AVAILABLE_TOOLS, tools_block_at="last_user", alternate_skips_tools=True
)

MISTRAL_NEMO = DeclarativeTemplate(
    name="mistral_nemo",
    prefix="{bos_token}",
    user="[INST]{content}[/INST]",
    assistant="{content}{eos_token}",
    generation_prompt="",
    alternate_error=_ALTERNATE,
    system_style="merge_last",
    merge_system="{system}\n\n{content}",
    stop_words=("[TOOL_CALLS]",),
    tool_format="mistral",
    snippets=_NEMO_SNIPPETS,
    **{**_TOOLS_BEFORE_LAST_USER, "tools_block": "[AVAILABLE_TOOLS][{tools}][/AVAILABLE_TOOLS]"},
    family="mistral",
    notes="Mistral-Nemo-Instruct-2407 (tekken v3). As the official template: the system prompt is written "
    "into the user message only when that message ends the conversation (otherwise it is not written: a "
    "warning says so — for training data put instructions in the user turn); [AVAILABLE_TOOLS] before the "
    "last user message; [TOOL_CALLS] with 9-character call ids (the text content of a tool-call message is "
    "dropped); [TOOL_RESULTS] with call ids.",
)

MISTRAL_SMALL_SYSTEM = (
    "You are Mistral Small 3, a Large Language Model (LLM) created by Mistral AI, a French startup "
    "headquartered in Paris.\n"
    "Your knowledge base was last updated on 2023-10-01. The current date is {date}.\n"
    "\n"
    "When you're not sure about some information or when the user's request requires up-to-date or "
    "specific data, you must use the available tools to fetch the information. Do not hesitate to use "
    "tools whenever they can provide a more accurate or complete response. If no relevant tools are "
    "available, then clearly state that you don't have the information and avoid making up anything.\n"
    "\n"
    "If the user's question is not clear, ambiguous, or does not provide enough context for you to "
    "accurately answer the question, you do not try to answer it right away and you rather ask the user "
    'to clarify their request (e.g. "What are some good restaurants around me?" => "Where are you?" or '
    '"When is the next flight to Tokyo" => "Where do you travel from?").\n'
    "You are always very attentive to dates, and when asked about information at specific dates, you "
    "discard information that is at another date.\n"
    "You follow these instructions in all languages, and always respond to the user in the language they "
    "use or request.\n"
    "Next sections describe the capabilities that you have.\n"
    "\n"
    "# WEB BROWSING INSTRUCTIONS\n"
    "\n"
    "You cannot perform any web search or access internet to open URLs, links etc. If it seems like the "
    "user is expecting you to do so, you clarify the situation and ask the user to copy paste the text "
    "directly in the chat.\n"
    "\n"
    "# MULTI-MODAL INSTRUCTIONS\n"
    "\n"
    "You have the ability to read images, but you cannot generate images. You also cannot transcribe "
    "audio files or videos.\n"
    "You cannot read nor transcribe audio files or videos.\n"
    "\n"
    "# TOOL CALLING INSTRUCTIONS\n"
    "\n"
    "You may have access to tools that you can use to fetch information or perform actions. You must use "
    "these tools in the following situations:\n"
    "\n"
    "1. When the request requires up-to-date information.\n"
    "2. When the request requires specific data that you do not have in your knowledge base.\n"
    "3. When the request involves actions that you cannot perform without tools.\n"
    "\n"
    "Always prioritize using tools to provide the most accurate and helpful response. If tools are not "
    "available, inform the user that you cannot perform the requested action at the moment."
)

MINISTRAL3_SYSTEM = (
    "# HOW YOU SHOULD THINK AND ANSWER\n"
    "\n"
    "First draft your thinking process (inner monologue) until you arrive at a response. Format your "
    "response using Markdown, and use LaTeX for any mathematical equations. Write both your thoughts and "
    "the response in the same language as the input.\n"
    "\n"
    "Your thinking process must follow the template below:[THINK]Your thoughts or/and draft, like "
    "working through an exercise on scratch paper. Be as casual and as long as you want until you are "
    "confident to generate the response to the user.[/THINK]Here, provide a self-contained response."
)

MISTRAL_SMALL = DeclarativeTemplate(
    name="mistral_small",
    prefix="{bos_token}",
    default_system=MISTRAL_SMALL_SYSTEM,
    date_format="%Y-%m-%d",
    inner_system=True,
    alternate_error=_ALTERNATE,
    image_token="[IMG]",
    system="[SYSTEM_PROMPT]{content}[/SYSTEM_PROMPT]",
    user="[INST]{content}[/INST]",
    assistant="{content}{eos_token}",
    generation_prompt="",
    tool_format="mistral_v11",
    snippets=_SMALL_SNIPPETS,
    **_TOOLS_BEFORE_LAST_USER,
    family="mistral",
    notes="Mistral-Small-3.2-24B-Instruct-2506: default system prompt with today's date; [AVAILABLE_TOOLS] "
    "before the last user message; [TOOL_CALLS]name[CALL_ID]id[ARGS]{...} (text content of a tool-call "
    "message dropped, as the official template); [TOOL_RESULTS]id[TOOL_CONTENT]...; the alternation check "
    "skips tool turns.",
)

MINISTRAL3 = DeclarativeTemplate(
    name="ministral3",
    prefix="{bos_token}",
    default_system=MINISTRAL3_SYSTEM,
    alternate_error=(
        "After the optional system message, conversation roles must alternate user and assistant roles except "
        "for tool calls and results."
    ),
    image_token="[IMG]",
    system="[SYSTEM_PROMPT]{content}[/SYSTEM_PROMPT]",
    user="[INST]{content}[/INST]",
    assistant="{content}{eos_token}",
    generation_prompt="",
    tool_format="mistral_v13",
    snippets=_MINISTRAL3_SNIPPETS,
    tools_block=_AVAILABLE_TOOLS,
    tools_block_at="after_system",
    alternate_skips_tools=True,
    family="mistral",
    notes="Ministral-3 2512: default system prompt; [AVAILABLE_TOOLS] after the system prompt; content then "
    "[TOOL_CALLS]name[ARGS]{...} per call; [TOOL_RESULTS]...[/TOOL_RESULTS]. Not expressed: 'thinking' "
    "content chunks ([THINK]…[/THINK]; the official template ignores reasoning_content, so write reasoning "
    "in the content).",
)


def _g(name: str, ms: str | None, template: str | None, multimodal: bool = False) -> ModelGroup:
    return ModelGroup(name, f"mistralai/{name}", ms, template, multimodal)


FAMILY = Family(
    name="mistral",
    templates=(MISTRAL, MISTRAL_NEMO, MISTRAL_SMALL, MINISTRAL3),
    default_template="mistral",
    model_types=("mistral", "mixtral", "mistral3", "ministral", "ministral3"),
    composite={
        "mistral3": {
            "vision_tower": ("model.vision_tower",),
            "projector": ("model.multi_modal_projector",),
            "language_model": ("model.language_model", "lm_head"),
        },
    },
    architectures=(
        "MistralForCausalLM",
        "MixtralForCausalLM",
        "Mistral3ForConditionalGeneration",
        "MinistralForCausalLM",
    ),
    references={
        "mistral": "mistral-7b-instruct-v0_2",
        "mistral_nemo": "mistral-nemo-instruct-2407",
        "mistral_small": "mistral-small-3_2-24b-instruct-2506",
        "ministral3": "ministral-3-14b-reasoning-2512",
    },
    notes=(
        "Mistral-7B-Instruct-v0.3 uses the tekken-v3 tool format (tool format 'mistral'); its chat template "
        "is not in the conformance corpus, so it renders with its own template unless 'mistral' is asked for."
    ),
    groups=(
        _g("Mistral-7B-Instruct-v0.1", "AI-ModelScope/Mistral-7B-Instruct-v0.1", "mistral"),
        _g("Mistral-7B-Instruct-v0.2", "AI-ModelScope/Mistral-7B-Instruct-v0.2", "mistral"),
        _g("Mistral-7B-Instruct-v0.3", "LLM-Research/Mistral-7B-Instruct-v0.3", None),
        _g("Mixtral-8x7B-Instruct-v0.1", "AI-ModelScope/Mixtral-8x7B-Instruct-v0.1", "mistral"),
        _g("Mistral-Nemo-Instruct-2407", "AI-ModelScope/Mistral-Nemo-Instruct-2407", "mistral_nemo"),
        _g(
            "Mistral-Small-3.2-24B-Instruct-2506",
            "mistralai/Mistral-Small-3.2-24B-Instruct-2506",
            "mistral_small",
            True,
        ),
        _g("Ministral-3-14B-Reasoning-2512", "mistralai/Ministral-3-14B-Reasoning-2512", "ministral3", True),
    ),
)


def register(catalog: Catalog) -> None:
    catalog.add_family(FAMILY)
