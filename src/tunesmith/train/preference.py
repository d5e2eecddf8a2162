"""Pairwise preference training (dpo, ipo, hinge, robust, simpo, orpo, cpo) on transformers' Trainer.

Batches come from :class:`~tunesmith.data.pref_collator.PairwiseCollator`: ``2n`` rows, the ``n``
chosen sequences then the ``n`` rejected ones, labels on the responses only. One forward pass gives
both sides' log-probs (:func:`~tunesmith.train.objectives.sequence_logps`); the loss comes from the
pure functions of :mod:`tunesmith.train.objectives`.

Reference model (dpo family only; simpo, orpo and cpo need none):

* a LoRA model with no ``ref_model``: the same model with its adapter switched off
  (peft's ``disable_adapter()``) — the frozen base, with no second copy in memory;
* an explicit ``ref_model`` (e.g. loaded from ``ref_model`` in the config): that model, frozen;
* full fine-tuning without ``ref_model`` is refused (the policy stops being the reference after
  the first step).

``ftx`` (LLaMA-Factory's ``pref_ftx``) adds ``ftx * NLL(chosen)`` per example, the chosen
response's mean token NLL.

Reduction: per-example losses are summed and divided by the number of pairs in the global batch
(all micro-batches of the optimizer step, all processes; counted in :meth:`get_batch_samples`), so
the update does not depend on ``gradient_accumulation_steps`` or a smaller last micro-batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from transformers import Trainer

from tunesmith.train.metrics_log import StoredMetrics
from tunesmith.train.objectives import cpo_loss, dpo_loss, orpo_loss, sequence_logps, simpo_loss
from tunesmith.train.objectives.logps import SequenceLogps
from tunesmith.train.objectives.output import PairLoss

__all__ = ["PREFERENCE_LOSSES", "GlobalItemCount", "PreferenceConfig", "PreferenceTrainer", "PreferenceLoss"]

PreferenceLoss = Literal["sigmoid", "ipo", "hinge", "robust", "simpo", "orpo", "cpo"]
PREFERENCE_LOSSES: tuple[str, ...] = ("sigmoid", "ipo", "hinge", "robust", "simpo", "orpo", "cpo")
_REFERENCE_FREE = ("simpo", "orpo", "cpo")
_MEAN_LOGPS = ("ipo", "simpo", "orpo")  # length-normalised by their papers / trl


@dataclass(frozen=True)
class PreferenceConfig:
    """The objective of a pairwise preference run (LLaMA-Factory names in brackets)."""

    loss: PreferenceLoss = "sigmoid"
    """sigmoid (DPO), ipo, hinge, robust, simpo, orpo or cpo [pref_loss]."""
    beta: float = 0.1
    """Temperature β of the dpo family, simpo and cpo; λ of orpo [pref_beta]."""
    label_smoothing: float = 0.0
    """cDPO / robust DPO / cpo label-noise rate [dpo_label_smoothing]."""
    simpo_gamma: float = 0.5
    """SimPO's target reward margin γ [simpo_gamma]."""
    ftx: float = 0.0
    """Weight of the SFT (chosen NLL) term added to the preference loss [pref_ftx]."""
    cpo_alpha: float = 1.0
    """Weight of cpo's behaviour-cloning NLL term."""

    def __post_init__(self) -> None:
        if self.loss not in PREFERENCE_LOSSES:
            raise ValueError(
                f"pref_loss: unknown {self.loss!r}; expected one of {', '.join(PREFERENCE_LOSSES)}"
            )

    @property
    def needs_reference(self) -> bool:
        return self.loss not in _REFERENCE_FREE


def _is_peft(model: Any) -> bool:
    return callable(getattr(model, "disable_adapter", None)) and hasattr(model, "peft_config")


