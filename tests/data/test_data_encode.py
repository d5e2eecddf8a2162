"""Encoders: exact sft labels from the template's spans, turn-wise truncation, predict prompts, pt."""

from __future__ import annotations

import pytest

from tunesmith.data.encode import (
    NO_TRAINABLE,
    Dropped,
    PromptExample,
    SupervisedExample,
    encode_supervised,
    encode_unsupervised,
    no_trainable_after_truncation,
    tokenize_document,
    turn_layout,
)
from tunesmith.data.truncation import Turn, TurnLayout, infer_seqlen, plan_truncation
from tunesmith.templates import Conversation, LabelOptions, encode_rendered, jinja_template_from_tokenizer
from tunesmith.templates.encode import IGNORE_INDEX
from tunesmith.testing import tiny_tokenizer

IGN = IGNORE_INDEX


def conv(*turns: tuple[str, str]) -> Conversation:
    return Conversation.from_openai([{"role": r, "content": c} for r, c in turns])


@pytest.fixture(scope="module")
def qwen():
    tok = tiny_tokenizer("qwen3")
    return tok, jinja_template_from_tokenizer(tok)


@pytest.fixture(scope="module")
def llama():
    tok = tiny_tokenizer("llama")
    return tok, jinja_template_from_tokenizer(tok)


def ids(tok, text: str) -> list[int]:
    return tok(text, add_special_tokens=False)["input_ids"]


# ------------------------------------------------------------------------------- infer_seqlen


@pytest.mark.parametrize(
    ("source", "target", "cutoff", "expected"),
    [
        (3000, 2000, 1000, (600, 400)),
        (1000, 100, 1000, (900, 100)),
        (100, 1000, 1000, (100, 900)),
        (10, 10, 1000, (10, 10)),
        (2000, 2000, 1000, (500, 500)),
    ],
)
def test_infer_seqlen_table(source: int, target: int, cutoff: int, expected: tuple[int, int]) -> None:
    assert infer_seqlen(source, target, cutoff) == expected


# ------------------------------------------------------------------------------- exact labels


def test_sft_labels_qwen3_exact(qwen) -> None:
    tok, template = qwen
    ex = encode_supervised(conv(("user", "Hi"), ("assistant", "Hello!")), template, tok, cutoff_len=512)
    assert isinstance(ex, SupervisedExample) and not ex.truncated
    text = tok.decode(ex.input_ids)
    prompt = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    assert text.startswith(prompt)
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    trained = [*ids(tok, "<think>\n\n</think>\n\nHello!"), im_end]
    expected = [IGN] * len(ids(tok, prompt)) + trained + [IGN] * len(ids(tok, "\n"))
    assert ex.input_ids == ids(tok, text)
    assert ex.labels == expected
    # the same as the template engine's spans, from one tokenization
    rendered = template.render(conv(("user", "Hi"), ("assistant", "Hello!")))
    assert ex.labels == encode_rendered(tok, rendered).labels


def test_sft_labels_llama_exact_multi_turn(llama) -> None:
    tok, template = llama
    c = conv(
        ("system", "Be brief."),
        ("user", "Hi"),
        ("assistant", "Hello!"),
        ("user", "Bye"),
        ("assistant", "Ciao."),
    )
    ex = encode_supervised(c, template, tok, cutoff_len=512)
    assert isinstance(ex, SupervisedExample)
    eot = tok.convert_tokens_to_ids("<|eot_id|>")
    head = "<|start_header_id|>assistant<|end_header_id|>\n\n"
    p1 = (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        f"<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>{head}"
    )
    p2 = f"<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>{head}"
    # "\n\n" before the answer is two tokens in context ("\n\n" alone would be one): count in context
    n1 = len(ids(tok, p1 + "Hello!")) - len(ids(tok, "Hello!"))
    n2 = len(ids(tok, p2 + "Ciao.")) - len(ids(tok, "Ciao."))
    expected = [IGN] * n1 + ids(tok, "Hello!") + [eot]
    expected += [IGN] * n2 + ids(tok, "Ciao.") + [eot]
    assert ex.labels == expected
    history = encode_supervised(
        c, template, tok, cutoff_len=512, label_options=LabelOptions(mask_history=True)
    )
    assert history.labels == [IGN] * (len(expected) - len(ids(tok, "Ciao.")) - 1) + ids(tok, "Ciao.") + [eot]
    everything = encode_supervised(
        c, template, tok, cutoff_len=512, label_options=LabelOptions(train_on_prompt=True)
    )
    assert everything.labels == everything.input_ids


# ------------------------------------------------------------------------------- truncation


def test_plan_truncation_keeps_prefix_and_whole_turns() -> None:
    layout = TurnLayout(40, 4, (Turn(4, 10, 12, 20), Turn(20, 28, 30, 40)))
    assert plan_truncation(layout, 40) == [range(0, 40)]
    # turn 1 fits whole (16); turn 2 gets 10 of its 20: source tail 5 (≥ header 2) + target head 5
    assert plan_truncation(layout, 30) == [range(0, 4), range(4, 20), range(25, 35)]
    # mask_history: the last turn first
    assert plan_truncation(layout, 24, last_turn_first=True) == [range(0, 4), range(20, 40)]


def test_plan_truncation_never_separates_header_from_response() -> None:
    # source 30 (header 5), target 1000; budget 20 → infer_seqlen gives source 1, so the header wins
    layout = TurnLayout(1030, 0, (Turn(0, 25, 30, 1030),))
    assert infer_seqlen(30, 1000, 20)[0] < 5
    (kept,) = plan_truncation(layout, 20)
    assert kept == range(25, 45)  # the whole header, then the response's head
    # not even the header plus one response token fits → nothing trainable is kept
    assert plan_truncation(layout, 5) == []


