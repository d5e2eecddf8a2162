"""Converters: alpaca / sharegpt / openai records → typed conversations, one rule at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tunesmith.data.converters import convert_record
from tunesmith.data.examples import ConversationExample, PairExample, RecordRef, TextExample
from tunesmith.data.info import parse_dataset_attr
from tunesmith.data.report import Reason, RecordError
from tunesmith.templates.messages import Conversation, Message, Part, ToolCall

REF = RecordRef("t", "t.json", 0)


def convert(
    entry: dict[str, Any], record: dict[str, Any], kind: str = "conversation", base: Path | None = None
):
    attr = parse_dataset_attr("t", {"file_name": "t.json", **entry})
    return convert_record(record, attr, REF, kind=kind, dataset_dir=base)  # type: ignore[arg-type]


def failure(
    entry: dict[str, Any], record: dict[str, Any], kind: str = "conversation", base: Path | None = None
):
    with pytest.raises(RecordError) as info:
        convert(entry, record, kind, base)
    return info.value


# --------------------------------------------------------------------------- alpaca


def test_alpaca_history_system_and_query() -> None:
    entry = {
        "columns": {
            "prompt": "instruction",
            "query": "input",
            "response": "output",
            "history": "history",
            "system": "system",
        }
    }
    record = {
        "instruction": "Translate",
        "input": "bonjour",
        "output": "hello",
        "system": "Be brief.",
        "history": [["q1", "a1"], ["q2", "a2"]],
    }
    example = convert(entry, record)
    assert example == ConversationExample(
        Conversation(
            (
                Message("system", "Be brief."),
                Message("user", "q1"),
                Message("assistant", "a1"),
                Message("user", "q2"),
                Message("assistant", "a2"),
                Message("user", "Translate\nbonjour"),
                Message("assistant", "hello"),
            )
        ),
        REF,
    )


def test_alpaca_missing_input_is_fine_missing_output_is_not() -> None:
    assert convert({}, {"instruction": "hi", "output": "yo"}).conversation.messages[0] == Message(
        "user", "hi"
    )
    assert failure({}, {"instruction": "hi"}).reason is Reason.MISSING_COLUMN
    assert failure({}, {"output": "yo"}).reason is Reason.MISSING_COLUMN
    assert failure({}, {"instruction": "", "input": " ", "output": "yo"}).reason is Reason.EMPTY_TURN
    assert failure({}, {"instruction": 3, "input": "", "output": "yo"}).reason is Reason.NON_STRING_CONTENT
    bad_history = {"columns": {"prompt": "instruction", "response": "output", "history": "history"}}
    assert (
        failure(bad_history, {"instruction": "a", "output": "b", "history": [["x"]]}).reason
        is Reason.INVALID_VALUE
    )


def test_alpaca_ranking_pairs() -> None:
    entry = {
        "ranking": True,
        "columns": {"prompt": "instruction", "chosen": "chosen", "rejected": "rejected"},
    }
    example = convert(entry, {"instruction": "q", "chosen": "good", "rejected": "bad"}, kind="pair")
    assert isinstance(example, PairExample)
    assert example.chosen.messages == (Message("user", "q"), Message("assistant", "good"))
    assert example.rejected.messages == (Message("user", "q"), Message("assistant", "bad"))
    assert failure(entry, {"instruction": "q", "chosen": "good"}, kind="pair").reason is Reason.MISSING_COLUMN


def test_alpaca_kto_label_must_be_bool() -> None:
    entry = {"columns": {"prompt": "prompt", "response": "completion", "kto_tag": "label"}}
    example = convert(entry, {"prompt": "q", "completion": "a", "label": False}, kind="feedback")
    assert example.label is False
    assert (
        failure(entry, {"prompt": "q", "completion": "a", "label": "no"}, kind="feedback").reason
        is Reason.INVALID_VALUE
    )


def test_pretrain_text() -> None:
    assert convert({"columns": {"prompt": "text"}}, {"text": "doc"}, kind="text") == TextExample("doc", REF)
    assert convert({}, {"instruction": "a", "input": "b", "output": "c"}, kind="text").text == "a\nb"
    sharegpt = {"formatting": "sharegpt"}
    record = {"conversations": [{"from": "system", "value": "s"}, {"from": "human", "value": "u"}]}
    assert convert(sharegpt, record, kind="text").text == "u"
    assert failure({"columns": {"prompt": "text"}}, {"text": "  "}, kind="text").reason is Reason.EMPTY_TURN


# --------------------------------------------------------------------------- sharegpt


def test_sharegpt_system_column_and_parallel_calls() -> None:
    entry = {
        "formatting": "sharegpt",
        "columns": {"messages": "conversations", "system": "system", "tools": "tools"},
    }
    record = {
        "system": "sys",
        "tools": [{"name": "f", "parameters": {}}, {"type": "function", "function": {"name": "g"}}],
        "conversations": [
            {"from": "human", "value": "call both"},
            {
                "from": "function_call",
                "value": '[{"name": "f", "arguments": {"x": 1}}, {"name": "g", "arguments": "{}"}]',
            },
            {"from": "observation", "value": "[1, 2]"},
            {"from": "gpt", "value": "done"},
        ],
    }
    conversation = convert(entry, record).conversation
    assert conversation == Conversation(
        (
            Message("system", "sys"),
            Message("user", "call both"),
            Message("assistant", "", tool_calls=(ToolCall("f", {"x": 1}), ToolCall("g", {}))),
            Message("tool", "[1, 2]"),
            Message("assistant", "done"),
        ),
        (
            {"type": "function", "function": {"name": "f", "parameters": {}}},
            {"type": "function", "function": {"name": "g"}},
        ),
    )


def test_sharegpt_invalid_tools() -> None:
    entry = {"formatting": "sharegpt", "columns": {"messages": "conversations", "tools": "tools"}}
    record = {
        "tools": "[{broken",
        "conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}],
    }
    assert failure(entry, record).reason is Reason.INVALID_TOOLS


def test_sharegpt_ranking_prompt_must_end_with_user() -> None:
    entry = {
        "formatting": "sharegpt",
        "ranking": True,
        "columns": {"messages": "conversations", "chosen": "chosen", "rejected": "rejected"},
    }
    turns = [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}]
    record = {
        "conversations": turns,
        "chosen": {"from": "gpt", "value": "c"},
        "rejected": {"from": "gpt", "value": "d"},
    }
    assert failure(entry, record, kind="pair").reason is Reason.WRONG_ROLE_ORDER
    record["rejected"] = {"from": "human", "value": "d"}
    record["conversations"] = turns[:1]
    assert failure(entry, record, kind="pair").reason is Reason.WRONG_ROLE_ORDER


# --------------------------------------------------------------------------- openai


def test_openai_tool_calls_and_grouped_tool_results() -> None:
    record = {
        "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "weather in A and B?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "1", "type": "function", "function": {"name": "w", "arguments": '{"city": "A"}'}},
                    {"id": "2", "type": "function", "function": {"name": "w", "arguments": {"city": "B"}}},
                ],
            },
            {"role": "tool", "content": "sunny", "tool_call_id": "1"},
            {"role": "tool", "content": "rainy", "tool_call_id": "2"},
            {"role": "assistant", "content": "A sunny, B rainy."},
        ],
        "tools": [{"type": "function", "function": {"name": "w"}}],
    }
    entry = {"formatting": "openai", "columns": {"messages": "messages", "tools": "tools"}}
    conversation = convert(entry, record).conversation
    assert conversation.messages == (
        Message("system", "sys"),
        Message("user", "weather in A and B?"),
        Message(
            "assistant", "", tool_calls=(ToolCall("w", {"city": "A"}, "1"), ToolCall("w", {"city": "B"}, "2"))
        ),
        Message("tool", "sunny", tool_call_id="1"),
        Message("tool", "rainy", tool_call_id="2"),
        Message("assistant", "A sunny, B rainy."),
    )
    assert conversation.tools == ({"type": "function", "function": {"name": "w"}},)


def test_openai_defaults_and_wrong_order() -> None:
    entry = {"formatting": "openai"}
    ok = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}
    assert convert(entry, ok).conversation.messages[1] == Message("assistant", "b")
    two_users = {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}
    assert failure(entry, two_users).reason is Reason.WRONG_ROLE_ORDER


# --------------------------------------------------------------------------- media


MLLM = {
    "formatting": "sharegpt",
    "columns": {"messages": "messages", "images": "images"},
    "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"},
}


def mllm_record(text: str, images: Any) -> dict[str, Any]:
    return {
        "messages": [{"role": "user", "content": text}, {"role": "assistant", "content": "ok"}],
        "images": images,
    }


def test_media_resolved_and_attached(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(b"x")
    conversation = convert(MLLM, mllm_record("<image>What?", ["img/a.png"]), base=tmp_path).conversation
    assert conversation.messages[0] == Message(
        "user", (Part("image", source=str(tmp_path / "img" / "a.png")), Part("text", "<image>What?"))
    )
    # a single path (not a list) and URLs are accepted; URLs are not checked
    single = convert(MLLM, mllm_record("<image>What?", "https://x/y.png"), base=tmp_path).conversation
    assert single.messages[0].media == (Part("image", source="https://x/y.png"),)
    # no images and no placeholder: a text-only record of a multimodal dataset
    assert convert(MLLM, mllm_record("What?", None), base=tmp_path).conversation.messages[0] == Message(
        "user", "What?"
    )


def test_media_errors(tmp_path: Path) -> None:
    missing = failure(MLLM, mllm_record("<image>What?", ["nope.png"]), base=tmp_path)
    assert missing.reason is Reason.MISSING_MEDIA and "nope.png" in missing.detail
    (tmp_path / "a.png").write_bytes(b"x")
    mismatch = failure(MLLM, mllm_record("What?", ["a.png"]), base=tmp_path)
    assert mismatch.reason is Reason.MEDIA_MISMATCH
    assert "0 <image> placeholders in the text but 1 images given" in mismatch.detail
    assert (
        failure(MLLM, mllm_record("<image><image>", ["a.png"]), base=tmp_path).reason is Reason.MEDIA_MISMATCH
    )


def test_hub_media_kept_as_given() -> None:
    example = convert(MLLM, mllm_record("<image>What?", [{"path": "remote/a.png", "bytes": None}]), base=None)
    assert example.conversation.messages[0].media == (Part("image", source="remote/a.png"),)
