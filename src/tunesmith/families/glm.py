"""GLM: ChatGLM3, GLM-4 (glm-4-9b-chat) and GLM-4.5 / GLM-4.6 (glm4_moe).

GLM turns have no end-of-turn marker: the model stops by emitting the next role token (``<|user|>`` or
``<|observation|>``, both in its generation config's ``eos_token_id``). So the trained part of an
assistant turn is its content only; the stop is learnt from nothing in the text — as with the official
template, whose rendering we reproduce.

Conformance against the shared corpus (template x battery shape):

* ``chatglm3`` passes the whole battery against chatglm3-6b (its reference). Like the official template
  it ignores ``tools=`` and tool calls (``without_tools="ignore"``) and writes tool results as
  ``<|tool|>`` turns.
* ``glm4`` vs glm-4-9b-chat: every shape passes except ``tools`` and ``parallel_tools``. The official
  template ignores ``tools=`` (it reads definitions from a per-message ``tools`` key) and skips every
  message whose content is empty — so an assistant turn that only carries tool calls disappears,
  header included. The spec cannot drop a whole turn, so tool shapes are refused.
* ``glm4_moe`` vs glm-4_6 (non-thinking rendering): passes 10 of 14 shapes (assistant content is
  stripped, as the official does). Differs on ``reasoning_last``/``reasoning_history`` (the official writes
  ``<think>{reasoning.strip()}</think>`` on turns after the last user message and an empty
  ``<think></think>`` on every other turn — the spec's reasoning block is all-or-nothing per turn, with
  no "empty block on history turns" rule), and the two tool shapes (XML ``<arg_key>`` calls, tool results
  grouped under ``<|observation|>``, not expressible without a GLM-4.5 tool format in the spec's export).
"""

from tunesmith.families.spec import Catalog, Family, ModelGroup
from tunesmith.templates.declarative import DeclarativeTemplate

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
    user="<|user|>\n{content}",
    assistant="<|assistant|>\n{content}",
    generation_prompt="<|assistant|>",
    stop_words=_STOP,
    family="glm",
    notes=(
        "GLM-4-9B-Chat. The official template skips every message with empty content (an empty system prompt "
        "renders nothing). Matches it on every shape but the tool shapes."
    ),
)

GLM4_MOE = DeclarativeTemplate(
    name="glm4_moe",
    prefix="[gMASK]<sop>",
    system="<|system|>\n{content}",
    user="<|user|>\n{content}",
    assistant="<|assistant|>\n<think></think>\n{content}",
    strip_content=("assistant",),
    generation_prompt="<|assistant|>",
    stop_words=_STOP,
    family="glm",
    notes=(
        "GLM-4.5 / GLM-4.6 without thinking: every assistant turn carries an empty <think></think> and its "
        "content stripped. Differs from the official template on reasoning (rendered by the official on turns "
        "after the last user message; here never) and on tools. Use the model's own template to train "
        "reasoning or tool use."
    ),
)

FAMILY = Family(
    name="glm",
    templates=(CHATGLM3, GLM4, GLM4_MOE),
    default_template="glm4",
    model_types=("chatglm", "glm", "glm4", "glm4_moe"),
    references={"chatglm3": "chatglm3-6b"},
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
        "chatglm3 matches its official template on the whole battery; glm4 and glm4_moe do not (tool turns; "
        "GLM-4.6 also reasoning), so for GLM-4 models the model's own Jinja template — tunesmith's default whenever the model "
        "ships one — is preferred; glm4 is the declarative fallback. model_type 'chatglm' covers both "
        "chatglm3-6b and the remote-code glm-4-9b-chat; pick the group by name to get the right template."
    ),
)


def register(catalog: Catalog) -> None:
    catalog.add_family(FAMILY)
