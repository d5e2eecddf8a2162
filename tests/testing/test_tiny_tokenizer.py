from __future__ import annotations

import time

import pytest

from tunesmith.testing import build_tokenizer

TRICKY = [
    "Hello, world!",
    "  leading and trailing spaces  ",
    "\n\nnewlines\n\n\n",
    "\t tabs\tand  runs   of spaces \n",
    "你好，世界！这是一个测试。",
    "日本語とカタカナ、한국어",
    "emoji 😀👍🏽 family 👨‍👩‍👧‍👦 flag 🇫🇷 and ❤️",
    'mixed 中文 English 😀\n  code: {"a": [1, 2]}  ',
    "é (composed) vs é (decomposed); ß, ǅ, ﬁ",
    "\u200b zero width \u00a0 nbsp \u3000 ideographic space",
    "Ω≈ç√∫˜µ≤≥÷ 𝕳𝖊𝖑𝖑𝖔 𓀀",
    "",
    " ",
    "\n",
]


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer(
        bos_token="<s>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<unk>",
        special_tokens=["<|im_start|>", "<think>", "</think>", "[INST]", "<｜User｜>"],
    )


@pytest.mark.parametrize("text", TRICKY)
def test_round_trip(tok, text):
    ids = tok(text, add_special_tokens=False).input_ids
    assert tok.decode(ids) == text


def test_no_automatic_bos_or_eos(tok):
    text = "Hello world"
    assert tok(text).input_ids == tok(text, add_special_tokens=False).input_ids
    assert tok.bos_token_id not in tok(text).input_ids


def test_special_tokens_are_atomic_and_ordered(tok):
    expected = [
        "<s>",
        "<|im_end|>",
        "<|endoftext|>",
        "<unk>",
        "<|im_start|>",
        "<think>",
        "</think>",
        "[INST]",
        "<｜User｜>",
    ]
    ids = tok.convert_tokens_to_ids(expected)
    assert ids == list(range(ids[0], ids[0] + len(expected)))
    for token, token_id in zip(expected, ids, strict=True):
        assert tok(token, add_special_tokens=False).input_ids == [token_id]
    text = "<|im_start|>user\nhi<think>x</think>[INST]<|im_end|>"
    pieces = tok.convert_ids_to_tokens(tok(text, add_special_tokens=False).input_ids)
    for token in ("<|im_start|>", "<think>", "</think>", "[INST]", "<|im_end|>"):
        assert token in pieces
    assert tok.decode(tok(text).input_ids) == text
    assert tok.decode(tok(text).input_ids, skip_special_tokens=True) == "user\nhix"


def test_offsets_mapping(tok):
    text = "<|im_start|>user\n 你好 😀 world<|im_end|>"
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    assert len(enc.offset_mapping) == len(enc.input_ids)
    assert enc.offset_mapping[0] == (0, len("<|im_start|>"))
    assert enc.offset_mapping[-1] == (len(text) - len("<|im_end|>"), len(text))
    assert all(0 <= s <= e <= len(text) for s, e in enc.offset_mapping)


def test_deterministic_and_fast():
    kwargs = {
        "eos_token": "<|eot_id|>",
        "special_tokens": ["<|start_header_id|>"],
        "chat_template": "{{ x }}",
    }
    first = build_tokenizer(**kwargs)
    start = time.perf_counter()
    second = build_tokenizer(**kwargs)
    elapsed = time.perf_counter() - start
    assert first.backend_tokenizer.to_str() == second.backend_tokenizer.to_str()
    assert elapsed < 0.3, f"cached tokenizer build took {elapsed:.3f}s"


def test_vocab_size_bounds_trained_part():
    small = build_tokenizer(vocab_size=300, eos_token="</s>")
    assert len(small) == 301
    with pytest.raises(ValueError, match="vocab_size"):
        build_tokenizer(vocab_size=10)


def test_extra_text_changes_merges():
    word = "Supercalifragilisticexpialidocious"
    plain = build_tokenizer()
    trained = build_tokenizer(extra_text=[f"{word} " * 50])
    assert len(trained.tokenize(word)) < len(plain.tokenize(word))


def test_chat_template_str_and_dict():
    template = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    tok = build_tokenizer(eos_token="<|im_end|>", special_tokens=["<|im_start|>"], chat_template=template)
    msgs = [{"role": "user", "content": "hi"}]
    assert tok.apply_chat_template(msgs, tokenize=False) == "<|im_start|>user\nhi<|im_end|>\n"
    named = build_tokenizer(chat_template={"default": template, "other": "{{ 'x' }}"})
    assert named.apply_chat_template(msgs, tokenize=False, chat_template="other") == "x"


def test_instances_are_independent():
    a = build_tokenizer(eos_token="</s>")
    a.add_special_tokens({"additional_special_tokens": ["<new>"]})
    b = build_tokenizer(eos_token="</s>")
    assert "<new>" not in b.get_vocab()
