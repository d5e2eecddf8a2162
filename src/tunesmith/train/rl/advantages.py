r"""Advantages for policy-gradient RL, as pure functions on tensors.

* :func:`group_advantages` — GRPO's outcome supervision (Shao et al. 2024, "DeepSeekMath: Pushing
  the Limits of Mathematical Reasoning in Open Language Models", §4.1.2): each of the ``G``
  completions of one prompt gets :math:`\hat A_i = (r_i - \mathrm{mean}(r)) / (\mathrm{std}(r) + \epsilon)`
  over its group, the same value at every token. ``scale=False`` drops the division (Liu et al. 2025,
  "Understanding R1-Zero-Like Training: A Critical Perspective", Dr. GRPO). A group whose rewards
  are all equal gets advantage 0 (it carries no learning signal). The standard deviation is the
  unbiased one, as in trl.
* :func:`gae` — Generalized Advantage Estimation (Schulman et al. 2016, "High-Dimensional Continuous
  Control Using Generalized Advantage Estimation"):
  :math:`\delta_t = r_t + \gamma V_{t+1} - V_t`, :math:`\hat A_t = \sum_l (\gamma\lambda)^l \delta_{t+l}`,
  returns :math:`R_t = \hat A_t + V_t` (the value targets), with :math:`V` = 0 after the last token.
* :func:`whiten` — masked standardisation, used on PPO advantages (and optionally rewards).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["gae", "group_advantages", "masked_mean", "whiten"]


def group_advantages(rewards: Tensor, group_size: int, *, scale: bool = True, eps: float = 1e-4) -> Tensor:
    """Group-normalised advantages of ``rewards`` (shape ``(n_prompts * group_size,)``, the completions
    of one prompt contiguous): ``(r - mean_group) / (std_group + eps)`` (module docstring)."""
    if group_size < 1 or rewards.numel() % group_size:
        raise ValueError(f"{rewards.numel()} rewards do not split into groups of {group_size}")
    grouped = rewards.view(-1, group_size)
    centred = grouped - grouped.mean(dim=1, keepdim=True)
    if scale:
        std = grouped.std(dim=1, keepdim=True) if group_size > 1 else grouped.new_zeros(grouped.shape[0], 1)
        centred = centred / (std + eps)
    return centred.reshape(-1)


def masked_mean(values: Tensor, mask: Tensor, dim: int | None = None) -> Tensor:
    """Mean of ``values`` where ``mask`` is true (0 where nothing is)."""
    mask = mask.to(values.dtype)
    if dim is None:
        return (values * mask).sum() / mask.sum().clamp(min=1.0)
    return (values * mask).sum(dim) / mask.sum(dim).clamp(min=1.0)


def whiten(values: Tensor, mask: Tensor, *, shift_mean: bool = True, eps: float = 1e-8) -> Tensor:
    """``(x - mean) / sqrt(var + eps)`` over the masked entries (unbiased variance); masked-out entries
    become 0. ``shift_mean=False`` keeps the mean (scales only), as for rewards."""
    import torch

    mean = masked_mean(values, mask)
    count = mask.sum().clamp(min=2)
    var = ((values - mean) ** 2 * mask).sum() / (count - 1)
    out = (values - mean) * torch.rsqrt(var + eps)
    if not shift_mean:
        out = out + mean
    return out * mask


def gae(
    rewards: Tensor, values: Tensor, mask: Tensor, *, gamma: float = 1.0, lam: float = 0.95
) -> tuple[Tensor, Tensor]:
    """Advantages and returns of per-token ``rewards`` and ``values`` (``(batch, length)``; ``mask``
    marks the completion tokens, right-padded). Padding gets advantage and return 0."""
    import torch

    mask = mask.to(values.dtype)
    rewards, values = rewards * mask, values * mask
    length = rewards.shape[1]
    last = torch.zeros_like(rewards[:, 0])
    reversed_adv = []
    for t in reversed(range(length)):
        next_value = values[:, t + 1] if t + 1 < length else torch.zeros_like(last)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = (delta + gamma * lam * last) * mask[:, t]
        reversed_adv.append(last)
    advantages = torch.stack(reversed_adv[::-1], dim=1)
    return advantages, (advantages + values) * mask
