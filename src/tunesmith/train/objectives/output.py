"""What a pairwise preference loss returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor


@dataclass(frozen=True)
class PairLoss:
    """Per-example results of a pairwise preference loss (all tensors of shape ``(batch,)``).

    ``losses`` carry the gradient and are NOT reduced (see the package docstring for the reduction).
    ``chosen_rewards`` and ``rejected_rewards`` are the method's implicit rewards, detached, for
    logging (DPO: ``beta * (log pi - log pi_ref)``; reference-free methods: ``beta * log pi``).
    """

    losses: Tensor
    chosen_rewards: Tensor
    rejected_rewards: Tensor

    @property
    def margins(self) -> Tensor:
        """``chosen_rewards - rejected_rewards``."""
        return self.chosen_rewards - self.rejected_rewards

    @property
    def accuracies(self) -> Tensor:
        """1.0 where the chosen reward is strictly higher, else 0.0."""
        return (self.chosen_rewards > self.rejected_rewards).float()
