"""Preference-training objectives as pure functions on tensors.

Every loss takes sequence log-probabilities (see :mod:`~tunesmith.train.objectives.logps`) and
hyper-parameters, and returns **per-example** losses plus detached rewards for logging. Nothing here
reduces over the batch: the caller sums the per-example losses of a micro-batch and divides by the
number of examples in the *global* batch (all micro-batches of one optimizer step, all devices), so
the gradient does not depend on how the batch is split for gradient accumulation.

===========  ==========================================  =============================  =========
loss         function                                    log-probs it expects           reference
===========  ==========================================  =============================  =========
DPO family   :func:`dpo_loss` (sigmoid, ipo, hinge,      sum (ipo: mean per token)      yes
             robust; label smoothing)
SimPO        :func:`simpo_loss`                          mean per token                 no
CPO          :func:`cpo_loss`                            sum                            no
ORPO         :func:`orpo_loss`                           mean per token                 no
KTO          :func:`kto_loss`, :func:`kto_kl_estimate`   sum                            yes
RM           :func:`pairwise_reward_loss`                scores from a value head       no
===========  ==========================================  =============================  =========
"""

from tunesmith.train.objectives.cpo import cpo_loss
from tunesmith.train.objectives.dpo import DPO_LOSS_TYPES, dpo_loss
from tunesmith.train.objectives.kto import KTOLoss, kto_kl_estimate, kto_loss
from tunesmith.train.objectives.logps import SequenceLogps, sequence_logps, token_logps
from tunesmith.train.objectives.orpo import OddsRatioLoss, log1mexp, orpo_loss
from tunesmith.train.objectives.output import PairLoss
from tunesmith.train.objectives.rm import last_token_scores, pairwise_accuracy, pairwise_reward_loss
from tunesmith.train.objectives.simpo import simpo_loss

__all__ = [
    "DPO_LOSS_TYPES",
    "KTOLoss",
    "OddsRatioLoss",
    "PairLoss",
    "SequenceLogps",
    "cpo_loss",
    "dpo_loss",
    "kto_kl_estimate",
    "kto_loss",
    "last_token_scores",
    "log1mexp",
    "orpo_loss",
    "pairwise_accuracy",
    "pairwise_reward_loss",
    "sequence_logps",
    "simpo_loss",
    "token_logps",
]
