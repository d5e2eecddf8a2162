"""Metrics the pairwise, reward and KTO trainers store during ``compute_loss`` and log averaged."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import torch


class StoredMetrics:
    """Trainer mixin: values stored per mode (``self._stored["train"]`` / ``["eval"]``, key → list of
    batch values) while computing losses, averaged into the next :meth:`log` (``eval_`` prefixed at
    evaluation) and then cleared. Evaluation computes the loss only (:meth:`prediction_step`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stored: dict[str, Any] = {"train": self._metric_store(), "eval": self._metric_store()}

    def _metric_store(self) -> Any:
        """One mode's store: key → list of values (a subclass may keep other running statistics, with
        ``clear()``, and average them in :meth:`_stored_means`)."""
        return defaultdict(list)

    def _stored_means(self, mode: str) -> dict[str, float]:
        """The averages :meth:`log` adds for ``mode`` (each stored key with values)."""
        return {key: sum(values) / len(values) for key, values in self._stored[mode].items() if values}

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        inputs = self._prepare_inputs(inputs)  # type: ignore[attr-defined]
        with torch.no_grad(), self.compute_loss_context_manager():  # type: ignore[attr-defined]
            loss = self.compute_loss(model, inputs)  # type: ignore[attr-defined]
        return loss.detach(), None, None

    def log(self, logs: dict[str, float], *args: Any, **kwargs: Any) -> None:
        mode = "train" if "loss" in logs else "eval"
        prefix = "eval_" if mode == "eval" else ""
        logs.update({prefix + k: v for k, v in self._stored_means(mode).items()})
        self._stored[mode].clear()
        super().log(logs, *args, **kwargs)  # type: ignore[misc]
