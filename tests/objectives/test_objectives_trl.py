"""Our loss functions agree with trl's own implementations on the same random inputs (1e-6).

trl functions compared against (trl 1.x):
* ``trl.DPOTrainer._compute_loss``: loss types sigmoid, ipo, hinge, robust (label smoothing);
* ``trl.experimental.cpo.CPOTrainer.cpo_loss``: CPO sigmoid (label smoothing) and hinge, SimPO,
  and cDPO's label-smoothed sigmoid on DPO log-ratios;
* ``trl.experimental.orpo.ORPOTrainer.odds_ratio_loss`` and ``get_batch_logps``;
* ``trl.KTOTrainer._compute_loss`` (with its mismatched-pair KL term).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from tests.objectives.trl_stubs import FakeAccelerator, FakeLM, random_completion_batch, stub_trainer
from tunesmith.train.objectives import (
    cpo_loss,
    dpo_loss,
    kto_kl_estimate,
    kto_loss,
    orpo_loss,
    sequence_logps,
    simpo_loss,
)

trl = pytest.importorskip("trl", reason="trl is needed to compare against its implementations")

TOL = 1e-6
B, L = 6, 24


def _close(ours: torch.Tensor, theirs: torch.Tensor | float) -> None:
    theirs = torch.as_tensor(theirs, dtype=ours.dtype)
    torch.testing.assert_close(ours, theirs, atol=TOL, rtol=0)


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(1234)


def _trl_dpo(loss_type: str, beta: float, label_smoothing: float, gen: torch.Generator, n: int = B):
    """Run trl's DPOTrainer._compute_loss on a random batch; return (trl loss, metrics, our inputs)."""
    from trl import DPOTrainer

    ids, mask, log_probs = random_completion_batch(2 * n, L, gen)
    ref = -torch.rand(2 * n, generator=gen, dtype=torch.float64) * 40
    model = FakeLM([(ids, log_probs)])
    stub = stub_trainer(
        model,
        ld_alpha=None,
        precompute_ref_logps=True,
        f_divergence_type="reverse_kl",
        loss_types=[loss_type],
        loss_weights=[1.0],
        beta=beta,
        label_smoothing=label_smoothing,
        use_weighting=False,
    )
    inputs = {
        "input_ids": ids,
        "attention_mask": (ids != 0).long(),
        "completion_mask": mask,
        "ref_chosen_logps": ref[:n],
        "ref_rejected_logps": ref[n:],
    }
    loss = DPOTrainer._compute_loss(stub, model, inputs, False)
    logps = log_probs.sum(-1)
    counts = mask.sum(-1).to(torch.float64)
    return loss, stub._metrics["train"], logps, ref, counts


@pytest.mark.parametrize(
    ("loss_type", "beta", "label_smoothing"),
    [
        ("sigmoid", 0.1, 0.0),
        ("sigmoid", 0.5, 0.0),
        ("hinge", 0.1, 0.0),
        ("robust", 0.1, 0.2),
        ("robust", 0.3, 0.05),
    ],
)
def test_dpo_matches_trl_dpo_trainer(loss_type: str, beta: float, label_smoothing: float, gen) -> None:
    trl_loss, metrics, logps, ref, _ = _trl_dpo(loss_type, beta, label_smoothing, gen)
    ours = dpo_loss(
        logps[:B],
        logps[B:],
        ref[:B],
        ref[B:],
        beta=beta,
        loss_type=loss_type,
        label_smoothing=label_smoothing,
    )
    assert ours.losses.shape == (B,)
    _close(ours.losses.mean(), trl_loss)
    _close(ours.chosen_rewards.mean(), metrics["rewards/chosen"][-1])
    _close(ours.rejected_rewards.mean(), metrics["rewards/rejected"][-1])
    _close(ours.margins.mean(), metrics["rewards/margins"][-1])
    _close(ours.accuracies.mean(), metrics["rewards/accuracies"][-1])


def test_dpo_ipo_matches_trl_with_per_token_means(gen) -> None:
    """trl's IPO divides each log-ratio by the completion length: pass ``mean`` log-probs to ours."""
    beta = 0.1
    trl_loss, _, logps, ref, counts = _trl_dpo("ipo", beta, 0.0, gen)
    mean, ref_mean = logps / counts, ref / counts
    ours = dpo_loss(mean[:B], mean[B:], ref_mean[:B], ref_mean[B:], beta=beta, loss_type="ipo")
    _close(ours.losses.mean(), trl_loss)


