"""LLaMA-Factory's literal expectations for the shared templates (its tests/data/test_template.py):
the same two-turn conversation renders to exactly these strings."""

from __future__ import annotations

import pytest

from tunesmith.families import build_catalog
from tunesmith.templates.messages import Conversation

MESSAGES = [
    {"role": "user", "content": "How are you"},
    {"role": "assistant", "content": "I am fine!"},
    {"role": "user", "content": "你好"},
    {"role": "assistant", "content": "很高兴认识你！"},
]

LITERALS = {
    "llama3": (
        {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHow are you<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nI am fine!<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\n你好<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n很高兴认识你！<|eot_id|>",
    ),
    "phi4": (
        {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>"},
        "<|im_start|>user<|im_sep|>How are you<|im_end|><|im_start|>assistant<|im_sep|>I am fine!<|im_end|>"
        "<|im_start|>user<|im_sep|>你好<|im_end|><|im_start|>assistant<|im_sep|>很高兴认识你！<|im_end|>",
    ),
    "gemma": (
        {"bos_token": "<bos>", "eos_token": "<eos>"},
        "<bos><start_of_turn>user\nHow are you<end_of_turn>\n<start_of_turn>model\nI am fine!<end_of_turn>\n"
        "<start_of_turn>user\n你好<end_of_turn>\n<start_of_turn>model\n很高兴认识你！<end_of_turn>\n",
    ),
    # The generic formats (no official model template): LLaMA-Factory's register_template definitions.
    # vicuna and zephyr follow the models' own formats instead (FastChat v1.1, zephyr-7b-beta), which
    # differ from LLaMA-Factory's by spaces/newlines — see families/generic.py.
    "chatml": (
        {"bos_token": "<s>", "eos_token": "</s>"},
        "<|im_start|>user\nHow are you<|im_end|>\n<|im_start|>assistant\nI am fine!<|im_end|>\n"
        "<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n很高兴认识你！<|im_end|>\n",
    ),
    "default": (
        {"bos_token": "<s>", "eos_token": "</s>"},
        "Human: How are you</s>\nAssistant:I am fine!</s>\nHuman: 你好</s>\nAssistant:很高兴认识你！</s>\n",
    ),
    "alpaca": (
        {"bos_token": "<s>", "eos_token": "</s>"},
        "Below is an instruction that describes a task. Write a response that appropriately completes the "
        "request.\n\n### Instruction:\nHow are you\n\n### Response:\nI am fine!</s>\n\n"
        "### Instruction:\n你好\n\n### Response:\n很高兴认识你！</s>\n\n",
    ),
    "empty": ({"bos_token": "<s>", "eos_token": "</s>"}, "How are youI am fine!你好很高兴认识你！"),
}


@pytest.fixture(scope="module")
def catalog():
    return build_catalog(entry_points=False)


@pytest.mark.parametrize("name", sorted(LITERALS))
def test_llamafactory_literal(name: str, catalog) -> None:
    tokens, expected = LITERALS[name]
    template = catalog.template(name).bind(tokens)
    rendered = template.render(Conversation.from_openai(MESSAGES))
    assert rendered.text == expected


@pytest.mark.parametrize("name", sorted(LITERALS))
def test_llamafactory_literal_trains_assistant_turns(name: str, catalog) -> None:
    tokens, expected = LITERALS[name]
    rendered = catalog.template(name).bind(tokens).render(Conversation.from_openai(MESSAGES))
    trained = [rendered.text[s.start : s.end] for s in rendered.trainable_spans()]
    assert [t.split("<")[0] for t in trained] == ["I am fine!", "很高兴认识你！"]
