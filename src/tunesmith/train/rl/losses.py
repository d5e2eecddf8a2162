r"""RL losses as pure functions on per-token tensors ``(batch, completion_length)``.

Inputs are log-probabilities of the sampled completion tokens under the current policy
(``logps``, with gradient), the policy that sampled them (``old_logps``) and the reference
(``ref_logps``), and a ``mask`` of real completion tokens. Nothing here runs a model.

**KL estimator** (:func:`kl_k3`) — Schulman 2020, "Approximating KL Divergence", the unbiased,
always non-negative ``k3``: with :math:`\rho = \pi_{ref}/\pi_\theta`,
:math:`\mathrm{KL} \approx \rho - \log\rho - 1`.

**GRPO** (:func:`grpo_loss`) — Shao et al. 2024, "DeepSeekMath" (Eq. 3), as trl's GRPOTrainer computes
it: with the ratio :math:`r_t = \exp(\log\pi_\theta - \log\pi_{old})` and the sequence advantage
:math:`\hat A`,

.. math:: \ell_t = -\min(r_t \hat A,\ \mathrm{clip}(r_t, 1-\epsilon_{low}, 1+\epsilon_{high})\hat A) + \beta\,\mathrm{KL}_t

averaged (:func:`reduce_tokens`) per sequence then over the batch (``grpo``), over all tokens of the
batch (``bnpo``; DAPO, Yu et al. 2025) or over ``batch x max_completion_length`` (``dr_grpo``; Liu et
al. 2025). Asymmetric clipping (``epsilon_high`` > ``epsilon_low``) is DAPO's clip-higher.

**PPO** (:func:`ppo_policy_loss`, :func:`ppo_value_loss`) — Schulman et al. 2017, "Proximal Policy
Optimization Algorithms" (Eq. 7), with per-token advantages from GAE, as in Ouyang et al. 2022 and
trl's PPO: :math:`\max(-\hat A_t r_t, -\hat A_t\,\mathrm{clip}(r_t, 1-\epsilon, 1+\epsilon))`; the value
loss clips the new value around the rollout value:
:math:`\frac12\max((V-R)^2, (\mathrm{clip}(V, V_{old}-c, V_{old}+c)-R)^2)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from tunesmith.train.rl.advantages import masked_mean

if TYPE_CHECKING:
    from torch import Tensor

__all__ = [
    "GRPO_LOSS_TYPES",
    "GRPOLoss",
    "PPOLoss",
    "grpo_loss",
    "kl_k3",
    "ppo_policy_loss",
    "ppo_value_loss",
    "reduce_tokens",
]

GRPOLossType = Literal["grpo", "bnpo", "dr_grpo"]
GRPO_LOSS_TYPES: tuple[str, ...] = ("grpo", "bnpo", "dr_grpo")


def kl_k3(logps: Tensor, ref_logps: Tensor) -> Tensor:
    """Per-token ``exp(ref - logp) - (ref - logp) - 1`` (module docstring); 0 where they agree."""
    import torch

    diff = ref_logps - logps
    return torch.exp(diff) - diff - 1


@dataclass(frozen=True)
class GRPOLoss:
    per_token: Tensor
    """Unreduced loss ``(batch, length)`` (not masked)."""
    kl: Tensor | None
    """Per-token k3 KL to the reference (None when beta is 0)."""
    clipped: Tensor
    """Bool ``(batch, length)``: the clipped branch was taken (the ratio left the trust region in the
    direction the advantage pushes)."""


def grpo_loss(
    logps: Tensor,
    old_logps: Tensor,
    advantages: Tensor,
    *,
    ref_logps: Tensor | None = None,
    beta: float = 0.04,
    epsilon_low: float = 0.2,
    epsilon_high: float | None = None,
) -> GRPOLoss:
    """GRPO's clipped surrogate plus ``beta`` times the k3 KL, per token (module docstring).

    ``advantages`` is ``(batch,)`` (one per completion) or ``(batch, length)``. ``ref_logps`` is
    required when ``beta`` != 0.
    """
    import torch

    epsilon_high = epsilon_low if epsilon_high is None else epsilon_high
    if advantages.dim() == 1:
        advantages = advantages.unsqueeze(1)
    ratio = torch.exp(logps - old_logps)
    clipped_ratio = torch.clamp(ratio, 1 - epsilon_low, 1 + epsilon_high)
    per_token = -torch.min(ratio * advantages, clipped_ratio * advantages)
    kl = None
    if beta != 0.0:
        if ref_logps is None:
            raise ValueError("grpo_loss: beta != 0 needs ref_logps (the reference model's log-probs)")
        kl = kl_k3(logps, ref_logps)
        per_token = per_token + beta * kl
    clipped = ((ratio < 1 - epsilon_low) & (advantages < 0)) | ((ratio > 1 + epsilon_high) & (advantages > 0))
    return GRPOLoss(per_token, kl, clipped)


def reduce_tokens(
    per_token: Tensor,
    mask: Tensor,
    loss_type: GRPOLossType = "grpo",
    *,
    max_completion_length: int | None = None,
    num_sequences: int | None = None,
    num_tokens: int | float | None = None,
) -> Tensor:
    """Average ``per_token`` over the ``mask`` as ``loss_type`` says (module docstring).

    For a micro-batch of a larger batch pass the whole batch's ``num_sequences`` (grpo, dr_grpo) or
    ``num_tokens`` (bnpo): the micro-batch losses then sum to the loss of the whole batch.
    """
    mask = mask.to(per_token.dtype)
    rows = per_token.shape[0] if num_sequences is None else num_sequences
    if loss_type == "grpo":
        return ((per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).sum() / rows
    if loss_type == "bnpo":
        tokens = mask.sum().clamp(min=1.0) if num_tokens is None else max(float(num_tokens), 1.0)
        return (per_token * mask).sum() / tokens
    if loss_type == "dr_grpo":
        if max_completion_length is None:
            raise ValueError("loss_type dr_grpo needs max_completion_length")
        return (per_token * mask).sum() / (rows * max_completion_length)
    raise ValueError(f"unknown GRPO loss_type {loss_type!r}; expected one of {', '.join(GRPO_LOSS_TYPES)}")


@dataclass(frozen=True)
class PPOLoss:
    loss: Tensor
    """Scalar (masked mean over tokens)."""
    clip_fraction: Tensor
    """Detached fraction of tokens where the clipped term was the larger one."""


def ppo_policy_loss(
    logps: Tensor, old_logps: Tensor, advantages: Tensor, mask: Tensor, *, cliprange: float = 0.2
) -> PPOLoss:
    """PPO's clipped policy loss, a masked mean over tokens (module docstring)."""
    import torch

    ratio = torch.exp(logps - old_logps)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1 - cliprange, 1 + cliprange)
    loss = masked_mean(torch.max(unclipped, clipped), mask)
    return PPOLoss(loss, masked_mean((clipped > unclipped).float(), mask).detach())


def ppo_value_loss(
    values: Tensor, old_values: Tensor, returns: Tensor, mask: Tensor, *, cliprange_value: float = 0.2
) -> PPOLoss:
    """PPO's clipped value loss ``0.5 * max((V - R)^2, (clip(V) - R)^2)``, a masked mean over tokens."""
    import torch

    clipped_values = torch.clamp(values, old_values - cliprange_value, old_values + cliprange_value)
    unclipped = (values - returns) ** 2
    clipped = (clipped_values - returns) ** 2
    loss = 0.5 * masked_mean(torch.max(unclipped, clipped), mask)
    return PPOLoss(loss, masked_mean((clipped > unclipped).float(), mask).detach())
