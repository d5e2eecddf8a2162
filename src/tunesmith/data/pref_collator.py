"""Collators for preference batches: pairs (rm, dpo family) and KTO feedback with its KL batch.

Both right-pad with :class:`~tunesmith.data.collator.SupervisedCollator` (same pad id, label pad and
``pad_to_multiple_of``).

* :class:`PairwiseCollator`: a batch of *n* pairs becomes ONE batch of *2n* rows — the *n* chosen
  sequences, then the *n* rejected ones (one forward pass for both; split with ``chunk(2)``).
* :class:`FeedbackCollator`: ``input_ids``/``attention_mask``/``labels`` of the examples,
  ``kto_labels`` (bool, True = desirable) and the mismatched KL batch
  ``kl_input_ids``/``kl_attention_mask``/``kl_labels`` (:func:`~tunesmith.data.feedback.mismatched_pairs`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tunesmith.data.collator import SupervisedCollator
from tunesmith.data.feedback import mismatched_pairs
from tunesmith.templates.encode import IGNORE_INDEX

__all__ = ["FeedbackCollator", "PairwiseCollator"]


class PairwiseCollator:
    """Features with ``chosen_input_ids``, ``chosen_labels``, ``rejected_input_ids``,
    ``rejected_labels`` → ``input_ids``, ``attention_mask``, ``labels`` of shape ``(2n, length)``:
    rows ``[0, n)`` chosen, rows ``[n, 2n)`` rejected (same order)."""

    def __init__(
        self,
        tokenizer_or_pad_id: Any,
        *,
        label_pad: int = IGNORE_INDEX,
        pad_to_multiple_of: int | None = None,
    ) -> None:
        self.pad = SupervisedCollator(
            tokenizer_or_pad_id, label_pad=label_pad, pad_to_multiple_of=pad_to_multiple_of
        )

    def __call__(self, features: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        if not features:
            raise ValueError("cannot collate an empty batch")
        rows = [
            {"input_ids": f[f"{side}_input_ids"], "labels": f[f"{side}_labels"]}
            for side in ("chosen", "rejected")
            for f in features
        ]
        batch = self.pad(rows)
        if "ref_chosen_logps_sum" in features[0]:  # precomputed reference log-probs ride along
            import torch

            for kind in ("sum", "mean"):
                values = [f[f"ref_{side}_logps_{kind}"] for side in ("chosen", "rejected") for f in features]
                batch[f"ref_logps_{kind}"] = torch.tensor(values, dtype=torch.float32)
        return batch


class FeedbackCollator:
    """Features with ``input_ids``, ``labels``, ``prompt_len`` and ``kto_label`` → the example batch,
    ``kto_labels`` and the KL batch (``kl_offset``/``kl_max_length``: see
    :func:`~tunesmith.data.feedback.mismatched_pairs`)."""

    def __init__(
        self,
        tokenizer_or_pad_id: Any,
        *,
        label_pad: int = IGNORE_INDEX,
        pad_to_multiple_of: int | None = None,
        kl_offset: int = 1,
        kl_max_length: int | None = None,
    ) -> None:
        self.pad = SupervisedCollator(
            tokenizer_or_pad_id, label_pad=label_pad, pad_to_multiple_of=pad_to_multiple_of
        )
        self.kl_offset = kl_offset
        self.kl_max_length = kl_max_length

    def __call__(self, features: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        import torch

        if not features:
            raise ValueError("cannot collate an empty batch")
        batch = self.pad([{"input_ids": f["input_ids"], "labels": f["labels"]} for f in features])
        batch["kto_labels"] = torch.tensor([bool(f["kto_label"]) for f in features], dtype=torch.bool)
        kl = self.pad(mismatched_pairs(features, offset=self.kl_offset, max_length=self.kl_max_length))
        batch.update({f"kl_{k}": v for k, v in kl.items()})
        return batch
