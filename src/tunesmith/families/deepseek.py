"""DeepSeek: DeepSeek-V2.5, DeepSeek-V3, DeepSeek-R1 (+ its Qwen/Llama distills), deepseek-coder.

Conformance against the shared corpus (template x battery shape):

* ``deepseek3`` vs deepseek-v3: every shape passes except ``tools`` and ``parallel_tools``. The official
  template ignores ``tools=`` entirely, drops the tool calls of an assistant turn whose content is ``""``
  (it only writes calls when content is ``None``), opens the first tool result of the whole conversation
  with ``<｜tool▁outputs▁begin｜>``, joins later results with ``"\\n"`` and writes the next assistant turn
  with ``<｜tool▁outputs▁end｜>`` *instead of* ``<｜Assistant｜>``. The spec has no "assistant header after
  tool results" nor "drop calls" switch, so tool shapes are refused (use the model's own template).
  vs deepseek-v2_5: additionally ``system`` and ``empty_system`` differ — that template emits eight
  spaces before the BOS whenever a system message is present (a whitespace leak in its Jinja source).
  The distills' template (deepseek-r1-distill-llama-8b) differs from V3 only in splitting ``</think>``
  out of history content, so ``deepseek3`` matches it on the same 12 of 14 shapes.
* ``deepseek_r1``: as ``deepseek3`` plus reasoning kept (``<think>\\n…\\n</think>\\n\\n``) on the assistant
  turns after the last user query. The official R1 template drops reasoning from *every* turn, because
  at serving time the last turn is generated, not templated; training on it must keep the reasoning the
  model is to learn. So ``reasoning_last`` and ``reasoning_history`` differ on purpose (the final turn
  carries its reasoning); every earlier turn renders as the official template does. Also differs: the
  official splits ``</think>`` out of history content without ``lstrip('\\n')``; the Qwen-32B distill's
  multi-line template revision writes ``"\\n"`` after the BOS; later R1 revisions append ``<think>\\n``
  to the generation prompt.
* ``deepseek_coder`` passes the whole battery against deepseek-coder-33b-instruct (its reference). Like
  the official template it ignores ``tools=`` and tool calls (``without_tools="ignore"``) and writes a
  tool result as a ``### Response:`` turn (the official treats every non-user role as the assistant).

``deepseek3`` and ``deepseek_r1`` do not pass the whole battery, so they name no reference; models that
ship their own Jinja template (all groups below) are rendered with it by default.
"""

from tunesmith.families.spec import Catalog, Family, ModelGroup
from tunesmith.templates.declarative import DeclarativeTemplate, ReasoningSpec

_V3 = dict(
    prefix="{bos_token}",
    system="{content}",
    user="<｜User｜>{content}",
    assistant="<｜Assistant｜>{content}<｜end▁of▁sentence｜>",
    stop_words=("<｜end▁of▁sentence｜>",),
    family="deepseek",
)

DEEPSEEK3 = DeclarativeTemplate(
    name="deepseek3",
    notes=(
        "DeepSeek-V2.5 / V3 turns. Matches deepseek-v3 on every battery shape but tools/parallel_tools "
        "(tool definitions are refused: the official template's tool-result turns change the next assistant "
        "header, which the spec cannot express). The system text follows the BOS with no separator."
    ),
    **_V3,
)

DEEPSEEK_R1 = DeclarativeTemplate(
    name="deepseek_r1",
    reasoning=ReasoningSpec(
        open="<think>\n", close="\n</think>\n\n", keep="after_last_query", block_on_last=False
    ),
    notes=(
        "DeepSeek-R1 for training reasoning. History rule: reasoning is rendered (and trained) only on the "
        "assistant turns after the last user query; earlier turns are rendered without it, as the official "
        "template renders every turn. The official template drops reasoning from the final turn as well, so "
        "reasoning_last/reasoning_history differ from it by design; tools are refused as in deepseek3."
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
    references={"deepseek_coder": "deepseek-coder-33b-instruct"},
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
        "deepseek_coder matches its official template on the whole battery; deepseek3 and deepseek_r1 do not "
        "(tool turns, see the module docstring), so for V2.5/V3/R1 the model's own Jinja template — tunesmith's default whenever the model ships "
        "one, as every DeepSeek chat model does — is preferred; deepseek3 is the declarative fallback. The "
        "R1 distills have model_type qwen2/llama, so detection by config.json finds the qwen/llama family; "
        "pick these groups by name."
    ),
)


def register(catalog: Catalog) -> None:
    catalog.add_family(FAMILY)