def test_dpo_per_example_losses_match_trl_one_by_one() -> None:
    """trl returns the batch mean: per-example agreement, by running trl on one pair at a time."""
    for seed in range(4):
        g = torch.Generator().manual_seed(seed)
        trl_loss, _, logps, ref, _ = _trl_dpo("sigmoid", 0.2, 0.0, g, n=1)
        ours = dpo_loss(logps[:1], logps[1:], ref[:1], ref[1:], beta=0.2)
        _close(ours.losses[0], trl_loss)


def _cpo_stub(loss_type: str, beta: float, label_smoothing: float, simpo_gamma: float = 0.5):
    return SimpleNamespace(
        alpha=0.0,
        loss_type=loss_type,
        beta=beta,
        label_smoothing=label_smoothing,
        simpo_gamma=simpo_gamma,
        accelerator=FakeAccelerator(),
    )


def _pair(gen: torch.Generator, scale: float = 30.0) -> tuple[torch.Tensor, torch.Tensor]:
    return (
        -torch.rand(B, generator=gen, dtype=torch.float64) * scale,
        -torch.rand(B, generator=gen, dtype=torch.float64) * scale,
    )


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1, 0.3])
def test_dpo_sigmoid_label_smoothing_matches_trl_conservative_sigmoid(label_smoothing: float, gen) -> None:
    """cDPO: trl 1.x keeps the label-smoothed sigmoid in CPOTrainer.cpo_loss, on ``chosen - rejected``;
    fed the DPO log-ratios it is exactly DPO's conservative loss."""
    from trl.experimental.cpo import CPOTrainer

    (pc, pr), (rc, rr) = _pair(gen), _pair(gen)
    beta = 0.1
    theirs, _, _ = CPOTrainer.cpo_loss(_cpo_stub("sigmoid", beta, label_smoothing), pc - rc, pr - rr)
    ours = dpo_loss(pc, pr, rc, rr, beta=beta, label_smoothing=label_smoothing)
    _close(ours.losses, theirs)


@pytest.mark.parametrize(
    ("beta", "gamma", "label_smoothing"), [(2.0, 0.5, 0.0), (2.5, 1.4, 0.0), (0.1, 0.5, 0.2)]
)
def test_simpo_matches_trl_cpo_trainer(beta: float, gamma: float, label_smoothing: float, gen) -> None:
    from trl.experimental.cpo import CPOTrainer

    pc, pr = _pair(gen, scale=3.0)
    stub = _cpo_stub("simpo", beta, label_smoothing, simpo_gamma=gamma)
    theirs, chosen_r, rejected_r = CPOTrainer.cpo_loss(stub, pc, pr)
    ours = simpo_loss(pc, pr, beta=beta, gamma=gamma, label_smoothing=label_smoothing)
    _close(ours.losses, theirs)
    _close(ours.chosen_rewards, chosen_r)
    _close(ours.rejected_rewards, rejected_r)


@pytest.mark.parametrize(
    ("loss_type", "label_smoothing"), [("sigmoid", 0.0), ("sigmoid", 0.25), ("hinge", 0.0)]
)
def test_cpo_matches_trl_cpo_trainer(loss_type: str, label_smoothing: float, gen) -> None:
    from trl.experimental.cpo import CPOTrainer

    pc, pr = _pair(gen)
    stub = _cpo_stub(loss_type, 0.1, label_smoothing)
    theirs, chosen_r, rejected_r = CPOTrainer.cpo_loss(stub, pc, pr)
    ours = cpo_loss(pc, pr, beta=0.1, label_smoothing=label_smoothing, loss_type=loss_type)
    _close(ours.losses, theirs)
    _close(ours.chosen_rewards, chosen_r)
    _close(ours.rejected_rewards, rejected_r)
    nll = torch.rand(B, generator=gen, dtype=torch.float64)
    with_nll = cpo_loss(
        pc, pr, beta=0.1, label_smoothing=label_smoothing, loss_type=loss_type, chosen_nll=nll, cpo_alpha=0.7
    )
    _close(with_nll.losses, theirs + 0.7 * nll)


