r"""ORPO: Hong et al. 2024, "ORPO: Monolithic Preference Optimization without Reference Model".

With the per-token average log-probs :math:`\bar\ell(y)` (pass ``mean`` log-probs; Eq. 4 defines
odds on :math:`P(y|x) = \exp\bar\ell(y)`), the odds :math:`\mathrm{odds}(y) = P/(1-P)` and

.. math:: \log\frac{\mathrm{odds}(y_w)}{\mathrm{odds}(y_l)}
          = (\bar\ell_w - \bar\ell_l) - (\log(1-e^{\bar\ell_w}) - \log(1-e^{\bar\ell_l})),

the per-example loss (Eqs. 6–7) is the SFT term plus :math:`\lambda` (``beta``) times the
odds-ratio term:

.. math:: L = -\bar\ell(y_w) - \lambda\log\sigma\Big(\log\frac{\mathrm{odds}(y_w)}{\mathrm{odds}(y_l)}\Big)

:math:`\log(1-e^x)` is computed stably (:func:`log1mexp`). The SFT term here is the chosen
response's mean token NLL per example (as LLaMA-Factory); trl averages it over the batch's tokens.
Rewards (logged): :math:`\lambda\bar\ell(y)`. Reduction: none (per example).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tunesmith.train.objectives.output import PairLoss

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["OddsRatioLoss", "log1mexp", "orpo_loss"]

_MINUS_LN2 = -0.6931471805599453


def log1mexp(x: Tensor) -> Tensor:
    """``log(1 - exp(x))`` for ``x < 0``, without cancellation (branch at ``-ln 2``; Mächler 2012)."""
    import torch

    return torch.where(x < _MINUS_LN2, torch.log1p(-torch.exp(x)), torch.log(-torch.expm1(x)))


@dataclass(frozen=True)
class OddsRatioLoss(PairLoss):
    """:class:`PairLoss` plus ORPO's parts (per example, detached): the log odds ratio and the
    odds-ratio loss term :math:`-\\log\\sigma(\\text{log odds})` before the :math:`\\lambda` weight."""

    log_odds: Tensor | None = None
    odds_ratio_loss: Tensor | None = None


def orpo_loss(
    policy_chosen_logps: Tensor, policy_rejected_logps: Tensor, *, beta: float = 0.1
) -> OddsRatioLoss:
    """Per-example ORPO losses for mean-per-token log-probs (module docstring); ``beta`` is λ."""
    import torch.nn.functional as F

    chosen = policy_chosen_logps.float()
    rejected = policy_rejected_logps.float()
    log_odds = (chosen - rejected) - (log1mexp(chosen) - log1mexp(rejected))
    ratio_loss = -F.logsigmoid(log_odds)
    return OddsRatioLoss(
        losses=-chosen + beta * ratio_loss,
        chosen_rewards=beta * chosen.detach(),
        rejected_rewards=beta * rejected.detach(),
        log_odds=log_odds.detach(),
        odds_ratio_loss=ratio_loss.detach(),
    )
