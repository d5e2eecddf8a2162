"""Advantages and losses vs hand-computed values, and the GRPO loss vs trl's own code."""

from __future__ import annotations

import math
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

from tunesmith.train.rl.advantages import gae, group_advantages, whiten
from tunesmith.train.rl.losses import grpo_loss, kl_k3, ppo_policy_loss, ppo_value_loss, reduce_tokens
from tunesmith.train.rl.ppo import adaptive_kl_coef


def test_group_advantages_by_hand_and_zero_std_group() -> None:
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 2.0, 2.0, 2.0, 2.0])
    adv = group_advantages(rewards, 4)
    std = math.sqrt(1 / 3)  # unbiased std of [1, 0, 0, 1]
    expected = [0.5 / (std + 1e-4), -0.5 / (std + 1e-4)] * 1
    assert adv[:4].tolist() == pytest.approx([expected[0], expected[1], expected[1], expected[0]], rel=1e-6)
    assert adv[4:].tolist() == [0.0, 0.0, 0.0, 0.0]  # all equal: no signal, no NaN
    assert group_advantages(rewards, 4, scale=False)[:4].tolist() == [0.5, -0.5, -0.5, 0.5]
    with pytest.raises(ValueError, match="groups of 3"):
        group_advantages(rewards, 3)


def test_group_advantages_match_trl_formula() -> None:
    from trl.trainer.utils import nanstd

    rewards = torch.randn(24, generator=torch.Generator().manual_seed(0))
    grouped = rewards.view(-1, 6)
    mean = grouped.mean(1).repeat_interleave(6)
    std = nanstd(grouped, dim=1).repeat_interleave(6)
    torch.testing.assert_close(group_advantages(rewards, 6), (rewards - mean) / (std + 1e-4))


def test_gae_by_hand() -> None:
    rewards = torch.tensor([[0.0, 0.0, 1.0]])
    values = torch.tensor([[0.5, 0.5, 0.5]])
    mask = torch.ones(1, 3)
    adv, ret = gae(rewards, values, mask, gamma=1.0, lam=1.0)
    assert adv.tolist() == [[0.5, 0.5, 0.5]] and ret.tolist() == [[1.0, 1.0, 1.0]]
    adv, _ = gae(rewards, values, mask, gamma=1.0, lam=0.5)
    # deltas 0, 0, 0.5 → A2 = .5, A1 = .25, A0 = .125
    assert adv.tolist() == [[0.125, 0.25, 0.5]]
    # discounting: delta_t = r_t + 0.9 V_{t+1} - V_t
    adv, _ = gae(rewards, values, mask, gamma=0.9, lam=1.0)
    assert adv[0].tolist() == pytest.approx([0.81 - 0.5, 0.9 - 0.5, 0.5])


def test_gae_ignores_padding() -> None:
    rewards = torch.tensor([[0.0, 1.0, 7.0]])
    values = torch.tensor([[0.2, 0.4, 9.0]])
    mask = torch.tensor([[1, 1, 0]])
    adv, ret = gae(rewards, values, mask, gamma=1.0, lam=1.0)
    assert adv[0].tolist() == pytest.approx([0.8, 0.6, 0.0]) and ret[0, 2] == 0


def test_whiten_masked() -> None:
    x = torch.tensor([[1.0, 2.0, 3.0, 100.0]])
    mask = torch.tensor([[1, 1, 1, 0]])
    w = whiten(x, mask)
    assert w[0, :3].tolist() == pytest.approx([-1.0, 0.0, 1.0], abs=1e-6) and w[0, 3] == 0


def test_kl_k3_by_hand() -> None:
    logp, ref = torch.log(torch.tensor([0.5, 0.3])), torch.log(torch.tensor([0.25, 0.3]))
    kl = kl_k3(logp, ref)
    assert kl.tolist() == pytest.approx([0.5 - math.log(0.5) - 1, 0.0], abs=1e-7)
    assert (kl_k3(torch.randn(100), torch.randn(100)) >= 0).all()


def test_grpo_loss_clipping_by_hand() -> None:
    logps = torch.tensor([[0.5, -0.5, 0.5]])
    old = torch.zeros(1, 3)
    out = grpo_loss(logps, old, torch.tensor([1.0]), beta=0.0)
    assert out.per_token[0].tolist() == pytest.approx([-1.2, -math.exp(-0.5), -1.2])
    assert out.clipped[0].tolist() == [True, False, True] and out.kl is None
    neg = grpo_loss(logps, old, torch.tensor([-1.0]), beta=0.0)
    assert neg.per_token[0].tolist() == pytest.approx([math.exp(0.5), 0.8, math.exp(0.5)])
    high = grpo_loss(logps, old, torch.tensor([1.0]), beta=0.0, epsilon_high=0.28)
    assert high.per_token[0, 0].item() == pytest.approx(-1.28)
    with pytest.raises(ValueError, match="ref_logps"):
        grpo_loss(logps, old, torch.tensor([1.0]), beta=0.1)


