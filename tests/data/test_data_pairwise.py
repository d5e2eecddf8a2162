"""Pairwise encoder: chosen and rejected share one prompt rendering; labels only on the responses;
truncation keeps both responses (the sft rule, final turn first)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunesmith.data import PairExample, load_conversations
from tunesmith.data.encode import NO_TRAINABLE, Dropped, encode_supervised
from tunesmith.data.pairwise import (
    NO_RESPONSE,
    PROMPT_MISMATCH,
    EncodedPair,
    encode_pairwise,
    pair_from_row,
    pairwise_columns,
    plan_shared_truncation,
)
from tunesmith.data.truncation import Turn, TurnLayout
from tunesmith.templates import Conversation, LabelOptions, encode_rendered, jinja_template_from_tokenizer
from tunesmith.templates.encode import IGNORE_INDEX
from tunesmith.testing import tiny_tokenizer

IGN = IGNORE_INDEX
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
needs_demo = pytest.mark.skipif(
    not (DATA / "dpo_en_demo.json").is_file(),
    reason=f"LLaMA-Factory demo data not found at {DATA} (shared/data is provided beside the checkout)",
)


def conv(*turns: tuple[str, str]) -> Conversation:
    return Conversation.from_openai([{"role": r, "content": c} for r, c in turns])


@pytest.fixture(scope="module", params=["qwen3", "llama"])
def tok_template(request):
    tok = tiny_tokenizer(request.param)
    return tok, jinja_template_from_tokenizer(tok)


@pytest.fixture(scope="module")
def demo_pairs() -> list[PairExample]:
    if not (DATA / "dpo_en_demo.json").is_file():
        pytest.skip(f"dpo_en_demo.json not found under {DATA}")
    return list(load_conversations(["dpo_en_demo"], str(DATA), stage="dpo").examples)


def full_ids(conversation: Conversation, template, tok) -> list[int]:
    return encode_rendered(tok, template.render(conversation)).input_ids


def check_pair(pair: EncodedPair, cutoff: int) -> None:
    p = pair.prompt_len
    chosen, rejected = pair.chosen, pair.rejected
    assert chosen.input_ids[:p] == rejected.input_ids[:p]
    for side in (chosen, rejected):
        assert len(side.input_ids) == len(side.labels) <= cutoff
        assert side.labels[:p] == [IGN] * p
        assert any(x != IGN for x in side.labels[p:])
        # trained tokens carry their own id
        assert all(lab in (IGN, tid) for lab, tid in zip(side.labels, side.input_ids, strict=True))


# ------------------------------------------------------------------------------- the demo data


@needs_demo
def test_demo_pairs_untruncated_match_the_sft_tokenization(demo_pairs, tok_template) -> None:
    tok, template = tok_template
    for example in demo_pairs:
        pair = encode_pairwise(example.chosen, example.rejected, template, tok, cutoff_len=100_000)
        assert isinstance(pair, EncodedPair), pair
        check_pair(pair, 100_000)
        assert not pair.truncated
        # exactly the ids of rendering each conversation once, as sft and serving see them
        assert pair.chosen.input_ids == full_ids(example.chosen, template, tok)
        assert pair.rejected.input_ids == full_ids(example.rejected, template, tok)
        # labels: exactly sft's with mask_history (only the final response; some demo pairs are multi-turn)
        for conversation, side in ((example.chosen, pair.chosen), (example.rejected, pair.rejected)):
            sft = encode_supervised(
                conversation, template, tok, cutoff_len=100_000, label_options=LabelOptions(mask_history=True)
            )
            assert side.labels == sft.labels


@needs_demo
@pytest.mark.parametrize("cutoff", [64, 200])
def test_demo_pairs_truncated_keep_both_responses(demo_pairs, tok_template, cutoff: int) -> None:
    tok, template = tok_template
    truncated = 0
    for example in demo_pairs[:120]:
        pair = encode_pairwise(example.chosen, example.rejected, template, tok, cutoff_len=cutoff)
        assert isinstance(pair, EncodedPair), pair
        check_pair(pair, cutoff)
        truncated += pair.truncated
        whole_c = full_ids(example.chosen, template, tok)
        whole_r = full_ids(example.rejected, template, tok)
        untruncated = encode_pairwise(example.chosen, example.rejected, template, tok, cutoff_len=100_000)
        p0, p = untruncated.prompt_len, pair.prompt_len
        # each response keeps its head; the prompt keeps its tail (ending with the assistant header)
        assert whole_c[p0 : p0 + len(pair.chosen.input_ids) - p] == pair.chosen.input_ids[p:]
        assert whole_r[p0 : p0 + len(pair.rejected.input_ids) - p] == pair.rejected.input_ids[p:]
        assert _head_plus_tail(pair.chosen.input_ids[:p], whole_c[:p0])
        if pair.truncated:
            # the longer response fills the budget: the responses share one token budget
            longest = max(len(pair.chosen.input_ids), len(pair.rejected.input_ids))
            assert longest == cutoff
    assert truncated > 0


def _head_plus_tail(kept: list[int], prompt: list[int]) -> bool:
    """``kept`` is a (possibly empty) head of ``prompt`` followed by a non-empty tail of it: the
    prefix rule, and the prompt still ends with the assistant header."""
    return any(
        kept[:k] == prompt[:k] and kept[k:] == prompt[len(prompt) - (len(kept) - k) :]
        for k in range(len(kept))
    )


@needs_demo
def test_truncated_longer_side_equals_sft_truncation(demo_pairs, tok_template) -> None:
    """The pair is cut like sft cuts the longer side (final turn first, as ``mask_history``): that
    side's ids and labels equal ``encode_supervised``'s exactly, and the other keeps the same prompt."""
    tok, template = tok_template
    checked = 0
    for example in demo_pairs[:60]:
        pair = encode_pairwise(example.chosen, example.rejected, template, tok, cutoff_len=96)
        if not pair.truncated:
            continue
        c_len = len(full_ids(example.chosen, template, tok))
        r_len = len(full_ids(example.rejected, template, tok))
        longer, side = (example.chosen, pair.chosen) if c_len >= r_len else (example.rejected, pair.rejected)
        sft = encode_supervised(
            longer, template, tok, cutoff_len=96, label_options=LabelOptions(mask_history=True)
        )
        assert (sft.input_ids, sft.labels) == (side.input_ids, side.labels)
        checked += 1
    assert checked > 10


# ----------------------------------------------------------------------------- hand-made pairs


def test_multi_turn_pair_masks_history_and_shares_the_prompt(tok_template) -> None:
    tok, template = tok_template
    history = [
        ("system", "Be brief."),
        ("user", "Hi"),
        ("assistant", "Hello!"),
        ("user", "Capital of France?"),
    ]
    pair = encode_pairwise(
        conv(*history, ("assistant", "Paris.")),
        conv(*history, ("assistant", "Lyon, I think.")),
        template,
        tok,
        cutoff_len=4096,
    )
    assert isinstance(pair, EncodedPair)
    check_pair(pair, 4096)
    # the earlier assistant turn ("Hello!") is prompt: untrained
    assert tok.decode([t for t in pair.chosen.labels if t != IGN]).startswith(("Paris.", "<think>"))
    assert "Paris." in tok.decode([t for t in pair.chosen.labels if t != IGN])
    assert "Lyon" in tok.decode([t for t in pair.rejected.labels if t != IGN])
    assert "Hello!" not in tok.decode([t for t in pair.chosen.labels if t != IGN])
    assert "Hello!" in tok.decode(pair.chosen.input_ids[: pair.prompt_len])


def test_truncation_keeps_prefix_and_prompt_tail_for_a_long_prompt(tok_template) -> None:
    tok, template = tok_template
    long_question = " ".join(f"word{i}" for i in range(300))
    c = conv(("system", "S."), ("user", long_question), ("assistant", "Yes. " * 40))
    r = conv(("system", "S."), ("user", long_question), ("assistant", "No."))
    pair = encode_pairwise(c, r, template, tok, cutoff_len=128)
    assert isinstance(pair, EncodedPair) and pair.truncated
    check_pair(pair, 128)
    assert len(pair.chosen.input_ids) == 128
    prompt_text = tok.decode(pair.chosen.input_ids[: pair.prompt_len])
    assert "S." in prompt_text  # the prefix (system) stays
    assert "word299" in prompt_text and "word0 " not in prompt_text  # the question keeps its tail
    rejected_response = tok.decode(pair.rejected.input_ids[pair.prompt_len :])
    assert "No." in rejected_response  # the short response is whole


def test_prompts_that_differ_are_dropped(tok_template) -> None:
    tok, template = tok_template
    result = encode_pairwise(
        conv(("user", "A?"), ("assistant", "a")),
        conv(("user", "B?"), ("assistant", "b")),
        template,
        tok,
        cutoff_len=512,
    )
    assert isinstance(result, Dropped) and result.reason == PROMPT_MISMATCH


def test_conversation_without_final_response_is_dropped(tok_template) -> None:
    tok, template = tok_template
    result = encode_pairwise(
        conv(("user", "A?")), conv(("user", "A?"), ("assistant", "b")), template, tok, cutoff_len=512
    )
    assert result == Dropped(NO_RESPONSE)


def test_untrained_response_is_dropped(tok_template) -> None:
    tok, template = tok_template
    rejected = Conversation.from_openai(
        [{"role": "user", "content": "A?"}, {"role": "assistant", "content": "b", "loss_weight": 0}]
    )
    result = encode_pairwise(
        conv(("user", "A?"), ("assistant", "a")), rejected, template, tok, cutoff_len=512
    )
    assert isinstance(result, Dropped) and result.reason == NO_TRAINABLE


def test_columns_round_trip(tok_template) -> None:
    tok, template = tok_template
    pair = encode_pairwise(
        conv(("user", "A?"), ("assistant", "yes")),
        conv(("user", "A?"), ("assistant", "no")),
        template,
        tok,
        cutoff_len=512,
    )
    columns = pairwise_columns([pair])
    row = {k: v[0] for k, v in columns.items()}
    chosen, rejected = pair_from_row(row)
    assert (chosen.input_ids, chosen.labels) == (pair.chosen.input_ids, pair.chosen.labels)
    assert (rejected.input_ids, rejected.labels) == (pair.rejected.input_ids, pair.rejected.labels)


# ------------------------------------------------------------------------ the truncation plan


LAYOUT = TurnLayout(
    length=50, prefix_len=4, turns=(Turn(source_start=4, header_start=17, target_start=20, target_end=50),)
)


def test_plan_fits_whole() -> None:
    assert plan_shared_truncation(LAYOUT, 20, [30, 10], 50) == ([range(0, 20)], 30)


def test_plan_short_prompt_kept_whole() -> None:
    # budget 36 after the prefix; infer_seqlen(16, 30, 36) = (16, 20)
    assert plan_shared_truncation(LAYOUT, 20, [30, 10], 40) == ([range(0, 4), range(4, 20)], 20)


def test_plan_prompt_keeps_its_tail() -> None:
    # budget 26; infer_seqlen(16, 30, 26) = (10, 16): the prompt keeps tokens 10..19
    assert plan_shared_truncation(LAYOUT, 20, [30, 10], 30) == ([range(0, 4), range(10, 20)], 16)


def test_plan_uses_the_longest_response() -> None:
    assert plan_shared_truncation(LAYOUT, 20, [5, 30], 30) == ([range(0, 4), range(10, 20)], 16)
