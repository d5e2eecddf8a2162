"""Qwen: Qwen2 / Qwen2-VL (no tools), Qwen2.5 (tools), QwQ (inline reasoning), Qwen3 (thinking)."""

from dataclasses import replace

from tunesmith.families.spec import Catalog, Family, ModelGroup
from tunesmith.templates.declarative import DeclarativeTemplate, ReasoningSpec

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

FAMILY = Family(
    name="qwen",
    templates=(QWEN2, QWEN2_VL, QWEN2_5, QWQ, QWEN3, QWEN3_NOTHINK),
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
    ),
)


def register(catalog: Catalog) -> None:
    catalog.add_family(FAMILY)