def test_reduce_tokens_by_hand_and_micro_batches_add_up() -> None:
    per_token = torch.tensor([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    assert reduce_tokens(per_token, mask, "grpo").item() == pytest.approx((2.0 + 4.0) / 2)
    assert reduce_tokens(per_token, mask, "bnpo").item() == pytest.approx(10.0 / 4)
    assert reduce_tokens(per_token, mask, "dr_grpo", max_completion_length=5).item() == pytest.approx(
        10.0 / 10
    )
    for kind in ("grpo", "bnpo", "dr_grpo"):
        whole = reduce_tokens(per_token, mask, kind, max_completion_length=5)
        parts = sum(
            reduce_tokens(
                per_token[i : i + 1],
                mask[i : i + 1],
                kind,
                max_completion_length=5,
                num_sequences=2,
                num_tokens=4,
            )
            for i in range(2)
        )
        assert parts.item() == pytest.approx(whole.item())


class _Acc:
    num_processes = 1
    sync_gradients = True

    def gather(self, x):
        return x

    gather_for_metrics = gather

    def reduce(self, x, reduction="sum"):
        return x


@pytest.mark.parametrize("loss_type", ["grpo", "bnpo", "dr_grpo"])
@pytest.mark.parametrize("beta", [0.0, 0.04])
def test_grpo_loss_matches_trl(loss_type: str, beta: float) -> None:
    """trl's GRPOTrainer._compute_loss on a stub self whose model returns our per-token log-probs."""
    from trl import GRPOTrainer

    g = torch.Generator().manual_seed(1)
    batch, length, max_len = 6, 5, 8
    logps = -torch.rand(batch, length, generator=g) * 3
    old = logps + torch.randn(batch, length, generator=g) * 0.3
    ref = logps + torch.randn(batch, length, generator=g) * 0.3
    adv = torch.randn(batch, generator=g)
    mask = torch.ones(batch, length, dtype=torch.long)
    mask[0, 3:] = 0
    mask[4, 1:] = 0
    stub = SimpleNamespace(
        _get_per_token_logps_and_entropies=lambda *a, **k: (logps, torch.zeros_like(logps), None),
        top_entropy_quantile=1.0,
        off_policy_mask_threshold=None,
        importance_sampling_level="token",
        beta=beta,
        args=SimpleNamespace(use_bias_correction_kl=False, delta=None),
        loss_type=loss_type,
        epsilon_low=0.2,
        epsilon_high=0.28,
        use_vllm=False,
        vllm_importance_sampling_correction=False,
        model=SimpleNamespace(training=True),
        current_gradient_accumulation_steps=1,
        _entropy_bonus_enabled=False,
        aux_loss_enabled=False,
        _metrics=defaultdict(lambda: defaultdict(list)),
        accelerator=_Acc(),
        max_completion_length=max_len,
    )
    inputs = {
        "prompt_ids": torch.zeros(batch, 2, dtype=torch.long),
        "prompt_mask": torch.ones(batch, 2, dtype=torch.long),
        "completion_ids": torch.zeros(batch, length, dtype=torch.long),
        "completion_mask": mask,
        "advantages": adv,
        "old_per_token_logps": old,
        "ref_per_token_logps": ref,
    }
    theirs = GRPOTrainer._compute_loss(stub, None, inputs)
    out = grpo_loss(logps, old, adv, ref_logps=ref, beta=beta, epsilon_low=0.2, epsilon_high=0.28)
    ours = reduce_tokens(out.per_token, mask, loss_type, max_completion_length=max_len)
    torch.testing.assert_close(ours, theirs)


def test_ppo_losses_by_hand() -> None:
    mask = torch.tensor([[1, 1, 0]])
    logps = torch.tensor([[0.5, -0.5, 3.0]])
    old = torch.zeros(1, 3)
    adv = torch.tensor([[1.0, 1.0, 5.0]])
    pl = ppo_policy_loss(logps, old, adv, mask, cliprange=0.2)
    # token 0: max(-1.6487, -1.2) = -1.2 (clipped); token 1: max(-0.6065, -0.8) = -0.6065
    assert pl.loss.item() == pytest.approx((-1.2 - math.exp(-0.5)) / 2)
    assert pl.clip_fraction.item() == pytest.approx(0.5)
    values = torch.tensor([[1.0, 0.0, 9.0]])
    old_values = torch.tensor([[0.0, 0.0, 0.0]])
    returns = torch.tensor([[0.5, 1.0, 0.0]])
    vl = ppo_value_loss(values, old_values, returns, mask, cliprange_value=0.2)
    # token 0: max((1-.5)^2, (.2-.5)^2) = .25; token 1: max(1, 1) = 1 → 0.5 * mean = 0.3125
    assert vl.loss.item() == pytest.approx(0.3125)


def test_adaptive_kl_coef() -> None:
    assert adaptive_kl_coef(0.2, 6.0, 6.0, 8) == pytest.approx(0.2)
    assert adaptive_kl_coef(0.2, 60.0, 6.0, 100, 1000) == pytest.approx(0.2 * (1 + 0.2 * 0.1))
    assert adaptive_kl_coef(0.2, 0.0, 6.0, 100, 1000) == pytest.approx(0.2 * (1 - 0.2 * 0.1))
