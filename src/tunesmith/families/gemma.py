"""Gemma: Gemma and Gemma 2 (no system role), Gemma 3 (system merged into the first user turn)."""

from dataclasses import replace

from tunesmith.families.spec import Catalog, Family, ModelGroup
from tunesmith.templates.declarative import DeclarativeTemplate

GEMMA = DeclarativeTemplate(
    name="gemma",
    prefix="{bos_token}",
    user="<start_of_turn>user\n{content}<end_of_turn>\n",
    assistant="<start_of_turn>model\n{content}<end_of_turn>\n",
    system_style="reject",
    reject_system_message="System role not supported",
    strip_content=True,
    alternate_error="Conversation roles must alternate user/assistant/user/assistant/...",
    stop_words=("<end_of_turn>",),
    family="gemma",
    notes="Gemma and Gemma 2 (the same official template): no system role, no tools.",
)

GEMMA3 = replace(
    GEMMA,
    name="gemma3",
    system_style="merge",
    merge_system="{system}\n\n{content}",
    strip_content=("user", "assistant", "tool"),
    image_token="<start_of_image>",
    notes=(
        "Gemma 3: the (untrimmed) system text and a blank line open the first user turn; no tools. "
        "Content given as parts is trimmed as a whole (the official template trims each text part)."
    ),
)


def _g(name: str, ms: str, template: str, multimodal: bool = False) -> ModelGroup:
    return ModelGroup(name, f"google/{name}", ms, template, multimodal)


FAMILY = Family(
    name="gemma",
    templates=(GEMMA, GEMMA3),
    default_template="gemma3",
    model_types=("gemma", "gemma2", "gemma3", "gemma3_text"),
    composite={
        "gemma3": {
            "vision_tower": ("model.vision_tower",),
            "projector": ("model.multi_modal_projector",),
            "language_model": ("model.language_model", "lm_head"),
        },
    },
    architectures=(
        "GemmaForCausalLM",
        "Gemma2ForCausalLM",
        "Gemma3ForCausalLM",
        "Gemma3ForConditionalGeneration",
    ),
    references={"gemma": "gemma-7b-it", "gemma3": "gemma-3-270m-it"},
    notes=(
        "gemma-3-1b-it's template reads the system text as content[0]['text'] and fails on a plain string "
        "system message; gemma3 follows gemma-3-270m-it, which accepts both."
    ),
    groups=(
        _g("gemma-2b-it", "AI-ModelScope/gemma-2b-it", "gemma"),
        _g("gemma-7b-it", "AI-ModelScope/gemma-7b-it", "gemma"),
        _g("gemma-2-2b-it", "LLM-Research/gemma-2-2b-it", "gemma"),
        _g("gemma-2-9b-it", "LLM-Research/gemma-2-9b-it", "gemma"),
        _g("gemma-2-27b-it", "LLM-Research/gemma-2-27b-it", "gemma"),
        _g("gemma-3-270m-it", "LLM-Research/gemma-3-270m-it", "gemma3"),
        _g("gemma-3-1b-it", "LLM-Research/gemma-3-1b-it", "gemma3"),
        _g("gemma-3-4b-it", "LLM-Research/gemma-3-4b-it", "gemma3", True),
        _g("gemma-3-12b-it", "LLM-Research/gemma-3-12b-it", "gemma3", True),
        _g("gemma-3-27b-it", "LLM-Research/gemma-3-27b-it", "gemma3", True),
    ),
)


def register(catalog: Catalog) -> None:
    catalog.add_family(FAMILY)
