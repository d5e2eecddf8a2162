r"""Pairwise reward-model loss: Bradley–Terry on scalar scores.

Ouyang et al. 2022, "Training language models to follow instructions with human feedback" (Eq. 1),
with the optional margin of Touvron et al. 2023 (Llama 2, Eq. 2):

.. math:: L = -\log\sigma(r(x, y_w) - r(x, y_l) - m)

Accuracy: 1 where :math:`r(x, y_w) > r(x, y_l)` (ties count as wrong). The score of a sequence is
the value head's output at its last real token (:func:`last_token_scores`), as LLaMA-Factory and
trl take it. Reduction: none (per example).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["last_token_scores", "pairwise_accuracy", "pairwise_reward_loss"]


def pairwise_reward_loss(
    chosen_scores: Tensor, rejected_scores: Tensor, *, margin: Tensor | float | None = None
) -> Tensor:
    """Per-example :math:`-\\log\\sigma(r_w - r_l - m)`."""
    import torch.nn.functional as F

    diff = chosen_scores - rejected_scores
    if margin is not None:
        diff = diff - margin
    return -F.logsigmoid(diff)


def pairwise_accuracy(chosen_scores: Tensor, rejected_scores: Tensor) -> Tensor:
    """Per-example 1.0 where the chosen score is strictly higher, else 0.0."""
    return (chosen_scores > rejected_scores).float()


def last_token_scores(values: Tensor, attention_mask: Tensor) -> Tensor:
    """``values[b, last real token of b]`` for per-token values ``(batch, length)`` (or
    ``(batch, length, 1)``); works for left or right padding. A row of padding only raises."""
    import torch

    if values.dim() == 3:
        values = values.squeeze(-1)
    mask = attention_mask.bool()
    if not bool(mask.any(-1).all()):
        raise ValueError("a row of attention_mask has no real token")
    positions = torch.arange(mask.shape[-1], device=mask.device).expand_as(mask)
    last = torch.where(mask, positions, -1).amax(-1)
    return values.gather(-1, last.unsqueeze(-1)).squeeze(-1)
