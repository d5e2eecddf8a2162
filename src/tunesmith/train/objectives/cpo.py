r"""CPO: Xu et al. 2024, "Contrastive Preference Optimization: Pushing the Boundaries of LLM
Performance in Machine Translation".

The reference-free preference term (Eq. 3, DPO with :math:`\pi_{ref}` uniform), on summed log-probs
:math:`\ell(y) = \log\pi(y|x)`, plus a behaviour-cloning NLL term on the chosen response:

.. math:: L = -(1-\varepsilon)\log\sigma(\beta(\ell(y_w)-\ell(y_l)))
              - \varepsilon\log\sigma(-\beta(\ell(y_w)-\ell(y_l)))
              + \alpha\,\mathrm{NLL}(y_w|x)

``loss_type="hinge"`` replaces the first two terms with :math:`\max(0, 1-\beta(\ell(y_w)-\ell(y_l)))`
(as trl). The NLL term is per example (pass e.g. the chosen response's mean token NLL, i.e. minus
its ``mean`` log-prob); trl instead averages it over all chosen tokens of the batch, which gives the
same value when the batch holds one example or equal lengths. Rewards (logged): :math:`\beta\ell(y)`.
Reduction: none (per example).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from tunesmith.train.objectives.output import PairLoss

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["cpo_loss"]


def cpo_loss(
    policy_chosen_logps: Tensor,
    policy_rejected_logps: Tensor,
    *,
    beta: float = 0.1,
    label_smoothing: float = 0.0,
    loss_type: Literal["sigmoid", "hinge"] = "sigmoid",
    chosen_nll: Tensor | None = None,
    cpo_alpha: float = 1.0,
) -> PairLoss:
    """Per-example CPO losses (module docstring); ``chosen_nll`` (shape ``(batch,)``) adds
    ``cpo_alpha * chosen_nll``."""
    import torch.nn.functional as F

    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    z = beta * (policy_chosen_logps - policy_rejected_logps)
    if loss_type == "sigmoid":
        losses = -(1 - label_smoothing) * F.logsigmoid(z) - label_smoothing * F.logsigmoid(-z)
    elif loss_type == "hinge":
        if label_smoothing:
            raise ValueError("label_smoothing is not defined for the hinge CPO loss; set it to 0")
        losses = F.relu(1 - z)
    else:
        raise ValueError(f"unknown CPO loss_type {loss_type!r}; expected 'sigmoid' or 'hinge'")
    if chosen_nll is not None:
        losses = losses + cpo_alpha * chosen_nll
    return PairLoss(
        losses=losses,
        chosen_rewards=beta * policy_chosen_logps.detach(),
        rejected_rewards=beta * policy_rejected_logps.detach(),
    )
