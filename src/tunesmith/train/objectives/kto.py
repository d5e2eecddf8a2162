r"""KTO: Ethayarajh et al. 2024, "KTO: Model Alignment as Prospect Theoretic Optimization".

Unpaired feedback: each example is a completion :math:`y` for :math:`x`, desirable or not. With the
log-ratio :math:`r = \log\pi(y|x) - \log\pi_{ref}(y|x)` (summed log-probs) and the reference point
:math:`z_0`, a detached estimate of :math:`\mathrm{KL}(\pi\,\|\,\pi_{ref})` (:func:`kto_kl_estimate`),
the per-example loss is (Eq. 7, as trl computes it):

.. math::
    L = \begin{cases}
        \lambda_D\,(1 - \sigma(\beta(r - z_0))) & y \text{ desirable} \\
        \lambda_U\,(1 - \sigma(\beta(z_0 - r))) & y \text{ undesirable}
    \end{cases}

:math:`z_0` comes from **mismatched** pairs: prompt :math:`x_i` with another example's completion
(:func:`tunesmith.data.feedback.mismatched_pairs`), :math:`z_0 = \max(0,\ \mathrm{mean}_i[\log\pi(y'_i|x_i)
- \log\pi_{ref}(y'_i|x_i)])`, with no gradient. It is estimated per micro-batch (trl averages it over
devices too); being a detached baseline, it shifts the loss but is not itself optimised.

Rewards (logged): :math:`\beta r`. Reduction: none — per-example losses in input order; average
them over the global batch (trl's ``nanmean`` over the batch is that average for one micro-batch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["KTOLoss", "kto_kl_estimate", "kto_loss"]


@dataclass(frozen=True)
class KTOLoss:
    """Per-example KTO results (shape ``(batch,)``, input order) and the KL estimate used."""

    losses: Tensor
    rewards: Tensor
    """``beta * (log pi - log pi_ref)``, detached."""
    labels: Tensor
    """True for desirable examples."""
    kl: Tensor
    """The reference point :math:`z_0` (a detached scalar)."""

    @property
    def chosen_rewards(self) -> Tensor:
        return self.rewards[self.labels]

    @property
    def rejected_rewards(self) -> Tensor:
        return self.rewards[~self.labels]


def kto_kl_estimate(policy_kl_logps: Tensor, reference_kl_logps: Tensor) -> Tensor:
    """:math:`z_0 = \\max(0, \\mathrm{mean}(\\log\\pi(y'|x) - \\log\\pi_{ref}(y'|x)))` over the
    mismatched pairs of the batch, detached (a scalar tensor)."""
    return (policy_kl_logps - reference_kl_logps).mean().detach().clamp(min=0)


def kto_loss(
    policy_logps: Tensor,
    reference_logps: Tensor,
    labels: Tensor,
    kl: Tensor | float,
    *,
    beta: float = 0.1,
    desirable_weight: float = 1.0,
    undesirable_weight: float = 1.0,
) -> KTOLoss:
    """Per-example KTO losses (module docstring); ``labels`` is a bool tensor (True = desirable)
    and ``kl`` the reference point from :func:`kto_kl_estimate` (or 0 to drop it)."""
    import torch

    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    labels = labels.to(device=policy_logps.device, dtype=torch.bool)
    kl_t = torch.as_tensor(kl, dtype=policy_logps.dtype, device=policy_logps.device).detach()
    logratios = policy_logps - reference_logps
    desirable = desirable_weight * (1 - torch.sigmoid(beta * (logratios - kl_t)))
    undesirable = undesirable_weight * (1 - torch.sigmoid(beta * (kl_t - logratios)))
    return KTOLoss(
        losses=torch.where(labels, desirable, undesirable),
        rewards=beta * logratios.detach(),
        labels=labels,
        kl=kl_t,
    )
