"""Batches of encoded examples as tensors: right padding for training, left padding for generation.

Packed rows (with ``position_ids``) keep their examples apart in one of two ways:

* ``packed_attention="position_ids"`` (default): no ``attention_mask`` is sent, only the restarting
  ``position_ids``, and ``use_cache=False``. transformers 5.x then builds the block-diagonal causal
  mask itself for eager and sdpa (``masking_utils.find_packed_sequence_indices``) and flash-attention
  runs its variable-length kernel. It does so only without a KV cache: with ``use_cache=True`` the
  model creates a ``DynamicCache`` and the detection is skipped, so examples would attend to each
  other — hence ``use_cache=False`` travels in the batch. Padding gets its own positions
  ``0, 1, …``, i.e. forms one more segment that no real token can see.
* ``packed_attention="4d"``: an explicit additive mask of shape (batch, 1, length, length) — 0 where
  a token may attend (same segment, not in the future), the dtype's minimum elsewhere — for models
  that do not detect packing from ``position_ids``. Eager and sdpa only (not flash-attention); give
  ``mask_dtype`` equal to the model's compute dtype (sdpa requires it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from tunesmith.templates.encode import IGNORE_INDEX

if TYPE_CHECKING:
    import torch

__all__ = ["LeftPadCollator", "SupervisedCollator", "block_causal_mask", "pad_id_of"]

PackedAttention = Literal["position_ids", "4d"]


def pad_id_of(tokenizer_or_id: Any) -> int:
    """The padding id: an int as is, else the tokenizer's pad token (its EOS when it has none)."""
    if isinstance(tokenizer_or_id, int):
        return tokenizer_or_id
    pad = getattr(tokenizer_or_id, "pad_token_id", None)
    if pad is None:
        pad = getattr(tokenizer_or_id, "eos_token_id", None)
    if pad is None:
        raise ValueError("the tokenizer has neither a pad token nor an eos token; pass pad_id explicitly")
    return int(pad)


def _padded_length(lengths: Sequence[int], multiple: int | None) -> int:
    longest = max(lengths, default=0)
    if multiple and longest % multiple:
        longest += multiple - longest % multiple
    return longest


def _segment_ids(position_ids: torch.Tensor) -> torch.Tensor:
    """Segment number of each token (a new segment wherever the position does not go up by one)."""
    import torch

    first = position_ids[:, :1] - 1
    return (torch.diff(position_ids, prepend=first, dim=-1) != 1).cumsum(-1)


def block_causal_mask(position_ids: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Additive (batch, 1, L, L) mask: 0 where query i may see key j (same segment, j ≤ i)."""
    import torch

    dtype = dtype or torch.float32
    seg = _segment_ids(position_ids)
    length = position_ids.shape[-1]
    causal = torch.ones(length, length, dtype=torch.bool).tril()
    allowed = (seg[:, :, None] == seg[:, None, :]) & causal
    mask = torch.zeros(allowed.shape, dtype=dtype)
    mask.masked_fill_(~allowed, torch.finfo(dtype).min)
    return mask[:, None]


class SupervisedCollator:
    """Right-padding collator for training batches (sft and pt, packed or not).

    Features are mappings with ``input_ids`` and ``labels`` (and ``position_ids`` when packed; other
    keys are ignored). Returns ``input_ids``, ``labels`` and, unpacked, a 2D ``attention_mask``;
    packed, ``position_ids`` plus what :data:`packed_attention` asks for (see the module docstring).
    """

    def __init__(
        self,
        tokenizer_or_pad_id: Any,
        *,
        label_pad: int = IGNORE_INDEX,
        pad_to_multiple_of: int | None = None,
        packed_attention: PackedAttention = "position_ids",
        mask_dtype: torch.dtype | None = None,
    ) -> None:
        if packed_attention not in ("position_ids", "4d"):
            raise ValueError(f"packed_attention must be 'position_ids' or '4d', got {packed_attention!r}")
        self.pad_id = pad_id_of(tokenizer_or_pad_id)
        self.label_pad = label_pad
        self.pad_to_multiple_of = pad_to_multiple_of
        self.packed_attention = packed_attention
        self.mask_dtype = mask_dtype

    def __call__(self, features: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        import torch

        if not features:
            raise ValueError("cannot collate an empty batch")
        length = _padded_length([len(f["input_ids"]) for f in features], self.pad_to_multiple_of)
        packed = any(f.get("position_ids") is not None for f in features)
        ids, labels, masks, positions = [], [], [], []
        for f in features:
            n = len(f["input_ids"])
            pad = length - n
            ids.append(list(f["input_ids"]) + [self.pad_id] * pad)
            labels.append(list(f.get("labels", f["input_ids"])) + [self.label_pad] * pad)
            masks.append([1] * n + [0] * pad)
            if packed:
                own = f.get("position_ids")
                own = list(range(n)) if own is None else list(own)
                positions.append(own + list(range(pad)))
        batch: dict[str, Any] = {
            "input_ids": torch.tensor(ids, dtype=torch.long),
            "labels": torch.tensor(labels, dtype=torch.long),
        }
        if not packed:
            batch["attention_mask"] = torch.tensor(masks, dtype=torch.long)
            return batch
        position_ids = torch.tensor(positions, dtype=torch.long)
        batch["position_ids"] = position_ids
        if self.packed_attention == "4d":
            batch["attention_mask"] = block_causal_mask(position_ids, self.mask_dtype)
        else:
            batch["use_cache"] = False
        return batch


class LeftPadCollator:
    """Left-padding collator for generation: ``input_ids`` and ``attention_mask`` padded on the
    left; ``labels`` (reference answers, when present) padded on the left to their own length."""

    def __init__(
        self, tokenizer_or_pad_id: Any, *, label_pad: int | None = None, pad_to_multiple_of: int | None = None
    ) -> None:
        self.pad_id = pad_id_of(tokenizer_or_pad_id)
        self.label_pad = self.pad_id if label_pad is None else label_pad
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, features: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        import torch

        if not features:
            raise ValueError("cannot collate an empty batch")
        length = _padded_length([len(f["input_ids"]) for f in features], self.pad_to_multiple_of)
        ids, masks = [], []
        for f in features:
            pad = length - len(f["input_ids"])
            ids.append([self.pad_id] * pad + list(f["input_ids"]))
            masks.append([0] * pad + [1] * len(f["input_ids"]))
        batch: dict[str, Any] = {
            "input_ids": torch.tensor(ids, dtype=torch.long),
            "attention_mask": torch.tensor(masks, dtype=torch.long),
        }
        if all("labels" in f for f in features):
            label_len = max(len(f["labels"]) for f in features)
            batch["labels"] = torch.tensor(
                [[self.label_pad] * (label_len - len(f["labels"])) + list(f["labels"]) for f in features],
                dtype=torch.long,
            )
        return batch
