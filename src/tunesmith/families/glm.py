"""GLM: ChatGLM3, GLM-4 (glm-4-9b-chat) and GLM-4.5 / GLM-4.6 (glm4_moe).

GLM turns have no end-of-turn marker: the model stops by emitting the next role token (``<|user|>`` or
``<|observation|>``, both in its generation config's ``eos_token_id``). So the trained part of an
assistant turn is its content only; the stop is learnt from nothing in the text — as with the official
template, whose rendering we reproduce.

Conformance against the shared corpus (template x battery shape):

* ``chatglm3`` passes the whole battery against chatglm3-6b (its reference). Like the official template
  it ignores ``tools=`` and tool calls (``without_tools="ignore"``) and writes tool results as
  ``<|tool|>`` turns.
* ``glm4`` passes the whole battery against glm-4-9b-chat (its reference). The official template ignores
  ``tools=`` (it reads definitions from a per-message ``tools`` key, which tunesmith messages cannot
  carry), skips every message whose content is empty — an assistant turn that only carries tool calls
  disappears, header included (``drop_empty_messages``) — writes no tool calls and writes tool results
  as ``<|tool|>`` turns; so do we (``without_tools="ignore"``, a ``calls`` snippet that keeps only the
  content). The ``glm4`` tool format is kept for parsing generated calls.
* ``glm4_moe`` passes the whole battery against glm-4_6 (its reference): a ``<|system|>`` turn listing the
  tools before everything, XML ``<tool_call>`` calls with ``<arg_key>``/``<arg_value>`` pairs, tool results
  grouped under ``<|observation|>``, and the official history rule for reasoning — turns after the last
  user message write ``\\n<think>{reasoning}</think>`` (trained), every other turn an empty
  ``\\n<think></think>`` (masked, in the header snippet). Not reproduced (no battery shape has them):
  reasoning is stripped of newlines only (the official strips all whitespace); text after ``</think>`` in
  the content keeps leading spaces; a turn with reasoning but neither content nor tool calls gets a
  trailing ``"\\n"``; a conversation without any user message writes no reasoning (the official writes it
  on every turn); ``enable_thinking=False`` adds ``\\n<think></think>`` to the generation prompt but not
  the official's ``/nothink`` to user turns.
"""

from tunesmith.families.spec import Catalog, Family, ModelGroup
from tunesmith.templates.declarative import DeclarativeTemplate, ReasoningSpec, ToolSnippets

_STOP = ("<|user|>", "<|observation|>")

CHATGLM3 = DeclarativeTemplate(
    name="chatglm3",
    prefix="[gMASK]sop",
    system="<|system|>\n {content}",
    user="<|user|>\n {content}",
    assistant="<|assistant|>\n {content}",
    tool="<|tool|>\n {content}",
    without_tools="ignore",
    generation_prompt="<|assistant|>",
    stop_words=_STOP,
    family="glm",
    notes=(
        "ChatGLM3-6B: '<|role|>\\n ' headers (newline + space). The generation prompt is '<|assistant|>' alone; "
        "the model writes the '\\n ' itself. As the official chat template, tool definitions and calls are not "
        "written (ChatGLM3's own tool prompt lives in its remote tokenizer code). Passes the whole battery."
    ),
)

GLM4 = DeclarativeTemplate(
    name="glm4",
    prefix="[gMASK]<sop>",
    system="<|system|>\n{content}",
    skip_empty_system=True,
    inner_system=True,
    user="<|user|>\n{content}",
    assistant="<|assistant|>\n{content}",
    tool="<|tool|>\n{content}",
    generation_prompt="<|assistant|>",
    tool_format="glm4",
    without_tools="ignore",
    drop_empty_messages=True,
    snippets=ToolSnippets(calls="{{- content }}"),  # tool calls are not written, as the official
    stop_words=_STOP,
    family="glm",
    notes=(
        "GLM-4-9B-Chat. As the official chat template: every message with empty content is skipped (an empty "
        "system prompt, an assistant turn that only carries tool calls), tools= is ignored (the official "
        "reads definitions from a per-message 'tools' key, which tunesmith messages do not have), tool calls "
        "are not written and tool results are '<|tool|>' turns; later system messages are written where "
        "they stand. Passes the whole battery. Tool format glm4 parses generated calls."
    ),
)

# GLM-4.5 / 4.6. The assistant header (masked) is "<|assistant|>" plus, on turns that do not show their
# reasoning, "\n<think></think>" and the "\n" before non-empty content. Turns after the last user query
# with reasoning train "\n<think>{reasoning}</think>\n{content}". The header macro recomputes the engine's
# rule (content stripped, reasoning from reasoning_content, else split from the content; last query = last
# user message not wrapped in <tool_response>…</tool_response>) so header and body always agree.
_GLM45_HELPERS = r"""{%- macro glm45_split(m) %}
{%- set content = (m.content if m.content is string else '').strip() %}
{%- set reasoning = m.reasoning_content if m.reasoning_content is string else '' %}
{%- if m.reasoning_content is not string and '</think>' in content %}
    {%- set reasoning = content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') %}
    {%- set content = content.split('</think>')[-1].lstrip('\n') %}
{%- endif %}
{{- ('R' if reasoning else '') + ('C' if content else '') }}
{%- endmacro %}"""

