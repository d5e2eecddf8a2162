"""Similarity of generated text to references, as LLaMA-Factory reports it after ``predict``, in pure
Python (no nltk, rouge or jieba needed).

- ``bleu-4``: NLTK's ``sentence_bleu`` over the characters of the two strings, uniform weights, with
  ``SmoothingFunction().method3`` (NIST geometric smoothing), exactly as LLaMA-Factory calls it.
- ``rouge-1``, ``rouge-2``, ``rouge-l``: F1 over words. LLaMA-Factory cuts words with jieba; here the
  text is split at whitespace and every CJK character is a word of its own (jieba is used when
  installed, with ``use_jieba=True``). ROUGE-N counts clipped n-gram matches and ROUGE-L uses the
  longest common subsequence (Lin, 2004), as Google's ``rouge-score`` does; the ``rouge`` package
  LLaMA-Factory uses counts distinct n-grams instead, so scores of texts with repeated n-grams differ.

Each score is in percent, rounded to 4 digits per example, and averaged.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

_CJK = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
    r"\U00020000-\U0002fa1f]"
)
METRIC_NAMES: tuple[str, ...] = ("bleu-4", "rouge-1", "rouge-2", "rouge-l")


def tokenize(text: str, *, use_jieba: bool = False) -> list[str]:
    """Words of ``text``: whitespace-separated, each CJK character a word (or jieba's words)."""
    if use_jieba:
        try:
            import jieba
        except ImportError:
            pass
        else:
            return [w for w in jieba.cut(text) if w.strip()]
    words: list[str] = []
    for chunk in text.split():
        pending = ""
        for ch in chunk:
            if _CJK.match(ch):
                if pending:
                    words.append(pending)
                    pending = ""
                words.append(ch)
            else:
                pending += ch
        if pending:
            words.append(pending)
    return words


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def sentence_bleu(reference: Sequence[str], hypothesis: Sequence[str], max_n: int = 4) -> float:
    """NLTK's ``sentence_bleu([reference], hypothesis, smoothing_function=method3)`` with uniform
    weights over 1..max_n-grams, in [0, 1]."""
    if not hypothesis or not reference:
        return 0.0
    # (clipped matches, hypothesis n-grams) per order; NLTK keeps these fractions unreduced
    precisions: list[tuple[int, int]] = []
    for n in range(1, max_n + 1):
        hyp, ref = _ngrams(hypothesis, n), _ngrams(reference, n)
        matched = sum(min(count, ref[gram]) for gram, count in hyp.items())
        precisions.append((matched, max(1, sum(hyp.values()))))
    if precisions[0][0] == 0:
        return 0.0
    # method3: the k-th zero precision becomes 1 / (2^k * its denominator)
    k = 1
    smoothed: list[float] = []
    for matched, total in precisions:
        if matched == 0:
            smoothed.append(1 / (2**k * total))
            k += 1
        else:
            smoothed.append(matched / total)
    c, r = len(hypothesis), len(reference)
    brevity = 1.0 if c > r else math.exp(1 - r / c)
    return brevity * math.exp(math.fsum(math.log(p) / max_n for p in smoothed))


def _f1(matched: int, hyp_total: int, ref_total: int) -> float:
    if not matched or not hyp_total or not ref_total:
        return 0.0
    precision, recall = matched / hyp_total, matched / ref_total
    return 2 * precision * recall / (precision + recall)


def rouge_n(reference: Sequence[str], hypothesis: Sequence[str], n: int) -> float:
    """ROUGE-N F1 with clipped n-gram counts."""
    hyp, ref = _ngrams(hypothesis, n), _ngrams(reference, n)
    matched = sum(min(count, ref[gram]) for gram, count in hyp.items())
    return _f1(matched, sum(hyp.values()), sum(ref.values()))


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (O(len(a) * len(b)) time, O(len(b)) memory)."""
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(reference: Sequence[str], hypothesis: Sequence[str]) -> float:
    """ROUGE-L F1 (longest common subsequence)."""
    return _f1(lcs_length(reference, hypothesis), len(hypothesis), len(reference))


def similarity_scores(prediction: str, label: str, *, use_jieba: bool = False) -> dict[str, float]:
    """``bleu-4`` and ``rouge-1/2/l`` of one prediction, in percent rounded to 4 digits."""
    hyp, ref = tokenize(prediction, use_jieba=use_jieba), tokenize(label, use_jieba=use_jieba)
    scores = {
        "bleu-4": sentence_bleu(list(label), list(prediction)),
        "rouge-1": rouge_n(ref, hyp, 1),
        "rouge-2": rouge_n(ref, hyp, 2),
        "rouge-l": rouge_l(ref, hyp),
    }
    return {k: round(v * 100, 4) for k, v in scores.items()}


def corpus_scores(
    predictions: Iterable[str], labels: Iterable[str], *, use_jieba: bool = False
) -> dict[str, float]:
    """The mean of :func:`similarity_scores` over pairs (zeros for no pairs)."""
    totals = dict.fromkeys(METRIC_NAMES, 0.0)
    count = 0
    for prediction, label in zip(predictions, labels, strict=True):
        for k, v in similarity_scores(prediction, label, use_jieba=use_jieba).items():
            totals[k] += v
        count += 1
    return {k: round(v / count, 4) if count else 0.0 for k, v in totals.items()}


def prefixed(metrics: Mapping[str, float], prefix: str = "predict") -> dict[str, float]:
    """``{"predict_bleu-4": ...}`` as transformers names metrics."""
    return {f"{prefix}_{k}": v for k, v in metrics.items()}
