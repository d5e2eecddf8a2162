"""Phi: Phi-3 / Phi-3.5 (mini, small, MoE), phi-4, Phi-4-mini, Phi-4-reasoning.

None of these official templates writes tool definitions or tool calls; they are ignored as the official
templates ignore them (tool results are dropped, except by Phi-4-mini, which writes ``<|tool|>`` turns).
"""

from dataclasses import replace

from tunesmith.families.spec import Catalog, Family, ModelGroup
from tunesmith.templates.declarative import DeclarativeTemplate, ToolSnippets

_IGNORES_TOOLS = "Tool definitions and tool calls are not written (as the official template)."

PHI = DeclarativeTemplate(
    name="phi",
    system="<|system|>\n{content}<|end|>\n",
    user="<|user|>\n{content}<|end|>\n",
    assistant="<|assistant|>\n{content}<|end|>\n",
    tool="",
    suffix="{eos_token}",
    skip_empty_system=True,
    inner_system=True,
    without_tools="ignore",
    stop_words=("<|end|>",),
    family="phi",
    notes="Phi-3.5-mini / Phi-3.5-MoE: an empty system message is left out; tool results are dropped. "
    + _IGNORES_TOOLS,
)

PHI3 = replace(
    PHI,
    name="phi3",
    skip_empty_system=False,
    notes="Phi-3-mini: as 'phi' but an empty system message is written. " + _IGNORES_TOOLS,
)

PHI_SMALL = replace(
    PHI,
    name="phi_small",
    prefix="{bos_token}",
    tool="<|tool|>\n{content}<|end|>\n",
    skip_empty_system=False,
    notes="Phi-3-small: BOS first; every role, tool included, is a '<|role|>' turn. " + _IGNORES_TOOLS,
)

PHI4 = DeclarativeTemplate(
    name="phi4",
    system="<|im_start|>system<|im_sep|>{content}<|im_end|>",
    user="<|im_start|>user<|im_sep|>{content}<|im_end|><|im_start|>assistant<|im_sep|>",
    assistant="{content}<|im_end|>",
    generation_prompt="",
    tool="",
    inner_system=True,
    without_tools="ignore",
    stop_words=("<|im_end|>",),
    family="phi",
    notes=(
        "phi-4: every user turn ends with the assistant header (the official template has no separate "
        "generation prompt); tool results are dropped. " + _IGNORES_TOOLS
    ),
)

PHI4_MINI = DeclarativeTemplate(
    name="phi4_mini",
    system="<|system|>{content}<|end|>",
    user="<|user|>{content}<|end|>",
    assistant="<|assistant|>{content}<|end|>",
    tool="<|tool|>{content}<|end|>",
    suffix="{eos_token}",
    inner_system=True,
    without_tools="ignore",
    tool_format="phi4_mini",
    snippets=ToolSnippets(calls="{{- content }}"),  # the official template writes no tool calls
    stop_words=("<|end|>",),
    family="phi",
    notes=(
        "Phi-4-mini: tool results are '<|tool|>' turns. Not supported declaratively: tool definitions, which "
        "the official template reads from a 'tools' key of the system message (not the tools argument). "
        + _IGNORES_TOOLS
        + " Replies are read with the 'phi4_mini' tool format (<|tool_call|>[...]<|/tool_call|>, as the model "
        "card's tool prompt asks for)."
    ),
)

PHI4_REASONING_SYSTEM = (
    "You are Phi, a language model trained by Microsoft to help users. Your role as an assistant involves "
    "thoroughly exploring questions through a systematic thinking process before providing the final precise "
    "and accurate solutions. This requires engaging in a comprehensive cycle of analysis, summarizing, "
    "exploration, reassessment, reflection, backtracing, and iteration to develop well-considered thinking "
    "process. Please structure your response into two main sections: Thought and Solution using the specified "
    "format: <think> {Thought section} </think> {Solution section}. In the Thought section, detail your "
    "reasoning process in steps. Each step should include detailed considerations such as analysing questions, "
    "summarizing relevant findings, brainstorming new ideas, verifying the accuracy of the current steps, "
    "refining any errors, and revisiting previous steps. In the Solution section, based on various attempts, "
    "explorations, and reflections from the Thought section, systematically present the final solution that "
    "you deem correct. The Solution section should be logical, accurate, and concise and detail necessary steps "
    "needed to reach the conclusion. Now, try to solve the following question through the above guidelines:"
)

PHI4_REASONING = DeclarativeTemplate(
    name="phi4_reasoning",
    prefix="<|im_start|>system<|im_sep|>" + PHI4_REASONING_SYSTEM + "<|im_end|>",
    system_style="drop",
    user="<|im_start|>user<|im_sep|>{content}<|im_end|>",
    assistant="<|im_start|>assistant<|im_sep|>{content}<|im_end|>",
    tool="",
    without_tools="ignore",
    stop_words=("<|im_end|>",),
    family="phi",
    notes=(
        "Phi-4-reasoning: a fixed system prompt always comes first; system messages are not written (as the "
        "official template; a warning says so), and reasoning given in reasoning_content is not written "
        "either (the official template writes only the content: write reasoning inline as "
        "<think>…</think>). " + _IGNORES_TOOLS
    ),
)


def _g(name: str, template: str, ms_org: str = "LLM-Research") -> ModelGroup:
    return ModelGroup(name, f"microsoft/{name}", f"{ms_org}/{name}", template)


FAMILY = Family(
    name="phi",
    templates=(PHI, PHI3, PHI_SMALL, PHI4, PHI4_MINI, PHI4_REASONING),
    default_template="phi4",
    model_types=("phi3", "phimoe", "phi3small"),
    architectures=("Phi3ForCausalLM", "PhiMoEForCausalLM", "Phi3SmallForCausalLM"),
    references={
        "phi": "phi-3_5-mini-instruct",
        "phi3": "phi-3-mini-4k-instruct",
        "phi_small": "phi-3-small-8k-instruct",
        "phi4": "phi-4",
        "phi4_mini": "phi-4-mini-instruct",
        "phi4_reasoning": "phi-4-reasoning",
    },
    groups=(
        _g("Phi-3-mini-4k-instruct", "phi3"),
        _g("Phi-3-mini-128k-instruct", "phi3"),
        _g("Phi-3-small-8k-instruct", "phi_small"),
        _g("Phi-3.5-mini-instruct", "phi"),
        _g("Phi-3.5-MoE-instruct", "phi"),
        _g("phi-4", "phi4"),
        _g("Phi-4-mini-instruct", "phi4_mini"),
        _g("Phi-4-reasoning", "phi4_reasoning"),
    ),
)


def register(catalog: Catalog) -> None:
    catalog.add_family(FAMILY)
