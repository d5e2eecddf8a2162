"""LLaMA-Factory's own demo datasets (shared/data), loaded through its unchanged dataset_info.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tunesmith.data import (
    ConversationExample,
    DataError,
    FeedbackExample,
    PairExample,
    RecordRef,
    TextExample,
    load_conversations,
)
from tunesmith.templates.messages import Conversation, Message, Part, ToolCall

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
pytestmark = pytest.mark.skipif(
    not (DATA / "dataset_info.json").is_file(),
    reason=f"LLaMA-Factory demo data not found at {DATA} (shared/data is provided beside the checkout)",
)


def raw(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def test_alpaca_en_demo() -> None:
    loaded = load_conversations(["alpaca_en_demo"], str(DATA))
    assert len(loaded.examples) == 999
    assert not loaded.report
    first = loaded.examples[0]
    output = raw("alpaca_en_demo.json")[0]["output"]
    assert output.startswith("Making crepes is an easy and delicious process!")
    assert first == ConversationExample(
        Conversation((Message("user", "Describe a process of making crepes."), Message("assistant", output))),
        RecordRef("alpaca_en_demo", str(DATA / "alpaca_en_demo.json"), 0),
    )


def test_alpaca_joins_instruction_and_input() -> None:
    records = raw("alpaca_en_demo.json")
    row = next(i for i, r in enumerate(records) if r["input"])
    example = load_conversations("alpaca_en_demo", DATA).examples[row]
    assert (
        example.conversation.messages[0].content == records[row]["instruction"] + "\n" + records[row]["input"]
    )
    assert example.source.row == row


def test_identity_keeps_placeholders() -> None:
    loaded = load_conversations(["identity"], str(DATA))
    assert len(loaded.examples) == 91
    assert loaded.examples[0].conversation == Conversation(
        (
            Message("user", "hi"),
            Message(
                "assistant",
                "Hello! I am {{name}}, an AI assistant developed by {{author}}. How can I assist you today?",
            ),
        )
    )


def test_alpaca_zh_demo() -> None:
    loaded = load_conversations(["alpaca_zh_demo"], str(DATA))
    assert len(loaded.examples) == 1000
    first = loaded.examples[0].conversation
    assert first.messages[0] == Message("user", "识别并解释给定列表中的两个科学理论：细胞理论和日心说。")
    assert first.messages[1] == Message("assistant", raw("alpaca_zh_demo.json")[0]["output"])
    assert first.tools is None


def test_glaive_toolcall_tools_and_calls() -> None:
    loaded = load_conversations(["glaive_toolcall_en_demo"], str(DATA))
    assert len(loaded.examples) == 300
    assert not loaded.report
    conversation = loaded.examples[0].conversation
    assert conversation.tools == (
        {
            "type": "function",
            "function": {
                "name": "search_recipes",
                "description": "Search for recipes based on ingredients",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "ingredients": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "The ingredients to search for",
                        }
                    },
                    "required": ["ingredients"],
                },
            },
        },
    )
    turns = raw("glaive_toolcall_en_demo.json")[0]["conversations"]
    assert [m.role for m in conversation.messages] == [
        "user", "assistant", "user", "assistant", "tool", "assistant", "user", "assistant",
    ]  # fmt: skip
    call = conversation.messages[3]
    assert call == Message(
        "assistant",
        "",
        tool_calls=(ToolCall("search_recipes", {"ingredients": ["chicken", "bell peppers", "rice"]}),),
    )
    assert conversation.messages[4] == Message("tool", turns[4]["value"])
    assert conversation.messages[2] == Message("user", "I have chicken, bell peppers, and rice.")
    # records whose tools column is "[]" have no tools
    records = raw("glaive_toolcall_en_demo.json")
    row = next(i for i, r in enumerate(records) if r["tools"] == "[]")
    assert loaded.examples[row].conversation.tools is None


def test_c4_demo_pretrain() -> None:
    loaded = load_conversations(["c4_demo"], str(DATA), stage="pt")
    assert len(loaded.examples) == 300
    first = loaded.examples[0]
    text = json.loads((DATA / "c4_demo.jsonl").read_text(encoding="utf-8").splitlines()[0])["text"]
    assert text.startswith("Don’t think you need all the bells and whistles? No problem.")
    assert first == TextExample(text, RecordRef("c4_demo", str(DATA / "c4_demo.jsonl"), 0, 1))


def test_wiki_demo_pretrain() -> None:
    loaded = load_conversations(["wiki_demo"], str(DATA), stage="pt")
    assert len(loaded.examples) == 30
    first_line = (DATA / "wiki_demo.txt").read_text(encoding="utf-8").split("\n")[0]
    assert first_line.startswith("Anarchism is a political philosophy and movement")
    assert loaded.examples[0] == TextExample(
        first_line, RecordRef("wiki_demo", str(DATA / "wiki_demo.txt"), 0, 1)
    )


def test_dpo_en_demo_pairs() -> None:
    loaded = load_conversations(["dpo_en_demo"], str(DATA), stage="dpo")
    assert len(loaded.examples) == 300
    assert all(isinstance(e, PairExample) for e in loaded.examples)
    record = raw("dpo_en_demo.json")[0]
    prompt = Message(
        "user",
        "Hi! I'd like to create a new language game simulating the first person perspective of a character named Angela.",
    )
    first = loaded.examples[0]
    assert first.chosen == Conversation((prompt, Message("assistant", record["chosen"]["value"])))
    assert first.rejected == Conversation((prompt, Message("assistant", record["rejected"]["value"])))
    # a record that starts with a system turn keeps it in both conversations
    records = raw("dpo_en_demo.json")
    row = next(i for i, r in enumerate(records) if r["conversations"][0]["from"] == "system")
    pair = loaded.examples[row]
    system = Message("system", records[row]["conversations"][0]["value"])
    assert pair.chosen.messages[0] == system and pair.rejected.messages[0] == system
    assert pair.chosen.messages[:-1] == pair.rejected.messages[:-1]


def test_dpo_dataset_refused_for_sft() -> None:
    with pytest.raises(DataError, match="ranking dataset"):
        load_conversations(["dpo_en_demo"], str(DATA), stage="sft")


def test_kto_en_demo_labels() -> None:
    loaded = load_conversations(["kto_en_demo"], str(DATA), stage="kto")
    records = raw("kto_en_demo.json")
    assert len(loaded.examples) == 300
    assert all(isinstance(e, FeedbackExample) for e in loaded.examples)
    assert [e.label for e in loaded.examples] == [r["label"] for r in records]
    assert sum(e.label for e in loaded.examples) == 150
    first = loaded.examples[0]
    assert first.label is True
    assert first.conversation == Conversation(
        (
            Message("user", records[0]["messages"][0]["content"]),
            Message("assistant", records[0]["messages"][1]["content"]),
        )
    )


def test_mllm_demo_images() -> None:
    loaded = load_conversations(["mllm_demo"], str(DATA))
    assert len(loaded.examples) == 6
    image = str(DATA / "mllm_demo_data" / "1.jpg")
    assert loaded.examples[0].conversation == Conversation(
        (
            Message(
                "user",
                (
                    Part("image", source=image),
                    Part("image", source=image),
                    Part("text", "<image>Who are they?"),
                ),
            ),
            Message("assistant", "They're Kane and Gretzka from Bayern Munich."),
            Message("user", "What are they doing?<image>"),
            Message("assistant", "They are celebrating on the soccer field."),
        )
    )
    for example in loaded.examples:
        media = example.conversation.messages[0].media
        assert media and all(Path(p.source).is_file() for p in media)
        assert all(Path(p.source).parent == DATA / "mllm_demo_data" for p in media)


def test_all_demo_datasets_together() -> None:
    loaded = load_conversations("alpaca_en_demo,identity,alpaca_zh_demo,glaive_toolcall_en_demo", DATA)
    assert loaded.counts == {
        "alpaca_en_demo": 999,
        "identity": 91,
        "alpaca_zh_demo": 1000,
        "glaive_toolcall_en_demo": 300,
    }
    assert len(loaded.examples) == 2390
