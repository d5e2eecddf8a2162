"""DeepSeek: DeepSeek-V2.5, DeepSeek-V3, DeepSeek-R1 (+ its Qwen/Llama distills), deepseek-coder.

Conformance against the shared corpus (template x battery shape):

* ``deepseek3`` passes the whole battery against deepseek-v3 (its reference), tool shapes included, and
  against deepseek-r1-distill-llama-8b. Tool turns are rendered as the official template renders the
  messages tunesmith can represent — content is always a string (``None`` becomes ``""``), and the
  official writes tool calls only for content ``None`` (a branch ``apply_chat_template`` cannot reach
  either: transformers drops ``None`` values and the template then fails on the missing content). So:
  ``tools=`` is ignored; an assistant message with tool calls is written as its content alone
  (``<｜Assistant｜><｜end▁of▁sentence｜>`` for ``""``); the first tool result of the conversation opens
  ``<｜tool▁outputs▁begin｜>``, every later one follows ``"\\n"`` (a global flag, not per run); the
  assistant turn right after tool results has ``<｜tool▁outputs▁end｜>`` as its header instead of
  ``<｜Assistant｜>``; a conversation ending in tool results is closed by ``<｜tool▁outputs▁end｜>`` and
  gets no generation prompt. The snippets below state these rules. The ``deepseek_v3`` tool format is
  kept for parsing generated calls. vs deepseek-v2_5: ``system`` and ``empty_system`` differ — that
  template emits eight spaces before the BOS whenever a system message is present (a whitespace leak
  in its Jinja source). Later system messages are refused (V3 hoists them all to the top).
* ``deepseek_r1`` passes the whole battery against deepseek-r1-distill-llama-8b (its reference) and
  deepseek-v3, with the official history rule: ``reasoning_content`` is ignored and every assistant turn
  keeps only the text after its last ``</think>``. Not reproduced (no battery shape has them): the
  official keeps the newlines after ``</think>`` (we strip them, as the engine's ``</think>`` split
  does), and it does not split the turn right after tool results. The Qwen-32B distill's copy
  (deepseek-r1-distill-qwen-32b, a multi-line reformatting) additionally writes ``"\\n"`` after the BOS
  and after the generation prompt, so it fails every shape; it is not the reference. Later R1
  revisions append ``<think>\\n`` to the generation prompt.
* ``DEEPSEEK_R1_REASONING`` (not registered: every registered template reproduces its official one):
  ``deepseek_r1`` with reasoning written and trained on the assistant turns after the last user query
  (``<think>\\n…\\n</think>\\n\\n``), for training reasoning. It differs from the official template on
  ``reasoning_last`` and ``reasoning_history`` by design; register it from a plugin file to use it
  (``catalog.add_template(DEEPSEEK_R1_REASONING, family="deepseek")``), knowing that a model trained with
  it must be served with this template, which the export writes into the model.
* ``deepseek_coder`` passes the whole battery against deepseek-coder-33b-instruct (its reference). Like
  the official template it ignores ``tools=`` and tool calls (``without_tools="ignore"``) and writes a
  tool result as a ``### Response:`` turn (the official treats every non-user role as the assistant).
"""

from tunesmith.families.spec import Catalog, Family, ModelGroup
from tunesmith.templates.declarative import DeclarativeTemplate, ReasoningSpec, ToolSnippets

# The official V2.5 / V3 / R1-Distill tool handling, for the messages tunesmith can represent (content is
# always a string). An assistant message with content (even "") takes the template's text branch: its
# tool calls are not written, and right after tool results its header is <｜tool▁outputs▁end｜> instead of
# <｜Assistant｜>. The first tool result of the whole conversation opens <｜tool▁outputs▁begin｜>, later ones
# follow "\n"; a conversation ending in tool results is closed by <｜tool▁outputs▁end｜> and gets no
# generation prompt.
_AFTER_TOOL = "i > 0 and body[i - 1].role == 'tool'"
_V3_SNIPPETS = ToolSnippets(
    header="{{- '<｜tool▁outputs▁end｜>' if " + _AFTER_TOOL + " else '<｜Assistant｜>' }}",
    calls="{{- content }}",
    tool=(
        "{%- set first = body[:i] | selectattr('role', 'equalto', 'tool') | list | length == 0 %}"
        "{{- ('<｜tool▁outputs▁begin｜>' if first else '\\n') + '<｜tool▁output▁begin｜>' + m.content"
        " + '<｜tool▁output▁end｜>' }}"
        "{%- if i == body | length - 1 %}{{- '<｜tool▁outputs▁end｜>' }}{%- endif %}"
    ),
    generation="{{- '' if body and body[-1].role == 'tool' else '<｜Assistant｜>' }}",
)

_V3 = dict(
    prefix="{bos_token}",
    system="{content}",
    user="<｜User｜>{content}",
    assistant="<｜Assistant｜>{content}<｜end▁of▁sentence｜>",
    stop_words=("<｜end▁of▁sentence｜>",),
    tool_format="deepseek_v3",
    without_tools="ignore",
    snippets=_V3_SNIPPETS,
    family="deepseek",
)

DEEPSEEK3 = DeclarativeTemplate(
    name="deepseek3",
    notes=(
        "DeepSeek-V2.5 / V3 turns. Matches deepseek-v3 on the whole battery, tool shapes included, by doing "
        "what the official template does with string content: tools= is ignored, an assistant message's tool "
        "calls are not written (the official writes them only for content None, which tunesmith normalises "
        'to "" — and which apply_chat_template cannot render either), tool results are written as '
        "<｜tool▁outputs▁begin｜>…<｜tool▁outputs▁end｜> runs and the assistant turn after them has no "
        "<｜Assistant｜> header. So tool-call turns train on an empty answer: use a template with a tool "
        "prompt to teach tool calling. The system text follows the BOS with no separator. Tool format "
        "deepseek_v3 parses generated calls."
    ),
    **_V3,
)

