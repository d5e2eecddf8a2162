r"""Direct Preference Optimization and its pairwise variants (with a reference model).

With :math:`\Delta = [\log\pi(y_w|x) - \log\pi_{ref}(y_w|x)] - [\log\pi(y_l|x) - \log\pi_{ref}(y_l|x)]`,
the per-example losses are:

* ``sigmoid`` — DPO, Rafailov et al. 2023, "Direct Preference Optimization: Your Language Model is
  Secretly a Reward Model" (Eq. 7), with the conservative label smoothing of cDPO
  (Mitchell 2023) when ``label_smoothing`` = :math:`\varepsilon` > 0:
  :math:`-(1-\varepsilon)\log\sigma(\beta\Delta) - \varepsilon\log\sigma(-\beta\Delta)`.
* ``ipo`` — Azar et al. 2023, "A General Theoretical Paradigm to Understand Learning from Human
  Preferences" (Eq. 17): :math:`(\Delta - \frac{1}{2\beta})^2`, where :math:`\beta` plays the
  paper's :math:`\tau`. Pass log-probs **averaged per token** (as trl and LLaMA-Factory do), else
  the square grows with the response length.
* ``hinge`` — SLiC, Zhao et al. 2023, "SLiC-HF: Sequence Likelihood Calibration with Human
  Feedback": :math:`\max(0, 1 - \beta\Delta)`.
* ``robust`` — Chowdhury et al. 2024, "Provably Robust DPO: Aligning Language Models with Noisy
  Feedback", an unbiased loss under preference flips with rate :math:`\varepsilon`:
  :math:`\frac{-(1-\varepsilon)\log\sigma(\beta\Delta) + \varepsilon\log\sigma(-\beta\Delta)}{1-2\varepsilon}`.

Rewards (logged, detached): :math:`\beta(\log\pi(y|x) - \log\pi_{ref}(y|x))` for each response.

Reduction: none — per-example losses; average them over the global batch (package docstring).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from tunesmith.train.objectives.output import PairLoss

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["DPO_LOSS_TYPES", "DPOLossType", "dpo_loss"]

DPOLossType = Literal["sigmoid", "ipo", "hinge", "robust"]
DPO_LOSS_TYPES: tuple[str, ...] = ("sigmoid", "ipo", "hinge", "robust")


def dpo_loss(
    policy_chosen_logps: Tensor,
    policy_rejected_logps: Tensor,
    reference_chosen_logps: Tensor,
    reference_rejected_logps: Tensor,
    *,
    beta: float = 0.1,
    loss_type: DPOLossType = "sigmoid",
    label_smoothing: float = 0.0,
) -> PairLoss:
    """Per-example DPO-family losses (module docstring) for log-probs of shape ``(batch,)``.

    ``label_smoothing`` applies to ``sigmoid`` (cDPO) and ``robust`` (must be < 0.5 there); it is
    rejected for ``ipo`` and ``hinge``, which have no smoothed form.
    """
    import torch.nn.functional as F

    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    chosen_logratios = policy_chosen_logps - reference_chosen_logps
    rejected_logratios = policy_rejected_logps - reference_rejected_logps
    delta = chosen_logratios - rejected_logratios
    eps = label_smoothing
    if loss_type == "sigmoid":
        losses = -(1 - eps) * F.logsigmoid(beta * delta) - eps * F.logsigmoid(-beta * delta)
    elif loss_type == "robust":
        if eps >= 0.5:
            raise ValueError(f"robust DPO needs label_smoothing < 0.5 (the flip rate), got {eps}")
        losses = (-(1 - eps) * F.logsigmoid(beta * delta) + eps * F.logsigmoid(-beta * delta)) / (1 - 2 * eps)
    elif loss_type in ("ipo", "hinge"):
        if eps:
            raise ValueError(f"label_smoothing is not defined for loss_type={loss_type!r}; set it to 0")
        losses = (delta - 1 / (2 * beta)) ** 2 if loss_type == "ipo" else F.relu(1 - beta * delta)
    else:
        raise ValueError(f"unknown DPO loss_type {loss_type!r}; expected one of {', '.join(DPO_LOSS_TYPES)}")
    return PairLoss(
        losses=losses,
        chosen_rewards=beta * chosen_logratios.detach(),
        rejected_rewards=beta * rejected_logratios.detach(),
    )
