"""Packing and collation: bins, pt blocks with document boundaries, and — on a tiny llama — packed
sequences give exactly the logits and loss of the examples run alone (no attention across them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunesmith.data.collator import LeftPadCollator, SupervisedCollator, block_causal_mask
from tunesmith.data.encode import SupervisedExample, encode_supervised
from tunesmith.data.packing import chunk_documents, pack_lengths, pack_supervised, position_ids_for
from tunesmith.templates import Conversation, jinja_template_from_tokenizer
from tunesmith.templates.encode import IGNORE_INDEX

torch = pytest.importorskip("torch")


# ------------------------------------------------------------------------------- pure packing


def test_pack_lengths_best_fit_decreasing() -> None:
    bins = pack_lengths([5, 3, 8, 2, 7, 1], capacity=10)
    assert bins == [[2, 3], [1, 4], [0, 5]]  # 8+2, 3+7, 5+1 (indices ascending within a bin)
    assert sorted(i for b in bins for i in b) == list(range(6))
    with pytest.raises(ValueError, match="capacity"):
        pack_lengths([11], capacity=10)


def test_pack_lengths_is_deterministic_and_within_capacity() -> None:
    lengths = [(i * 37) % 50 + 1 for i in range(200)]
    bins = pack_lengths(lengths, 64)
    assert bins == pack_lengths(lengths, 64)
    assert all(sum(lengths[i] for i in b) <= 64 for b in bins)
    assert sorted(i for b in bins for i in b) == list(range(200))


def test_pack_supervised_restarts_positions_and_masks_first_label() -> None:
    a = ([1, 2, 3], [IGNORE_INDEX, 2, 3])
    b = ([4, 5], [4, 5])  # trained from its first token (train_on_prompt)
    (seq,) = pack_supervised([a, b], cutoff_len=8)
    assert seq.input_ids == [1, 2, 3, 4, 5]
    assert seq.labels == [IGNORE_INDEX, 2, 3, IGNORE_INDEX, 5]
    assert seq.position_ids == [0, 1, 2, 0, 1]
    assert seq.seq_lens == [3, 2]


def test_pt_chunking_keeps_document_boundaries() -> None:
    docs = [[1, 2, 3, 9], [4, 5, 9], [6, 7, 8, 10, 11, 9]]  # 9 = eos
    blocks = chunk_documents(docs, cutoff_len=5)
    assert [b.input_ids for b in blocks] == [[1, 2, 3, 9, 4], [5, 9, 6, 7, 8], [10, 11, 9]]
    assert [b.seq_lens for b in blocks] == [[4, 1], [2, 3], [3]]
    assert [b.position_ids for b in blocks] == [[0, 1, 2, 3, 0], [0, 1, 0, 1, 2], [0, 1, 2]]
    # labels = ids, except the first token of every segment (never a target without the previous one)
    assert blocks[0].labels == [IGNORE_INDEX, 2, 3, 9, IGNORE_INDEX]
    assert blocks[1].labels == [IGNORE_INDEX, 9, IGNORE_INDEX, 7, 8]
    separate = chunk_documents(docs, cutoff_len=5, concatenate=False)
    assert [b.input_ids for b in separate] == [[1, 2, 3, 9], [4, 5, 9], [6, 7, 8, 10, 11], [9]]
    assert all(len(b.seq_lens) == 1 for b in separate)


def test_position_ids_for() -> None:
    assert position_ids_for([2, 1, 3]) == [0, 1, 0, 0, 1, 2]


# ------------------------------------------------------------------------------- collators


def test_supervised_collator_right_pads() -> None:
    batch = SupervisedCollator(0, pad_to_multiple_of=4)(
        [{"input_ids": [5, 6, 7], "labels": [-100, 6, 7]}, {"input_ids": [8], "labels": [8]}]
    )
    assert batch["input_ids"].tolist() == [[5, 6, 7, 0], [8, 0, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 7, -100], [8, -100, -100, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0], [1, 0, 0, 0]]
    assert "position_ids" not in batch


def test_supervised_collator_packed_rows() -> None:
    rows = [
        {"input_ids": [1, 2, 3], "labels": [-100, 2, 3], "position_ids": [0, 1, 0]},
        {"input_ids": [4], "labels": [-100], "position_ids": [0]},
    ]
    batch = SupervisedCollator(0)(rows)
    assert "attention_mask" not in batch and batch["use_cache"] is False
    assert batch["position_ids"].tolist() == [[0, 1, 0], [0, 0, 1]]
    mask = SupervisedCollator(0, packed_attention="4d")(rows)["attention_mask"]
    assert mask.shape == (2, 1, 3, 3)
    allowed = (mask[0, 0] == 0).int().tolist()
    assert allowed == [[1, 0, 0], [1, 1, 0], [0, 0, 1]]


def test_left_pad_collator() -> None:
    batch = LeftPadCollator(0)(
        [{"input_ids": [1, 2, 3], "labels": [7]}, {"input_ids": [4], "labels": [8, 9]}]
    )
    assert batch["input_ids"].tolist() == [[1, 2, 3], [0, 0, 4]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [0, 0, 1]]
    assert batch["labels"].tolist() == [[0, 7], [8, 9]]


def test_block_causal_mask_segments() -> None:
    mask = block_causal_mask(torch.tensor([[0, 1, 0, 1, 2]]))
    allowed = (mask[0, 0] == 0).int()
    expected = torch.tensor(
        [[1, 0, 0, 0, 0], [1, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 1, 1, 0], [0, 0, 1, 1, 1]]
    )
    assert torch.equal(allowed, expected)


# ------------------------------------------------------------------------------- model equality

CONVERSATIONS = [
    [("user", "What is the capital of France?"), ("assistant", "Paris.")],
    [("user", "Hi"), ("assistant", "Hello! How can I help you today?")],
    [("system", "Be brief."), ("user", "2+2?"), ("assistant", "4"), ("user", "3+3?"), ("assistant", "6")],
    [("user", "Name a colour."), ("assistant", "Blue, like the sky.")],
    [("user", "Say yes."), ("assistant", "Yes.")],
]


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tunesmith.testing import build_tiny_model

    return build_tiny_model("llama", tmp_path_factory.mktemp("llama"))


@pytest.fixture(scope="module")
def encoded_examples(tiny_llama: Path) -> list[SupervisedExample]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_llama))
    template = jinja_template_from_tokenizer(tokenizer)
    out = []
    for turns in CONVERSATIONS:
        conv = Conversation.from_openai([{"role": r, "content": c} for r, c in turns])
        ex = encode_supervised(conv, template, tokenizer, cutoff_len=64)
        assert isinstance(ex, SupervisedExample)
        out.append(ex)
    return out


def _model(path: Path, attn: str):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(path), attn_implementation=attn, dtype=torch.float32)
    return model.eval()


def _token_losses(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Sum of next-token cross-entropies over trained positions, and their number."""
    shift_logits = logits[..., :-1, :].reshape(-1, logits.shape[-1])
    shift_labels = labels[..., 1:].reshape(-1)
    loss = torch.nn.functional.cross_entropy(
        shift_logits, shift_labels, ignore_index=IGNORE_INDEX, reduction="sum"
    )
    return loss, int((shift_labels != IGNORE_INDEX).sum())


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
@pytest.mark.parametrize("packed_attention", ["position_ids", "4d"])
def test_packed_equals_unpacked(tiny_llama: Path, encoded_examples, attn: str, packed_attention: str) -> None:
    model = _model(tiny_llama, attn)
    examples = [(e.input_ids, e.labels) for e in encoded_examples]
    longest = max(len(ids) for ids, _ in examples)
    packed = pack_supervised(examples, cutoff_len=longest + 12)
    assert len(packed) >= 2 and any(len(p.seq_lens) > 1 for p in packed)  # a real batch of packed rows
    rows = [{"input_ids": p.input_ids, "labels": p.labels, "position_ids": p.position_ids} for p in packed]
    batch = SupervisedCollator(0, packed_attention=packed_attention)(rows)
    with torch.no_grad():
        packed_logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
        packed_sum, packed_n = _token_losses(packed_logits, batch["labels"])

        # each example alone, in the order the packer placed them
        order = [i for b in pack_lengths([len(ids) for ids, _ in examples], longest + 12) for i in b]
        alone_sum, alone_n = torch.zeros(()), 0
        position = {}
        for row, p in enumerate(packed):
            start = 0
            for n in p.seq_lens:
                position[len(position)] = (row, start, n)
                start += n
        for k, i in enumerate(order):
            ids, labels = examples[i]
            logits = model(torch.tensor([ids])).logits
            row, start, n = position[k]
            assert n == len(ids)
            torch.testing.assert_close(packed_logits[row, start : start + n], logits[0], atol=1e-5, rtol=0)
            s, c = _token_losses(logits, torch.tensor([labels]))
            alone_sum, alone_n = alone_sum + s, alone_n + c
    assert packed_n == alone_n > 0
    assert abs(packed_sum.item() / packed_n - alone_sum.item() / alone_n) < 1e-5


def test_default_model_forward_needs_use_cache_false(tiny_llama: Path) -> None:
    """Why the collator sends use_cache=False: with a KV cache transformers skips packed-sequence
    detection and the second example attends to the first (checked so a transformers change shows)."""
    model = _model(tiny_llama, "sdpa")
    a, b = torch.tensor([[5, 6, 7, 8]]), torch.tensor([[9, 10, 11]])
    packed = torch.cat([a, b], 1)
    positions = torch.tensor([[0, 1, 2, 3, 0, 1, 2]])
    with torch.no_grad():
        alone = model(b).logits[0]
        isolated = model(packed, position_ids=positions, use_cache=False).logits[0, 4:]
        with_cache = model(packed, position_ids=positions, use_cache=True).logits[0, 4:]
    torch.testing.assert_close(isolated, alone, atol=1e-5, rtol=0)
    assert (with_cache - alone).abs().max() > 1e-3
