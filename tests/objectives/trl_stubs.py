"""Minimal stand-ins so trl's OWN loss code (inside trainer methods) can run on given tensors.

trl 1.x keeps the DPO and KTO losses inside ``_compute_loss`` (model forward + loss + metrics) and
the CPO/ORPO losses in trainer methods. We call those unbound methods with a stub ``self`` that
carries only the attributes they read, and a fake model that returns chosen per-token log-probs
(the fused-LM-head output trl consumes): trl's arithmetic runs unchanged on our inputs.
"""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import torch


class FakeAccelerator:
    device = torch.device("cpu")

    def gather_for_metrics(self, x: Any) -> Any:
        return x

    def gather(self, x: Any) -> Any:
        return x


class FakeLM:
    """Returns fixed per-token log-probs for each known ``input_ids`` tensor (matched by value)."""

    training = True

    def __init__(self, table: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.table = table

    def __call__(self, **kwargs: Any) -> SimpleNamespace:
        ids = kwargs["input_ids"]
        for known, log_probs in self.table:
            if known.shape == ids.shape and torch.equal(known, ids):
                zeros = torch.zeros_like(log_probs)
                return SimpleNamespace(
                    log_probs=log_probs, entropy=zeros, mean_logits=zeros, is_top1=zeros.bool(), aux_loss=None
                )
        raise AssertionError("FakeLM called with unknown input_ids")


def stub_trainer(model: FakeLM, **attrs: Any) -> SimpleNamespace:
    base = {
        "model": model,
        "accelerator": FakeAccelerator(),
        "aux_loss_enabled": False,
        "_metrics": defaultdict(lambda: defaultdict(list)),
        "_total_train_tokens": 0,
        "_tp_size": 1,
        "args": SimpleNamespace(gradient_checkpointing_kwargs=None),
    }
    base.update(attrs)
    return SimpleNamespace(**base)


def random_completion_batch(
    n: int, length: int, generator: torch.Generator, *, dtype: torch.dtype = torch.float64
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``input_ids`` (distinct rows), a completion mask (a prompt of 1..length/2 tokens, then a
    completion of at least one token, then right padding) and per-token log-probs for positions
    1.. (zero where the shifted completion mask is 0), as a fused LM head returns them."""
    ids = torch.randint(5, 1000, (n, length), generator=generator)
    mask = torch.zeros(n, length, dtype=torch.long)
    for i in range(n):
        start = int(torch.randint(1, length // 2, (1,), generator=generator))
        end = int(torch.randint(start + 1, length + 1, (1,), generator=generator))
        mask[i, start:end] = 1
        ids[i, end:] = 0
    log_probs = -torch.rand(n, length - 1, generator=generator, dtype=dtype) * 3
    log_probs = log_probs * mask[:, 1:]
    return ids, mask, log_probs
