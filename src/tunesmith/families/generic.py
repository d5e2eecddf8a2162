"""Generic formats not tied to one model: chatml, default, alpaca, vicuna, zephyr, empty.

No model ships these as its official template, so they have no conformance reference; each is checked
by the Jinja export round trip, and chatml/default/alpaca/empty by LLaMA-Factory's literal strings
(tests/templates/test_llamafactory_literals.py). ``vicuna`` is FastChat's vicuna_v1.1 format (the
models' training format: ``"SYSTEM USER: q ASSISTANT: a</s>"``) and ``zephyr`` is zephyr-7b-beta's own
template (a newline after each ``</s>``, no default system); LLaMA-Factory's versions of these two
differ by those spaces/newlines.
"""

from tunesmith.families.spec import Catalog, Family
from tunesmith.templates.declarative import DeclarativeTemplate

CHATML = DeclarativeTemplate(
    name="chatml",
    system="<|im_start|>system\n{content}<|im_end|>\n",
    user="<|im_start|>user\n{content}<|im_end|>\n",
    assistant="<|im_start|>assistant\n{content}<|im_end|>\n",
    stop_words=("<|im_end|>",),
    family="generic",
)

DEFAULT = DeclarativeTemplate(
    name="default",
    system="System: {content}{eos_token}\n",
    user="Human: {content}{eos_token}\nAssistant:",
    assistant="{content}{eos_token}\n",
    generation_prompt="",
    family="generic",
    notes="LLaMA-Factory's 'default' template.",
)

ALPACA = DeclarativeTemplate(
    name="alpaca",
    system="{content}",
    user="### Instruction:\n{content}\n\n### Response:\n",
    assistant="{content}{eos_token}\n\n",
    generation_prompt="",
    default_system=(
        "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
    ),
    family="generic",
)

VICUNA = DeclarativeTemplate(
    name="vicuna",
    system="{content} ",
    user="USER: {content} ",
    assistant="ASSISTANT: {content}{eos_token}",
    default_system=(
        "A chat between a curious user and an artificial intelligence assistant. "
        "The assistant gives helpful, detailed, and polite answers to the user's questions."
    ),
    generation_prompt="ASSISTANT:",
    family="generic",
)

ZEPHYR = DeclarativeTemplate(
    name="zephyr",
    system="<|system|>\n{content}{eos_token}\n",
    user="<|user|>\n{content}{eos_token}\n",
    assistant="<|assistant|>\n{content}{eos_token}\n",
    family="generic",
)

EMPTY = DeclarativeTemplate(name="empty", family="generic", notes="Plain concatenation (pre-training style).")

FAMILY = Family(
    name="generic",
    templates=(CHATML, DEFAULT, ALPACA, VICUNA, ZEPHYR, EMPTY),
    default_template="chatml",
)


def register(catalog: Catalog) -> None:
    catalog.add_family(FAMILY)
