"""Hand-computed values: pairwise reward loss/accuracy, sequence log-probs (padding ignored), and
the properties the trainer relies on (per-example, batch-independent, argument checks)."""

from __future__ import annotations

import math

import pytest
import torch

from tunesmith.train.objectives import (
    dpo_loss,
    kto_loss,
    last_token_scores,
    log1mexp,
    orpo_loss,
    pairwise_accuracy,
    pairwise_reward_loss,
    sequence_logps,
    simpo_loss,
)

IGN = -100


def test_pairwise_reward_loss_values() -> None:
    chosen = torch.tensor([2.0, 0.0, -1.0])
    rejected = torch.tensor([0.0, 0.0, 1.0])
    expected = [math.log(1 + math.exp(-2)), math.log(2), math.log(1 + math.exp(2))]
    torch.testing.assert_close(pairwise_reward_loss(chosen, rejected), torch.tensor(expected))
    assert pairwise_accuracy(chosen, rejected).tolist() == [1.0, 0.0, 0.0]  # a tie is not a win
    with_margin = pairwise_reward_loss(chosen, rejected, margin=1.0)
    assert with_margin[0].item() == pytest.approx(math.log(1 + math.exp(-1)), abs=1e-6)


def test_last_token_scores_right_and_left_padding() -> None:
    values = torch.tensor([[1.0, 2.0, 3.0, 9.0], [4.0, 5.0, 9.0, 9.0], [9.0, 6.0, 7.0, 8.0]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0], [0, 1, 1, 1]])
    assert last_token_scores(values, mask).tolist() == [3.0, 5.0, 8.0]
    assert last_token_scores(values.unsqueeze(-1), mask).tolist() == [3.0, 5.0, 8.0]
    with pytest.raises(ValueError, match="no real token"):
        last_token_scores(values, torch.zeros_like(mask))


def test_sequence_logps_hand_values_and_padding_ignored() -> None:
    ln3 = math.log(3)
    # vocab of 2; p = (1/4, 3/4) for logits (0, ln 3)
    logits = torch.tensor(
        [
            [[0.0, ln3], [ln3, 0.0], [1e4, -1e4], [5.0, -5.0]],  # last two positions: padding, garbage logits
            [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]],  # all padding
        ]
    )
    labels = torch.tensor([[IGN, 1, 0, IGN], [IGN, IGN, IGN, IGN]])
    out = sequence_logps(logits, labels)
    torch.testing.assert_close(out.sum, torch.tensor([2 * math.log(0.75), 0.0]))
    torch.testing.assert_close(out.mean, torch.tensor([math.log(0.75), 0.0]))
    assert out.count.tolist() == [2, 0]


def test_sequence_logps_independent_of_padding_length() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 7, 11, generator=g)
    labels = torch.randint(0, 11, (3, 7), generator=g)
    labels[:, :2] = IGN
    padded_logits = torch.cat([logits, torch.randn(3, 5, 11, generator=g) * 100], dim=1)
    padded_labels = torch.cat([labels, torch.full((3, 5), IGN)], dim=1)
    a, b = sequence_logps(logits, labels), sequence_logps(padded_logits, padded_labels)
    torch.testing.assert_close(a.sum, b.sum)
    torch.testing.assert_close(a.mean, b.mean)


def test_sequence_logps_gradient_only_through_trained_tokens() -> None:
    logits = torch.zeros(1, 4, 3, requires_grad=True)
    labels = torch.tensor([[IGN, 2, IGN, IGN]])
    sequence_logps(logits, labels).sum.sum().backward()
    assert logits.grad[0, 0].abs().sum() > 0
    assert logits.grad[0, 1:].abs().sum() == 0


def test_dpo_sigmoid_hand_value() -> None:
    # delta = (-1 - -2) - (-3 - -2) = 2; beta 0.5 -> -log sigmoid(1)
    out = dpo_loss(
        torch.tensor([-1.0]), torch.tensor([-3.0]), torch.tensor([-2.0]), torch.tensor([-2.0]), beta=0.5
    )
    assert out.losses.item() == pytest.approx(math.log(1 + math.exp(-1)), abs=1e-6)
    assert out.chosen_rewards.item() == pytest.approx(0.5) and out.rejected_rewards.item() == pytest.approx(
        -0.5
    )
    assert out.margins.item() == pytest.approx(1.0) and out.accuracies.item() == 1.0


def test_losses_are_per_example_and_batch_independent() -> None:
    """What gradient-accumulation independence rests on: each example's loss depends on it alone."""
    g = torch.Generator().manual_seed(3)
    x = [-torch.rand(6, generator=g) * 10 for _ in range(4)]
    whole = dpo_loss(*x, beta=0.1).losses
    halves = torch.cat(
        [dpo_loss(*(t[:2] for t in x), beta=0.1).losses, dpo_loss(*(t[2:] for t in x), beta=0.1).losses]
    )
    torch.testing.assert_close(whole, halves)
    labels = torch.tensor([True, False, True, False, True, True])
    whole = kto_loss(x[0], x[1], labels, 0.3).losses
    halves = torch.cat(
        [
            kto_loss(x[0][:3], x[1][:3], labels[:3], 0.3).losses,
            kto_loss(x[0][3:], x[1][3:], labels[3:], 0.3).losses,
        ]
    )
    torch.testing.assert_close(whole, halves)


def test_kto_loss_hand_values_in_input_order() -> None:
    # logratios (1, 1); kl 0.5; beta 1: desirable 1 - s(0.5), undesirable 1 - s(-0.5)
    out = kto_loss(
        torch.tensor([0.0, 0.0]),
        torch.tensor([-1.0, -1.0]),
        torch.tensor([True, False]),
        0.5,
        beta=1.0,
        undesirable_weight=2.0,
    )
    s = 1 / (1 + math.exp(-0.5))
    torch.testing.assert_close(out.losses, torch.tensor([1 - s, 2 * s]))
    assert out.chosen_rewards.tolist() == [1.0] and out.rejected_rewards.tolist() == [1.0]


def test_orpo_and_simpo_hand_values() -> None:
    c, r = torch.tensor([math.log(0.5)]), torch.tensor([math.log(0.25)])
    # odds 1 and 1/3: log odds ratio = log 3
    out = orpo_loss(c, r, beta=0.1)
    assert out.log_odds.item() == pytest.approx(math.log(3), abs=1e-6)
    assert out.losses.item() == pytest.approx(math.log(2) + 0.1 * math.log(1 + 1 / 3), abs=1e-6)
    simpo = simpo_loss(c, r, beta=2.0, gamma=0.5)
    z = 2.0 * math.log(2) - 0.5
    assert simpo.losses.item() == pytest.approx(math.log(1 + math.exp(-z)), abs=1e-6)


def test_log1mexp_is_accurate_near_zero() -> None:
    x = torch.tensor([-1e-7, -0.5, -1.0, -30.0], dtype=torch.float64)
    torch.testing.assert_close(log1mexp(x), torch.log(-torch.expm1(x)))
    assert torch.isfinite(log1mexp(torch.tensor([-1e-7]))).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"loss_type": "nope"}, "unknown DPO loss_type"),
        ({"loss_type": "robust", "label_smoothing": 0.5}, "robust DPO needs"),
        ({"loss_type": "ipo", "label_smoothing": 0.1}, "not defined"),
        ({"beta": 0.0}, "beta must be > 0"),
    ],
)
def test_dpo_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    t = torch.zeros(2)
    with pytest.raises(ValueError, match=match):
        dpo_loss(t, t, t, t, **kwargs)
