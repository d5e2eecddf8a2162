"""Sequence log-probabilities of the trained tokens, from a causal LM's logits and labels.

For a causal LM the logits at position ``t`` predict the token at ``t + 1``; so the labels are
shifted left by one and the last logit is dropped (``shift=True``). Positions whose label is
``ignore_index`` (the prompt, padding) contribute exactly 0 and are not counted, whatever the logits
there are; a row without any trained token gets ``sum = mean = 0`` (never NaN).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor

IGNORE_INDEX = -100

__all__ = ["SequenceLogps", "sequence_logps", "token_logps"]


@dataclass(frozen=True)
class SequenceLogps:
    """Per-sequence log-probabilities, shape ``(batch,)``."""

    sum: Tensor
    """``sum_t log p(y_t | y_<t)`` over the trained tokens."""
    mean: Tensor
    """``sum / count`` (0 where ``count`` is 0)."""
    count: Tensor
    """Number of trained tokens (long)."""


def token_logps(
    logits: Tensor, labels: Tensor, *, ignore_index: int = IGNORE_INDEX, shift: bool = True
) -> tuple[Tensor, Tensor]:
    """Per-token ``log softmax(logits)[label]`` in float32 and the trained-token mask.

    Returns ``(logps, mask)`` of shape ``(batch, length - 1)`` when ``shift`` (else ``(batch, length)``);
    ``logps`` is 0 where ``mask`` is False. Computes ``logit[label] - logsumexp(logits)`` one row at a
    time, so no ``(batch, length, vocab)`` float32 copy of the logits is ever held.
    """
    import torch

    if logits.shape[:-1] != labels.shape:
        raise ValueError(
            f"logits {tuple(logits.shape)} and labels {tuple(labels.shape)} disagree in batch/length"
        )
    if shift:
        logits, labels = logits[:, :-1, :], labels[:, 1:]
    mask = labels != ignore_index
    index = labels.masked_fill(~mask, 0).unsqueeze(-1)
    rows = []
    for row_logits, row_index in zip(logits, index, strict=True):
        row_logits = row_logits.float()
        picked = row_logits.gather(-1, row_index).squeeze(-1)
        rows.append(picked - torch.logsumexp(row_logits, dim=-1))
    logps = torch.stack(rows) if rows else logits.new_zeros(labels.shape, dtype=torch.float32)
    return logps.masked_fill(~mask, 0.0), mask


def sequence_logps(
    logits: Tensor, labels: Tensor, *, ignore_index: int = IGNORE_INDEX, shift: bool = True
) -> SequenceLogps:
    """Sum and mean log-probability of each sequence's trained tokens (see the module docstring)."""
    logps, mask = token_logps(logits, labels, ignore_index=ignore_index, shift=shift)
    count = mask.sum(-1)
    total = logps.sum(-1)
    return SequenceLogps(sum=total, mean=total / count.clamp(min=1), count=count)