def test_orpo_matches_trl_odds_ratio_loss(gen) -> None:
    """trl returns ``beta * log sigmoid(log_odds)`` (subtracted from its NLL); ours adds the SFT term
    ``-mean logp(chosen)`` per example. Includes log-probs near 0, where log(1 - e^x) cancels."""
    from trl.experimental.orpo import ORPOTrainer

    pc = -torch.rand(B, generator=gen) * 4
    pr = -torch.rand(B, generator=gen) * 4
    pc[0], pr[1] = -1e-4, -0.69
    beta = 0.25
    stub = SimpleNamespace(beta=beta, accelerator=FakeAccelerator())
    ratio_term, chosen_r, rejected_r, mean_ratio, mean_log_odds = ORPOTrainer.odds_ratio_loss(stub, pc, pr)
    ours = orpo_loss(pc, pr, beta=beta)
    _close(ours.losses, -pc - ratio_term)
    _close(beta * ours.odds_ratio_loss, -ratio_term)
    _close(ours.log_odds.mean(), mean_log_odds)
    _close(ours.chosen_rewards, chosen_r)
    _close(ours.rejected_rewards, rejected_r)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_sequence_logps_matches_trl_get_batch_logps(dtype: torch.dtype, gen) -> None:
    from trl.experimental.orpo import ORPOTrainer

    logits = torch.randn(4, 9, 17, generator=gen).to(dtype)
    labels = torch.randint(0, 17, (4, 9), generator=gen)
    labels[:, :3] = -100
    labels[1, 6:] = -100  # padding
    labels[2, 4] = -100  # a masked token inside the response
    ours = sequence_logps(logits, labels)
    theirs_sum = ORPOTrainer.get_batch_logps(logits.float(), labels, average_log_prob=False)
    theirs_mean = ORPOTrainer.get_batch_logps(logits.float(), labels, average_log_prob=True)
    _close(ours.sum, theirs_sum)
    _close(ours.mean, theirs_mean)


def _trl_kto(beta: float, desirable_weight: float, undesirable_weight: float, labels: list[bool], gen):
    from trl import KTOTrainer

    n = len(labels)
    ids, mask, log_probs = random_completion_batch(n, L, gen)
    kl_ids, kl_mask, kl_log_probs = random_completion_batch(n, L + 3, gen)
    model = FakeLM([(ids, log_probs), (kl_ids, kl_log_probs)])
    stub = stub_trainer(
        model,
        calculate_KL=True,
        precompute_ref_logps=True,
        loss_type="kto",
        beta=beta,
        desirable_weight=desirable_weight,
        undesirable_weight=undesirable_weight,
    )
    stub._compute_kl_logps = lambda m, b: KTOTrainer._compute_kl_logps(stub, m, b)
    ref = log_probs.sum(-1) - torch.randn(n, generator=gen, dtype=torch.float64)
    ref_kl = kl_log_probs.sum(-1) - torch.randn(n, generator=gen, dtype=torch.float64) - 0.5
    inputs = {
        "input_ids": ids,
        "attention_mask": (ids != 0).long(),
        "completion_mask": mask,
        "KL_input_ids": kl_ids,
        "KL_attention_mask": (kl_ids != 0).long(),
        "KL_completion_mask": kl_mask,
        "label": torch.tensor(labels),
        "ref_logps": ref,
        "ref_KL_logps": ref_kl,
    }
    loss = KTOTrainer._compute_loss(stub, model, inputs, False)
    return loss, stub._metrics["train"], log_probs.sum(-1), ref, kl_log_probs.sum(-1), ref_kl


@pytest.mark.parametrize(
    ("labels", "dw", "uw"),
    [
        ([True, False, True, True, False, False], 1.0, 1.0),
        ([True, False, False, True, False, True, False], 1.33, 0.8),
        ([True, True, True], 1.0, 1.0),
    ],
)
def test_kto_matches_trl_kto_trainer(labels: list[bool], dw: float, uw: float, gen) -> None:
    beta = 0.1
    trl_loss, metrics, logps, ref, kl_logps, ref_kl = _trl_kto(beta, dw, uw, labels, gen)
    kl = kto_kl_estimate(kl_logps, ref_kl)
    _close(kl, metrics["kl"][-1])
    ours = kto_loss(
        logps, ref, torch.tensor(labels), kl, beta=beta, desirable_weight=dw, undesirable_weight=uw
    )
    assert ours.losses.shape == (len(labels),)
    _close(ours.losses.mean(), trl_loss)
    _close(ours.chosen_rewards.mean(), metrics["rewards/chosen"][-1])
    if not all(labels):
        _close(ours.rejected_rewards.mean(), metrics["rewards/rejected"][-1])


def test_kto_kl_estimate_is_clamped_at_zero() -> None:
    """A negative mean log-ratio on the mismatched pairs gives z0 = 0 (trl: ``.clamp(min=0)``)."""
    policy = torch.tensor([-3.0, -5.0], requires_grad=True)
    assert float(kto_kl_estimate(policy, torch.tensor([-1.0, -2.0]))) == 0.0
    z0 = kto_kl_estimate(policy, torch.tensor([-4.0, -8.0]))
    assert float(z0) == pytest.approx(2.0) and not z0.requires_grad
