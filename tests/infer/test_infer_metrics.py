"""BLEU-4 (NLTK sentence_bleu with method3 smoothing, over characters) and ROUGE F1, by hand."""

from __future__ import annotations

import math

import pytest

from tunesmith.infer.metrics import (
    corpus_scores,
    lcs_length,
    rouge_l,
    rouge_n,
    sentence_bleu,
    similarity_scores,
    tokenize,
)


def test_tokenize_splits_whitespace_and_cjk_characters() -> None:
    assert tokenize("我爱 NLP模型 ok") == ["我", "爱", "NLP", "模", "型", "ok"]
    assert tokenize("  ") == []


def test_bleu_by_hand() -> None:
    assert sentence_bleu(list("abcdef"), list("abcdef")) == pytest.approx(1.0)
    # all precisions 1, brevity penalty exp(1 - 6/4)
    assert sentence_bleu(list("abcdef"), list("abcd")) == pytest.approx(math.exp(-0.5))
    # no 4-gram: method3 makes p4 = 1 / (2 * 1); brevity exp(1 - 6/3)
    assert sentence_bleu(list("abcdef"), list("abc")) == pytest.approx(math.exp(-1) * 0.5**0.25)
    # p1 = 3/4, p2 = 1/3, p3 = 0 -> 1/(2*2), p4 = 0 -> 1/(4*1); equal lengths
    expected = math.exp((math.log(3 / 4) + math.log(1 / 3) + math.log(1 / 4) + math.log(1 / 4)) / 4)
    assert sentence_bleu(list("abcd"), list("abxd")) == pytest.approx(expected)
    assert sentence_bleu(list("abc"), list("xyz")) == 0.0
    assert sentence_bleu(list("abc"), []) == 0.0


def test_rouge_by_hand() -> None:
    ref = ["the", "cat", "sat", "on", "the", "mat"]
    hyp = ["the", "cat", "on", "the", "mat"]
    assert rouge_n(ref, hyp, 1) == pytest.approx(10 / 11)  # P 5/5, R 5/6
    assert rouge_n(ref, hyp, 2) == pytest.approx(2 / 3)  # P 3/4, R 3/5
    assert lcs_length(ref, hyp) == 5
    assert rouge_l(ref, hyp) == pytest.approx(10 / 11)
    assert rouge_n(ref, [], 1) == 0.0 and rouge_l([], hyp) == 0.0


def test_similarity_scores_percent_and_mean() -> None:
    same = similarity_scores("你好世界", "你好世界")
    assert same == {"bleu-4": 100.0, "rouge-1": 100.0, "rouge-2": 100.0, "rouge-l": 100.0}
    assert similarity_scores("", "abc") == {"bleu-4": 0.0, "rouge-1": 0.0, "rouge-2": 0.0, "rouge-l": 0.0}
    mean = corpus_scores(["你好世界", ""], ["你好世界", "abc"])
    assert mean == {"bleu-4": 50.0, "rouge-1": 50.0, "rouge-2": 50.0, "rouge-l": 50.0}
    assert corpus_scores([], []) == {"bleu-4": 0.0, "rouge-1": 0.0, "rouge-2": 0.0, "rouge-l": 0.0}