_GLM45_HEADER = r"""
{%- set q = namespace(last=body | length - 1, found=false) %}
{%- for x in body[::-1] %}
    {%- set t = x.content if x.content is string else '' %}
    {%- if not q.found and x.role == 'user' and not (t.startswith('<tool_response>') and t.endswith('</tool_response>')) %}
        {%- set q.last = body | length - 1 - loop.index0 %}{%- set q.found = true %}
    {%- endif %}
{%- endfor %}
{%- set parts = glm45_split(m) %}
{{- '<|assistant|>' }}
{%- if not (i > q.last and 'R' in parts) %}
    {{- '\n<think></think>' + ('\n' if 'C' in parts else '') }}
{%- endif %}"""

_GLM45_CALLS = r"""
{%- if content.endswith('</think>\n') %}{%- set content = content[:-1] %}{%- endif %}
{{- content }}
{%- for tc in m.tool_calls %}
{%- if tc.function %}
    {%- set tc = tc.function %}
{%- endif %}
{{- '\n<tool_call>' + tc.name + '\n' }}
{%- set _args = tc.arguments or {} %}
{%- if _args is not mapping %}
    {{- raise_exception("Invalid tool call arguments passed: " + _args | string) }}
{%- endif %}
{%- for k, v in _args.items() %}
{{- '<arg_key>' + k + '</arg_key>\n<arg_value>' + (v | tojson(ensure_ascii=False) if v is not string else v) + '</arg_value>\n' }}
{%- endfor %}
{{- '</tool_call>' }}
{%- endfor %}"""

_GLM45_DEFINITIONS = r"""
{{- '# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with \
function signatures within <tools></tools> XML tags:\n<tools>\n' }}
{%- for tool in tools %}
    {{- tool | tojson(ensure_ascii=False) + '\n' }}
{%- endfor %}
{{- '</tools>\n\nFor each function call, output the function name and arguments within the following XML \
format:\n<tool_call>{function-name}\n<arg_key>{arg-key-1}</arg_key>\n<arg_value>{arg-value-1}</arg_value>\n\
<arg_key>{arg-key-2}</arg_key>\n<arg_value>{arg-value-2}</arg_value>\n...\n</tool_call>' }}"""

GLM4_MOE = DeclarativeTemplate(
    name="glm4_moe",
    prefix="[gMASK]<sop>",
    system="<|system|>\n{content}",
    inner_system=True,
    user="<|user|>\n{content}",
    assistant="<|assistant|>{content}",
    strip_content=("assistant",),
    generation_prompt="<|assistant|>",
    reasoning=ReasoningSpec(
        open="\n<think>", close="</think>\n", block_on_last=False, off_generation="\n<think></think>"
    ),
    tool_format="glm4_moe",
    tools_block="<|system|>\n{tools}",
    tool="\n<tool_response>\n{content}\n</tool_response>",
    tool_group=("<|observation|>", ""),
    snippets=ToolSnippets(
        definitions=_GLM45_DEFINITIONS, header=_GLM45_HEADER, calls=_GLM45_CALLS, helpers=_GLM45_HELPERS
    ),
    stop_words=_STOP,
    family="glm",
    notes=(
        "GLM-4.5 / GLM-4.6. Assistant turns after the last user message write their reasoning "
        "('\\n<think>{reasoning}</think>', trained); every other turn an empty '\\n<think></think>' (masked); "
        "content is stripped. With tools: a '<|system|>' turn listing them first, XML <tool_call> calls, tool "
        "results grouped under '<|observation|>'. Passes the whole battery; the module docstring lists the "
        "rare inputs rendered differently (e.g. no '/nothink' on user turns with enable_thinking=False)."
    ),
)

FAMILY = Family(
    name="glm",
    templates=(CHATGLM3, GLM4, GLM4_MOE),
    default_template="glm4",
    model_types=("chatglm", "glm", "glm4", "glm4_moe"),
    references={"chatglm3": "chatglm3-6b", "glm4": "glm-4-9b-chat", "glm4_moe": "glm-4_6"},
    architectures=(
        "ChatGLMModel",
        "ChatGLMForConditionalGeneration",
        "GlmForCausalLM",
        "Glm4ForCausalLM",
        "Glm4MoeForCausalLM",
    ),
    groups=(
        ModelGroup("glm-4-9b-chat", "THUDM/glm-4-9b-chat", "ZhipuAI/glm-4-9b-chat", "glm4"),
        ModelGroup("chatglm3-6b", "THUDM/chatglm3-6b", "ZhipuAI/chatglm3-6b", "chatglm3"),
        ModelGroup("GLM-4.6", "zai-org/GLM-4.6", "ZhipuAI/GLM-4.6", "glm4_moe"),
    ),
    notes=(
        "chatglm3, glm4 and glm4_moe match their official templates on the whole battery (tools included; "
        "GLM-4.6's reasoning history rule included). model_type 'chatglm' covers both chatglm3-6b and the "
        "remote-code glm-4-9b-chat; pick the group by name to get the right template."
    ),
)


def register(catalog: Catalog) -> None:
    catalog.add_family(FAMILY)
