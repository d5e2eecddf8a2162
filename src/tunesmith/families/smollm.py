"""SmolLM: SmolLM2 (ChatML with a default system prompt) and SmolLM3 (metadata system block, /think).

Conformance against the shared corpus (template x battery shape):

* ``smollm2`` passes the whole battery against smollm2-135m-instruct (its reference). Like the official
  template it ignores ``tools=`` and tool calls (``without_tools="ignore"``) and writes tool results as
  ``<|im_start|>tool`` turns.
* ``smollm3`` (thinking on, the official default) and ``smollm3_nothink`` (the official template with
  ``enable_thinking=False``) pass the whole battery against smollm3-3b. Like the official template they
  ignore ``tools=``, drop tool calls and write tool results as ``user`` turns; an empty system prompt
  means the default one; the system prompt is ``rstrip()``-ed and assistant text ``lstrip("\\n")``-ed.
  ``enable_thinking=False`` with ``smollm3`` renders ``smollm3_nothink`` (as the official switch does).
  ``/think`` / ``/no_think`` inside a system prompt switch the official template's mode and are removed
  from the text; these templates refuse such a system prompt with an error instead of guessing.
  The official template never renders a message's reasoning field (nor do these templates): SmolLM3
  reasoning data must carry ``<think>…</think>`` inside the assistant content.
"""

from tunesmith.families.spec import Catalog, Family, ModelGroup
from tunesmith.templates.declarative import DeclarativeTemplate

_CHATML = dict(
    user="<|im_start|>user\n{content}<|im_end|>\n",
    assistant="<|im_start|>assistant\n{content}<|im_end|>\n",
    stop_words=("<|im_end|>",),
    family="smollm",
)
# SmolLM3's template ignores tools=, drops tool calls and writes tool results as user turns.
_SMOLLM3_TOOLS = dict(tool="<|im_start|>user\n{content}<|im_end|>\n", without_tools="ignore")
# An empty system prompt means the default one; the system prompt is rstrip()-ed, assistant text lstrip("\n")-ed.
_SMOLLM3_TEXT = dict(
    empty_system_default=True,
    partial_strip={"system": "rstrip", "assistant": "lstrip_newlines"},
    system_refuse=("/think", "/no_think"),
)

SMOLLM2 = DeclarativeTemplate(
    name="smollm2",
    system="<|im_start|>system\n{content}<|im_end|>\n",
    default_system="You are a helpful AI assistant named SmolLM, trained by Hugging Face",
    tool="<|im_start|>tool\n{content}<|im_end|>\n",
    without_tools="ignore",
    notes="SmolLM2 instruct models: ChatML with a default system prompt; tool definitions and calls are not "
    "written (as the official template). Passes the whole battery.",
    **_CHATML,
)

_SMOLLM3_SYSTEM = (
    "<|im_start|>system\n## Metadata\n\nKnowledge Cutoff Date: June 2025\nReasoning Mode: {mode}\n\n"
    "## Custom Instructions\n\n{{content}}\n\n<|im_end|>\n"
)
_SMOLLM3_THINK_DEFAULT = (
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face. Your role as an assistant involves "
    "thoroughly exploring questions through a systematic thinking process before providing the final precise "
    "and accurate solutions. This requires engaging in a comprehensive cycle of analysis, summarizing, "
    "exploration, reassessment, reflection, backtracking, and iteration to develop well-considered thinking "
    "process. Please structure your response into two main sections: Thought and Solution using the specified "
    "format: <think> Thought section </think> Solution section. In the Thought section, detail your reasoning "
    "process in steps. Each step should include detailed considerations such as analysing questions, "
    "summarizing relevant findings, brainstorming new ideas, verifying the accuracy of the current steps, "
    "refining any errors, and revisiting previous steps. In the Solution section, based on various attempts, "
    "explorations, and reflections from the Thought section, systematically present the final solution that "
    "you deem correct. The Solution section should be logical, accurate, and concise and detail necessary "
    "steps needed to reach the conclusion."
)

SMOLLM3_NOTHINK = DeclarativeTemplate(
    name="smollm3_nothink",
    system=_SMOLLM3_SYSTEM.format(mode="/no_think"),
    default_system="You are a helpful AI assistant named SmolLM, trained by Hugging Face.",
    user="<|im_start|>user\n{content}<|im_end|>\n",
    assistant="<|im_start|>assistant\n<think>\n\n</think>\n{content}<|im_end|>\n",
    stop_words=("<|im_end|>",),
    family="smollm",
    **_SMOLLM3_TOOLS,
    **_SMOLLM3_TEXT,
    notes="SmolLM3 with thinking off (the official template with enable_thinking=False).",
)

SMOLLM3 = DeclarativeTemplate(
    name="smollm3",
    system=_SMOLLM3_SYSTEM.format(mode="/think"),
    default_system=_SMOLLM3_THINK_DEFAULT,
    **_SMOLLM3_TOOLS,
    **_SMOLLM3_TEXT,
    thinking_off=SMOLLM3_NOTHINK,
    notes=(
        "SmolLM3 with thinking on (the official default); enable_thinking=False renders smollm3_nothink. "
        "System prompts containing /think or /no_think are refused (the official template switches modes on "
        "them). Reasoning fields are not rendered (as the official): put <think>…</think> in content."
    ),
    **_CHATML,
)

FAMILY = Family(
    name="smollm",
    templates=(SMOLLM2, SMOLLM3, SMOLLM3_NOTHINK),
    default_template="smollm2",
    model_types=("smollm3",),
    architectures=("SmolLM3ForCausalLM",),
    references={"smollm2": "smollm2-135m-instruct", "smollm3": "smollm3-3b", "smollm3_nothink": "smollm3-3b"},
    reference_kwargs={"smollm3_nothink": {"enable_thinking": False}},
    groups=(
        ModelGroup("SmolLM2-135M-Instruct", "HuggingFaceTB/SmolLM2-135M-Instruct", None, "smollm2"),
        ModelGroup("SmolLM2-360M-Instruct", "HuggingFaceTB/SmolLM2-360M-Instruct", None, "smollm2"),
        ModelGroup("SmolLM2-1.7B-Instruct", "HuggingFaceTB/SmolLM2-1.7B-Instruct", None, "smollm2"),
        ModelGroup("SmolLM3-3B", "HuggingFaceTB/SmolLM3-3B", None, "smollm3"),
    ),
    notes="SmolLM2 has model_type 'llama' and is found by name, not detection.",
)


def register(catalog: Catalog) -> None:
    catalog.add_family(FAMILY)
