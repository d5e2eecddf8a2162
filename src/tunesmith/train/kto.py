"""KTO training (stage kto) on transformers' Trainer.

Batches come from :class:`~tunesmith.data.pref_collator.FeedbackCollator`: the examples
(``input_ids``/``attention_mask``/``labels``, ``kto_labels`` True = desirable) and their mismatched
KL batch (``kl_*``). Per step: the policy's summed log-probs of the examples (with gradient), the
policy's and the reference's log-probs of the KL batch (no gradient; they only give the detached
reference point :math:`z_0`, :func:`~tunesmith.train.objectives.kto_kl_estimate`), the reference's
log-probs of the examples, then :func:`~tunesmith.train.objectives.kto_loss`.

Reference: as :class:`~tunesmith.train.preference.PreferenceTrainer` — a LoRA model's base with the
adapter disabled (no second copy), or an explicit frozen ``ref_model``; full fine-tuning without
one is refused here (the workflow loads the initial model as ``ref_model`` in that case).

Reduction: per-example losses summed and divided by the examples of the global batch.
Logs (averaged over the logging interval, per example): ``rewards/chosen`` (desirable),
``rewards/rejected`` (undesirable), ``rewards/margins`` (their difference when both occurred),
``logps/chosen``, ``logps/rejected`` and ``kl``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from transformers import Trainer

from tunesmith.train.metrics_log import StoredMetrics
from tunesmith.train.objectives import kto_kl_estimate, kto_loss, sequence_logps
from tunesmith.train.preference import GlobalItemCount, _is_peft

__all__ = ["KTOConfig", "KTOTrainer"]


@dataclass(frozen=True)
class KTOConfig:
    """The KTO objective (LLaMA-Factory names in brackets)."""

    beta: float = 0.1
    """Temperature β [pref_beta]."""
    desirable_weight: float = 1.0
    """λ_D [kto_chosen_weight]."""
    undesirable_weight: float = 1.0
    """λ_U [kto_rejected_weight]."""
    ftx: float = 0.0
    """Weight of an added NLL term on the desirable examples [pref_ftx]."""


class _Sums:
    """Running sums and counts of logged values (averaged per example, not per batch)."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def add(self, key: str, values: torch.Tensor) -> None:
        if values.numel():
            self.sums[key] = self.sums.get(key, 0.0) + float(values.detach().float().sum())
            self.counts[key] = self.counts.get(key, 0) + values.numel()

    def means(self) -> dict[str, float]:
        return {k: self.sums[k] / self.counts[k] for k in self.sums}

    def clear(self) -> None:
        self.sums.clear()
        self.counts.clear()


class KTOTrainer(GlobalItemCount, StoredMetrics, Trainer):
    """transformers' Trainer with the KTO loss (module docstring)."""

    loss_is_scaled_for_ga = True
    rows_per_item = 1

    def __init__(
        self, *args: Any, kto: KTOConfig, ref_model: torch.nn.Module | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.kto = kto
        self.ref_model = ref_model
        if ref_model is None and not _is_peft(self.model):
            raise ValueError(
                "stage kto needs a reference model: train a LoRA adapter (the reference is the model with "
                "the adapter disabled) or give ref_model"
            )
        if ref_model is not None:
            ref_model.eval().requires_grad_(False)
            self.ref_model = self.accelerator.prepare_model(ref_model, evaluation_mode=True)

    def _metric_store(self) -> _Sums:
        return _Sums()

    def _stored_means(self, mode: str) -> dict[str, float]:
        means = self._stored[mode].means()
        if "rewards/chosen" in means and "rewards/rejected" in means:
            means["rewards/margins"] = means["rewards/chosen"] - means["rewards/rejected"]
        return means

    def _logps(self, model: torch.nn.Module, inputs: dict[str, Any], prefix: str = ""):
        outputs = model(
            input_ids=inputs[f"{prefix}input_ids"],
            attention_mask=inputs[f"{prefix}attention_mask"],
            use_cache=False,
        )
        return sequence_logps(outputs.logits, inputs[f"{prefix}labels"])

    def _reference(self, model: torch.nn.Module, inputs: dict[str, Any], prefix: str = ""):
        with torch.no_grad():
            if self.ref_model is not None:
                return self._logps(self.ref_model, inputs, prefix)
            with self.accelerator.unwrap_model(model).disable_adapter():
                return self._logps(model, inputs, prefix)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        cfg = self.kto
        policy = self._logps(model, inputs)
        with torch.no_grad():
            policy_kl = self._logps(model, inputs, "kl_")
        reference = self._reference(model, inputs)
        reference_kl = self._reference(model, inputs, "kl_")
        kl = kto_kl_estimate(policy_kl.sum, reference_kl.sum)
        out = kto_loss(
            policy.sum,
            reference.sum,
            inputs["kto_labels"],
            kl,
            beta=cfg.beta,
            desirable_weight=cfg.desirable_weight,
            undesirable_weight=cfg.undesirable_weight,
        )
        losses = out.losses
        if cfg.ftx > 0:
            losses = losses + cfg.ftx * torch.where(out.labels, -policy.mean, torch.zeros_like(policy.mean))
        stored = self._stored["train" if model.training else "eval"]
        stored.add("rewards/chosen", out.chosen_rewards)
        stored.add("rewards/rejected", out.rejected_rewards)
        stored.add("logps/chosen", policy.sum[out.labels])
        stored.add("logps/rejected", policy.sum[~out.labels])
        stored.add("kl", out.kl.reshape(1))
        loss = self.reduce_losses(losses, num_items_in_batch)
        return (loss, {"rewards": out.rewards, "labels": out.labels}) if return_outputs else loss