class GlobalItemCount:
    """Trainer mixin: ``num_items_in_batch`` is the number of ITEMS (pairs: ``rows_per_item`` = 2;
    KTO examples: 1) in all micro-batches of the optimizer step on all processes, so that
    ``compute_loss`` can sum per-item losses and divide by it."""

    rows_per_item: int = 2

    def get_batch_samples(self, epoch_iterator: Any, num_batches: int, device: Any) -> tuple[list, Any]:
        batch_samples, _ = super().get_batch_samples(epoch_iterator, num_batches, device)  # type: ignore[misc]
        items = torch.tensor(
            sum(int(b["input_ids"].shape[0]) // self.rows_per_item for b in batch_samples), device=device
        )
        if self.args.world_size > 1:  # type: ignore[attr-defined]
            items = self.accelerator.gather(items).sum()  # type: ignore[attr-defined]
        return batch_samples, items

    def reduce_losses(self, losses: torch.Tensor, num_items_in_batch: Any) -> torch.Tensor:
        """Per-item ``losses`` summed and divided by the items of the global batch (their mean when
        ``num_items_in_batch`` is None: evaluation, or a caller outside the training loop)."""
        if num_items_in_batch is None:
            return losses.mean()
        # each process holds its share of the global sum; DDP averages gradients over processes
        return losses.sum() / num_items_in_batch * self.accelerator.num_processes  # type: ignore[attr-defined]


class PreferenceTrainer(GlobalItemCount, StoredMetrics, Trainer):
    """transformers' Trainer with a pairwise preference loss (module docstring).

    Logs, averaged over the logging interval: ``rewards/chosen``, ``rewards/rejected``,
    ``rewards/margins``, ``rewards/accuracies``, ``logps/chosen``, ``logps/rejected`` (and
    ``sft_loss`` when ``ftx`` > 0).
    """

    # compute_loss already divides by the global number of pairs
    loss_is_scaled_for_ga = True

    def __init__(
        self,
        *args: Any,
        preference: PreferenceConfig,
        ref_model: torch.nn.Module | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.preference = preference
        self.ref_model = ref_model
        if preference.needs_reference and ref_model is None and not _is_peft(self.model):
            raise ValueError(
                f"pref_loss {preference.loss!r} needs a reference model: train a LoRA adapter (the reference is "
                "the model with the adapter disabled) or give ref_model"
            )
        if ref_model is not None:
            ref_model.eval().requires_grad_(False)
            self.ref_model = self.accelerator.prepare_model(ref_model, evaluation_mode=True)

    # ---------------------------------------------------------------------------- the loss

    def _sequence_logps(self, model: torch.nn.Module, inputs: dict[str, Any]):
        outputs = model(
            input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], use_cache=False
        )
        return sequence_logps(outputs.logits, inputs["labels"])

    def reference_logps(self, model: torch.nn.Module, inputs: dict[str, Any]):
        """Sequence log-probs under the reference (module docstring), without gradient; taken from the
        batch when they were precomputed (:meth:`precompute_reference`)."""
        if "ref_logps_sum" in inputs:
            total, mean = inputs["ref_logps_sum"], inputs["ref_logps_mean"]
            return SequenceLogps(total, mean, torch.zeros_like(total, dtype=torch.long))
        with torch.no_grad():
            if self.ref_model is not None:
                return self._sequence_logps(self.ref_model, inputs)
            with self.accelerator.unwrap_model(model).disable_adapter():
                return self._sequence_logps(model, inputs)

    def pair_losses(self, model: torch.nn.Module, inputs: dict[str, Any]) -> tuple[PairLoss, torch.Tensor]:
        """Per-pair losses (the preference term plus the ftx term) and the chosen mean NLL."""
        cfg = self.preference
        policy = self._sequence_logps(model, inputs)
        use_mean = cfg.loss in _MEAN_LOGPS
        chosen, rejected = (policy.mean if use_mean else policy.sum).chunk(2)
        chosen_nll = -policy.mean.chunk(2)[0]
        if cfg.loss == "simpo":
            out = simpo_loss(
                chosen, rejected, beta=cfg.beta, gamma=cfg.simpo_gamma, label_smoothing=cfg.label_smoothing
            )
        elif cfg.loss == "orpo":  # its SFT term is part of the loss
            out = orpo_loss(chosen, rejected, beta=cfg.beta)
        elif cfg.loss == "cpo":
            out = cpo_loss(
                chosen,
                rejected,
                beta=cfg.beta,
                label_smoothing=cfg.label_smoothing,
                chosen_nll=chosen_nll,
                cpo_alpha=cfg.cpo_alpha,
            )
        else:
            ref = self.reference_logps(model, inputs)
            ref_chosen, ref_rejected = (ref.mean if use_mean else ref.sum).chunk(2)
            out = dpo_loss(
                chosen,
                rejected,
                ref_chosen,
                ref_rejected,
                beta=cfg.beta,
                loss_type=cfg.loss,
                label_smoothing=cfg.label_smoothing,
            )
        losses = out.losses
        if cfg.ftx > 0:
            losses = losses + cfg.ftx * chosen_nll
        mode = "train" if model.training else "eval"
        stored = self._stored[mode]
        stored["rewards/chosen"].append(out.chosen_rewards.mean().item())
        stored["rewards/rejected"].append(out.rejected_rewards.mean().item())
        stored["rewards/margins"].append(out.margins.mean().item())
        stored["rewards/accuracies"].append(out.accuracies.mean().item())
        stored["logps/chosen"].append(chosen.detach().mean().item())
        stored["logps/rejected"].append(rejected.detach().mean().item())
        if cfg.ftx > 0:
            stored["sft_loss"].append(chosen_nll.detach().mean().item())
        return PairLoss(losses, out.chosen_rewards, out.rejected_rewards), chosen_nll

    def precompute_reference(self, dataset: Any, batch_size: int) -> Any:
        """``dataset`` with the reference log-probs of every pair as columns (``ref_chosen_logps_sum``,
        ``ref_rejected_logps_sum`` and the ``_mean`` pair), computed once in eval mode."""
        model = self.accelerator.unwrap_model(self.model)
        device = next(model.parameters()).device
        was_training = model.training
        model.eval()
        columns: dict[str, list[float]] = {
            f"ref_{side}_logps_{kind}": [] for side in ("chosen", "rejected") for kind in ("sum", "mean")
        }
        try:
            for start in range(0, len(dataset), batch_size):
                rows = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
                batch = {k: v.to(device) for k, v in self.data_collator(rows).items()}
                ref = self.reference_logps(model, batch)
                for kind in ("sum", "mean"):
                    chosen, rejected = getattr(ref, kind).float().cpu().chunk(2)
                    columns[f"ref_chosen_logps_{kind}"] += chosen.tolist()
                    columns[f"ref_rejected_logps_{kind}"] += rejected.tolist()
        finally:
            model.train(was_training)
        for name, values in columns.items():
            dataset = dataset.add_column(name, values)
        return dataset

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        out, _ = self.pair_losses(model, inputs)
        loss = self.reduce_losses(out.losses, num_items_in_batch)
        return (
            (loss, {"chosen_rewards": out.chosen_rewards, "rejected_rewards": out.rejected_rewards})
            if return_outputs
            else loss
        )
