r"""SimPO: Meng et al. 2024, "SimPO: Simple Preference Optimization with a Reference-Free Reward".

With the length-normalised log-probs :math:`\bar\ell(y) = \frac{1}{|y|}\log\pi(y|x)` (pass
``mean`` log-probs) and a target margin :math:`\gamma`:

.. math:: L = -\log\sigma\big(\beta\,\bar\ell(y_w) - \beta\,\bar\ell(y_l) - \gamma\big)

with optional conservative label smoothing :math:`\varepsilon` as trl's CPO trainer does:
:math:`-(1-\varepsilon)\log\sigma(z) - \varepsilon\log\sigma(-z)`. No reference model.
Rewards (logged): :math:`\beta\,\bar\ell(y)`. Reduction: none (per example).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tunesmith.train.objectives.output import PairLoss

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["simpo_loss"]


def simpo_loss(
    policy_chosen_logps: Tensor,
    policy_rejected_logps: Tensor,
    *,
    beta: float = 2.0,
    gamma: float = 0.5,
    label_smoothing: float = 0.0,
) -> PairLoss:
    """Per-example SimPO losses; the log-probs must be averaged per trained token."""
    import torch.nn.functional as F

    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    z = beta * (policy_chosen_logps - policy_rejected_logps) - gamma
    losses = -(1 - label_smoothing) * F.logsigmoid(z) - label_smoothing * F.logsigmoid(-z)
    return PairLoss(
        losses=losses,
        chosen_rewards=beta * policy_chosen_logps.detach(),
        rejected_rewards=beta * policy_rejected_logps.detach(),
    )
