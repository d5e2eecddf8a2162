"""Prompt-only examples for online RL: conversion (alpaca / sharegpt / openai / ranking), exact prompt
ids from the template, truncation, bad-row reports, and the extra columns kept for reward functions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tunesmith.data import load_conversations
from tunesmith.data.converters import convert_record
from tunesmith.data.encode import EMPTY_PROMPT, Dropped, truncate_prompt
from tunesmith.data.examples import PromptOnlyExample, RecordRef
from tunesmith.data.info import parse_dataset_attr
from tunesmith.data.prompts import EncodedPrompt, encode_prompt, encode_prompts
from tunesmith.data.report import DataError, Reason, RecordError
from tunesmith.templates import Conversation, jinja_template_from_tokenizer
from tunesmith.templates.messages import Message
from tunesmith.testing import tiny_tokenizer

REF = RecordRef("t", "t.json", 0)


def convert(entry: dict[str, Any], record: dict[str, Any]) -> PromptOnlyExample:
    attr = parse_dataset_attr("t", {"file_name": "t.json", **entry})
    example = convert_record(record, attr, REF, kind="prompt", dataset_dir=None)
    assert isinstance(example, PromptOnlyExample)
    return example


@pytest.fixture(scope="module")
def qwen():
    tok = tiny_tokenizer("qwen3")
    return tok, jinja_template_from_tokenizer(tok)


# --------------------------------------------------------------------------- conversion


def test_alpaca_prompt_with_and_without_response_keeps_every_column() -> None:
    record = {"instruction": "Add", "input": "2 and 3", "output": "5", "answer": 5, "solution": "2+3=5"}
    example = convert({}, record)
    assert example.conversation == Conversation((Message("user", "Add\n2 and 3"),))
    assert example.reference == "5"
    assert example.columns == record  # answer/solution (any type) reach the reward functions
    bare = convert({}, {"instruction": "Add 2 and 3", "answer": "5"})
    assert bare.reference is None and bare.columns["answer"] == "5"


def test_sharegpt_prompt_is_the_conversation_up_to_the_last_user_turn() -> None:
    turns = [
        {"from": "system", "value": "Be brief."},
        {"from": "human", "value": "q1"},
        {"from": "gpt", "value": "a1"},
        {"from": "human", "value": "q2"},
        {"from": "gpt", "value": "a2"},
    ]
    example = convert({"formatting": "sharegpt"}, {"conversations": turns})
    assert [m.role for m in example.conversation.messages] == ["system", "user", "assistant", "user"]
    assert example.conversation.messages[-1].text == "q2" and example.reference == "a2"
    open_ended = convert({"formatting": "sharegpt"}, {"conversations": turns[:4], "solution": "a2"})
    assert open_ended.conversation == example.conversation and open_ended.reference is None
    assert open_ended.columns["solution"] == "a2"


def test_openai_prompt_ending_on_tool_results() -> None:
    messages = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "", "tool_calls": [{"name": "w", "arguments": {}}]},
        {"role": "tool", "content": "sunny"},
    ]
    example = convert({"formatting": "openai"}, {"messages": messages})
    assert [m.role for m in example.conversation.messages] == ["user", "assistant", "tool"]
    assert example.reference is None


def test_ranking_record_gives_its_prompt_and_the_chosen_answer_as_reference() -> None:
    entry = {"formatting": "sharegpt", "ranking": True}
    record = {
        "conversations": [{"from": "human", "value": "Pick"}],
        "chosen": {"from": "gpt", "value": "good"},
        "rejected": {"from": "gpt", "value": "bad"},
    }
    example = convert(entry, record)
    assert example.conversation == Conversation((Message("user", "Pick"),)) and example.reference == "good"
    alpaca = convert(
        {"ranking": True, "columns": {"prompt": "q", "chosen": "c", "rejected": "r"}},
        {"q": "Pick", "c": "good", "r": "bad"},
    )
    assert alpaca.reference == "good"


def test_a_conversation_starting_with_the_assistant_is_a_bad_record() -> None:
    attr = parse_dataset_attr("t", {"file_name": "t.json", "formatting": "sharegpt"})
    with pytest.raises(RecordError) as info:
        convert_record(
            {"conversations": [{"from": "gpt", "value": "hi"}]}, attr, REF, kind="prompt", dataset_dir=None
        )
    assert info.value.reason == Reason.WRONG_ROLE_ORDER


def test_loader_reports_bad_rows_by_file_and_row_and_keeps_the_rest(tmp_path: Path) -> None:
    rows = [
        {"conversations": [{"from": "human", "value": "ok"}], "answer": "1"},
        {"conversations": [{"from": "gpt", "value": "no user"}]},
        {"conversations": [{"from": "human", "value": 7}]},
    ]
    (tmp_path / "p.json").write_text(json.dumps(rows))
    (tmp_path / "dataset_info.json").write_text(
        json.dumps({"p": {"file_name": "p.json", "formatting": "sharegpt"}})
    )
    loaded = load_conversations(["p"], tmp_path, stage="grpo")
    assert len(loaded.examples) == 1 and isinstance(loaded.examples[0], PromptOnlyExample)
    assert [(b.file.endswith("p.json"), b.row) for b in loaded.report.examples] == [(True, 1), (True, 2)]
    with pytest.raises(DataError, match=r"p\.json, row 1"):
        load_conversations(["p"], tmp_path, stage="ppo", on_bad_record="error")


# --------------------------------------------------------------------------- encoding


def test_prompt_ids_are_the_template_rendering_with_the_generation_prompt(qwen) -> None:
    tok, template = qwen
    example = PromptOnlyExample(Conversation((Message("user", "Say hi"),)), REF, "hi", {"answer": "hi"})
    encoded = encode_prompt(example, template, tok, cutoff_len=1024)
    assert isinstance(encoded, EncodedPrompt)
    # <|im_start|>user\nSay hi<|im_end|>\n<|im_start|>assistant\n
    assert encoded.input_ids == [1026, 324, 267, 198, 50, 413, 220, 71, 72, 1024, 198, 1026, 752, 198]
    assert (
        encoded.input_ids
        == tok.apply_chat_template(
            [{"role": "user", "content": "Say hi"}], add_generation_prompt=True, tokenize=True
        )["input_ids"]
    )
    assert encoded.text == "<|im_start|>user\nSay hi<|im_end|>\n<|im_start|>assistant\n"
    assert encoded.reference == "hi" and encoded.columns == {"answer": "hi"} and not encoded.truncated


def test_default_system_is_added_when_the_prompt_has_none(qwen) -> None:
    tok, template = qwen
    example = PromptOnlyExample(Conversation((Message("user", "Hi"),)), REF)
    encoded = encode_prompt(example, template, tok, cutoff_len=1024, default_system="Be kind.")
    assert isinstance(encoded, EncodedPrompt)
    assert encoded.text.startswith("<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\nHi")
    messages = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi"}]
    assert (
        encoded.input_ids
        == tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)["input_ids"]
    )


def test_long_prompt_keeps_the_system_prefix_and_its_tail(qwen) -> None:
    tok, template = qwen
    conversation = Conversation((Message("system", "S"), Message("user", "word " * 200 + "END")))
    full = encode_prompt(PromptOnlyExample(conversation, REF), template, tok, cutoff_len=100_000)
    cut = encode_prompt(PromptOnlyExample(conversation, REF), template, tok, cutoff_len=40)
    assert isinstance(full, EncodedPrompt) and isinstance(cut, EncodedPrompt)
    assert cut.truncated and len(cut.input_ids) == 40
    prefix = len(tok("<|im_start|>system\nS<|im_end|>\n", add_special_tokens=False)["input_ids"])
    assert cut.input_ids[:prefix] == full.input_ids[:prefix]
    assert cut.input_ids[prefix:] == full.input_ids[-(40 - prefix) :]  # ends with the generation prompt
    assert cut.text == tok.decode(cut.input_ids, skip_special_tokens=False)
    assert truncate_prompt([1, 2, 3, 4, 5, 6], 1, 4) == [1, 4, 5, 6]
    assert truncate_prompt([1, 2, 3, 4, 5, 6], 3, 4) == [3, 4, 5, 6]  # a prefix over half: tail only


def test_refused_and_empty_prompts_are_dropped_and_counted(qwen) -> None:
    tok, template = qwen
    good = PromptOnlyExample(Conversation((Message("user", "Hi"),)), REF)
    empty = PromptOnlyExample(
        Conversation((Message("system", "only a system"),)), RecordRef("t", "t.json", 1)
    )
    assert encode_prompt(empty, template, tok, cutoff_len=64) == Dropped(EMPTY_PROMPT)
    kept, stats = encode_prompts([good, empty], template, tok, cutoff_len=64)
    assert len(kept) == 1 and stats.examples_in == 2 and stats.dropped == {EMPTY_PROMPT: 1}
    assert stats.dropped_examples[0]["row"] == 1 and stats.total_tokens == len(kept[0].input_ids)