DEEPSEEK_R1 = DeclarativeTemplate(
    name="deepseek_r1",
    reasoning=ReasoningSpec(keep="none", from_field=False, block_on_last=False, off_generation=""),
    notes=(
        "DeepSeek-R1 and its distills, with the official history rule: reasoning_content is ignored and "
        "every assistant turn is written without its reasoning (content after the last </think>), so no "
        "reasoning is trained. Tool turns as deepseek3. Differs from the official only in that the text "
        "after </think> is written without leading newlines (the official keeps them) and that the turn "
        "right after tool results is split too (the official does not split it)."
    ),
    **_V3,
)

DEEPSEEK_R1_REASONING = DeclarativeTemplate(
    name="deepseek_r1_reasoning",
    reasoning=ReasoningSpec(
        open="<think>\n", close="\n</think>\n\n", keep="after_last_query", block_on_last=False
    ),
    notes=(
        "DeepSeek-R1 for training reasoning — not the official rule (that is deepseek_r1). Reasoning "
        "(reasoning_content, or <think>…</think> in the content) is written as '<think>\\n…\\n</think>\\n\\n' "
        "and trained on the assistant turns after the last user query, as the model generates it; earlier "
        "turns are rendered without it, as the official template renders every turn. So reasoning_last and "
        "reasoning_history differ from deepseek-r1-distill-llama-8b by design; everything else matches."
    ),
    **_V3,
)

DEEPSEEK_CODER = DeclarativeTemplate(
    name="deepseek_coder",
    prefix="{bos_token}",
    system="{content}",
    default_system=(
        "You are an AI programming assistant, utilizing the Deepseek Coder model, developed by Deepseek "
        "Company, and you only answer questions related to computer science. For politically sensitive "
        "questions, security and privacy issues, and other non-computer science questions, you will refuse "
        "to answer\n"
    ),
    user="### Instruction:\n{content}\n",
    assistant="### Response:\n{content}\n<|EOT|>\n",
    generation_prompt="### Response:\n",
    tool="### Response:\n{content}\n<|EOT|>\n",
    without_tools="ignore",
    stop_words=("<|EOT|>",),
    family="deepseek",
    notes=(
        "deepseek-coder-*-instruct. The default system prompt ends with a newline; a given system prompt is "
        "written without one (as the official template). Tool definitions and calls are not written and tool "
        "results look like assistant turns (as the official template). Passes the whole battery."
    ),
)

FAMILY = Family(
    name="deepseek",
    templates=(DEEPSEEK3, DEEPSEEK_R1, DEEPSEEK_CODER),
    default_template="deepseek3",
    model_types=("deepseek_v2", "deepseek_v3"),
    architectures=("DeepseekV2ForCausalLM", "DeepseekV3ForCausalLM"),
    references={
        "deepseek3": "deepseek-v3",
        "deepseek_r1": "deepseek-r1-distill-llama-8b",
        "deepseek_coder": "deepseek-coder-33b-instruct",
    },
    groups=(
        ModelGroup("DeepSeek-V2.5", "deepseek-ai/DeepSeek-V2.5", "deepseek-ai/DeepSeek-V2.5", "deepseek3"),
        ModelGroup("DeepSeek-V3", "deepseek-ai/DeepSeek-V3", "deepseek-ai/DeepSeek-V3", "deepseek3"),
        ModelGroup("DeepSeek-R1", "deepseek-ai/DeepSeek-R1", "deepseek-ai/DeepSeek-R1", "deepseek_r1"),
        ModelGroup(
            "DeepSeek-R1-Distill-Qwen-1.5B",
            "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
            "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
            "deepseek_r1",
        ),
        ModelGroup(
            "DeepSeek-R1-Distill-Qwen-7B",
            "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B",
            "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B",
            "deepseek_r1",
        ),
        ModelGroup(
            "DeepSeek-R1-Distill-Qwen-32B",
            "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B",
            "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B",
            "deepseek_r1",
        ),
        ModelGroup(
            "DeepSeek-R1-Distill-Llama-8B",
            "deepseek-ai/DeepSeek-R1-Distill-Llama-8B",
            "deepseek-ai/DeepSeek-R1-Distill-Llama-8B",
            "deepseek_r1",
        ),
        ModelGroup(
            "deepseek-coder-33b-instruct",
            "deepseek-ai/deepseek-coder-33b-instruct",
            "deepseek-ai/deepseek-coder-33b-instruct",
            "deepseek_coder",
        ),
    ),
    notes=(
        "deepseek3 (vs deepseek-v3), deepseek_r1 (vs deepseek-r1-distill-llama-8b) and deepseek_coder match "
        "their official templates on the whole battery. As the official V3/R1 templates, deepseek3 and "
        "deepseek_r1 write no tool calls for string content, so tool-call turns train on an empty answer; "
        "deepseek_r1 trains no reasoning (the official history rule; see DEEPSEEK_R1_REASONING in this "
        "module for a plugin that trains it). "
        "The R1 distills have model_type qwen2/llama, so detection by config.json finds the qwen/llama "
        "family; pick these groups by name."
    ),
)


def register(catalog: Catalog) -> None:
    catalog.add_family(FAMILY)
