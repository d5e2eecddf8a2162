"""KTO feedback encoder and the exact construction of the mismatched KL pairs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunesmith.data import FeedbackExample, load_conversations
from tunesmith.data.encode import Dropped
from tunesmith.data.feedback import EncodedFeedback, encode_feedback, feedback_columns, mismatched_pairs
from tunesmith.data.pairwise import NO_RESPONSE, encode_pairwise
from tunesmith.templates import Conversation, jinja_template_from_tokenizer
from tunesmith.templates.encode import IGNORE_INDEX
from tunesmith.testing import tiny_tokenizer

IGN = IGNORE_INDEX
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="module")
def qwen():
    tok = tiny_tokenizer("qwen3")
    return tok, jinja_template_from_tokenizer(tok)


@pytest.fixture(scope="module")
def demo_feedback() -> list[FeedbackExample]:
    if not (DATA / "kto_en_demo.json").is_file():
        pytest.skip(f"kto_en_demo.json not found under {DATA} (shared/data is provided beside the checkout)")
    return list(load_conversations(["kto_en_demo"], str(DATA), stage="kto").examples)


@pytest.mark.parametrize("cutoff", [100_000, 96])
def test_demo_feedback_encodes_labels_on_the_completion_only(demo_feedback, qwen, cutoff: int) -> None:
    tok, template = qwen
    labels = []
    for example in demo_feedback:
        encoded = encode_feedback(example.conversation, example.label, template, tok, cutoff_len=cutoff)
        assert isinstance(encoded, EncodedFeedback), encoded
        ids, lab, p = encoded.example.input_ids, encoded.example.labels, encoded.prompt_len
        assert len(ids) == len(lab) <= cutoff
        assert lab[:p] == [IGN] * p
        assert any(x != IGN for x in lab[p:])
        assert encoded.label is example.label
        labels.append(encoded.label)
        if cutoff == 100_000:
            # one side of a pair with itself: the same encoding as the pairwise encoder
            pair = encode_pairwise(
                example.conversation, example.conversation, template, tok, cutoff_len=cutoff
            )
            assert (pair.chosen.input_ids, pair.chosen.labels) == (ids, lab)
    assert labels.count(True) == labels.count(False) == 150  # the demo's balance survives encoding


def test_feedback_without_final_response_is_dropped(qwen) -> None:
    tok, template = qwen
    conversation = Conversation.from_openai([{"role": "user", "content": "hi"}])
    assert encode_feedback(conversation, True, template, tok, cutoff_len=64) == Dropped(NO_RESPONSE)


def test_feedback_columns(qwen) -> None:
    tok, template = qwen
    conversation = Conversation.from_openai(
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    )
    encoded = encode_feedback(conversation, False, template, tok, cutoff_len=64)
    columns = feedback_columns([encoded])
    assert columns == {
        "input_ids": [encoded.example.input_ids],
        "labels": [encoded.example.labels],
        "prompt_len": [encoded.prompt_len],
        "kto_label": [False],
    }


FEATURES = [
    {"input_ids": [1, 2, 3, 4, 5], "labels": [IGN, IGN, IGN, 4, 5], "prompt_len": 3},
    {"input_ids": [6, 7, 8, 9], "labels": [IGN, IGN, 8, 9], "prompt_len": 2},
    {"input_ids": [10, 11, 12, 13, 14, 15], "labels": [IGN, IGN, IGN, IGN, IGN, 15], "prompt_len": 4},
]


def test_mismatched_pairs_prompt_i_with_completion_i_plus_1() -> None:
    assert mismatched_pairs(FEATURES) == [
        {"input_ids": [1, 2, 3, 8, 9], "labels": [IGN, IGN, IGN, 8, 9]},
        {"input_ids": [6, 7, 14, 15], "labels": [IGN, IGN, IGN, 15]},
        {"input_ids": [10, 11, 12, 13, 4, 5], "labels": [IGN, IGN, IGN, IGN, 4, 5]},
    ]


def test_mismatched_pairs_trl_direction() -> None:
    """offset -1 is trl's rotation: (x_1, y_n), (x_2, y_1), …"""
    assert [p["input_ids"] for p in mismatched_pairs(FEATURES, offset=-1)] == [
        [1, 2, 3, 14, 15],
        [6, 7, 4, 5],
        [10, 11, 12, 13, 8, 9],
    ]


def test_mismatched_pairs_use_every_completion_once() -> None:
    pairs = mismatched_pairs(FEATURES)
    completions = sorted(
        tuple(p["input_ids"][f["prompt_len"] :]) for p, f in zip(pairs, FEATURES, strict=True)
    )
    assert completions == sorted(tuple(f["input_ids"][f["prompt_len"] :]) for f in FEATURES)


def test_mismatched_pairs_max_length_keeps_prompt_and_completion_head() -> None:
    assert mismatched_pairs(FEATURES, max_length=5)[2] == {
        "input_ids": [10, 11, 12, 13, 4],
        "labels": [IGN] * 4 + [4],
    }


def test_mismatched_pairs_single_example_pairs_with_itself() -> None:
    assert mismatched_pairs(FEATURES[:1]) == [{"input_ids": [1, 2, 3, 4, 5], "labels": [IGN, IGN, IGN, 4, 5]}]
