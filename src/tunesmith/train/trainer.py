"""The Trainer: transformers' Seq2SeqTrainer plus trained-token accounting (tokens/s in the logs)."""

from __future__ import annotations

import time
from typing import Any

from transformers import Seq2SeqTrainer

from tunesmith.templates.encode import IGNORE_INDEX


class TunesmithTrainer(Seq2SeqTrainer):
    """Counts the trained (label != -100) tokens it sees and logs ``trained_tokens`` and
    ``train_tokens_per_second`` with every loss line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.trained_tokens = 0
        self._started: float | None = None

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if model.training:
            if self._started is None:
                self._started = time.perf_counter()
            labels = inputs.get("labels")
            if labels is not None:
                # the first position is never predicted (labels shift by one inside the loss)
                self.trained_tokens += int((labels[..., 1:] != IGNORE_INDEX).sum())
        return super().compute_loss(
            model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch
        )

    def train_seconds(self) -> float:
        return 0.0 if self._started is None else time.perf_counter() - self._started

    def log(self, logs: dict[str, float], *args: Any, **kwargs: Any) -> None:
        if "loss" in logs and self._started is not None:
            seconds = self.train_seconds()
            logs["trained_tokens"] = self.trained_tokens
            logs["train_tokens_per_second"] = round(self.trained_tokens / seconds, 2) if seconds > 0 else 0.0
        super().log(logs, *args, **kwargs)