def test_plan_truncation_huge_prefix_becomes_prompt_head() -> None:
    layout = TurnLayout(100, 60, (Turn(60, 70, 72, 100),))
    kept = plan_truncation(layout, 50)
    assert kept[0].start > 0 and sum(len(r) for r in kept) <= 50


def test_truncated_example_keeps_header_and_response_head(qwen) -> None:
    tok, template = qwen
    long_user = "tell me " * 200
    c = conv(
        ("system", "Be brief."),
        ("user", "Hi"),
        ("assistant", "Hello!"),
        ("user", long_user),
        ("assistant", "Sure " * 50),
    )
    ex = encode_supervised(c, template, tok, cutoff_len=96)
    assert isinstance(ex, SupervisedExample) and ex.truncated and len(ex.input_ids) <= 96
    text = tok.decode(ex.input_ids)
    assert text.startswith("<|im_start|>system\nBe brief.<|im_end|>\n")  # prefix kept
    assert "Hello!<|im_end|>" in text  # first turn whole
    trained_at = next(
        i
        for i in range(len(ex.labels) - 1, -1, -1)
        if ex.labels[i] == IGN and i < len(ex.labels) - 1 and ex.labels[i + 1] != IGN
    )
    header = ids(tok, "<|im_start|>assistant\n")
    assert ex.input_ids[trained_at + 1 - len(header) : trained_at + 1] == header  # header right before
    assert tok.decode([t for t in ex.labels[trained_at + 1 :] if t != IGN]).startswith("<think>")


def test_turns_that_do_not_fit_are_dropped(llama) -> None:
    tok, template = llama
    c = conv(("user", "Hi"), ("assistant", "Hello!"), ("user", "Bye " * 40), ("assistant", "Ciao."))
    full = encode_supervised(c, template, tok, cutoff_len=1024)
    first_turn_len = full.labels.index(tok.convert_tokens_to_ids("<|eot_id|>"), 10) + 1
    ex = encode_supervised(c, template, tok, cutoff_len=first_turn_len + 3)
    assert isinstance(ex, SupervisedExample)
    assert "Ciao" not in tok.decode([t for t in ex.labels if t != IGN])
    assert ex.input_ids[:first_turn_len] == full.input_ids[:first_turn_len]


def test_no_trainable_after_truncation_is_dropped(llama) -> None:
    tok, template = llama
    c = conv(("user", "word " * 300), ("assistant", "ok"))
    # BOS is kept (1 ≤ 5/2); the 5-token assistant header plus one answer token do not fit in 4
    out = encode_supervised(c, template, tok, cutoff_len=5)
    assert out == Dropped(no_trainable_after_truncation(5))
    assert out.reason == "no trainable tokens after truncation to cutoff_len=5"
    kept = encode_supervised(c, template, tok, cutoff_len=8)  # header + "ok" + eot fit: trained
    assert isinstance(kept, SupervisedExample) and tok.decode(kept.input_ids[-2:]) == "ok<|eot_id|>"


def test_zero_weight_assistant_is_dropped(llama) -> None:
    tok, template = llama
    c = Conversation.from_openai(
        [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "x", "loss_weight": 0}]
    )
    assert encode_supervised(c, template, tok, cutoff_len=64) == Dropped(NO_TRAINABLE)


def test_turn_layout_matches_rendering(qwen) -> None:
    tok, template = qwen
    c = conv(
        ("system", "Be brief."),
        ("user", "Hi"),
        ("assistant", "Hello!"),
        ("user", "Bye"),
        ("assistant", "Ciao."),
    )
    rendered = template.render(c)
    enc = encode_rendered(tok, rendered)
    layout = turn_layout(rendered, enc.offsets)
    assert tok.decode(enc.input_ids[: layout.prefix_len]) == "<|im_start|>system\nBe brief.<|im_end|>\n"
    assert len(layout.turns) == 2 and layout.turns[-1].target_end == len(enc.input_ids)
    for turn in layout.turns:
        assert tok.decode(enc.input_ids[turn.header_start : turn.target_start]) == "<|im_start|>assistant\n"


# ------------------------------------------------------------------------------- predict, pt


def test_unsupervised_prompt_is_the_generation_prompt(qwen) -> None:
    tok, template = qwen
    c = conv(("user", "Hi"), ("assistant", "Hello!"))
    ex = encode_unsupervised(c, template, tok, cutoff_len=512)
    assert isinstance(ex, PromptExample)
    expected = tok.apply_chat_template(
        [{"role": "user", "content": "Hi"}], add_generation_prompt=True, tokenize=False
    )
    assert tok.decode(ex.input_ids) == expected
    assert ex.label_text == "Hello!" and ex.label_ids == ids(tok, "Hello!")
    short = encode_unsupervised(
        conv(("system", "S"), ("user", "long " * 100), ("assistant", "x")), template, tok, cutoff_len=20
    )
    assert len(short.input_ids) == 20 and short.truncated
    assert tok.decode(short.input_ids).endswith("<|im_start|>assistant\n")


def test_tokenize_document_appends_eos(llama) -> None:
    tok, _ = llama
    assert tokenize_document("Hello world", tok) == [*ids(tok, "Hello world"), tok.eos_token_id]
    assert isinstance(tokenize_document("  \n", tok), Dropped)
