"""New special tokens and embedding resizing: new rows start at the mean of the existing ones.

A mean row keeps the first training steps stable (a random row can dominate the softmax); see
Hewitt, "Initializing New Word Embeddings for Pretrained Language Models" (2021).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch

logger = logging.getLogger(__name__)

PAD_TO_MULTIPLE_OF = 64
"""Embedding rows are padded to a multiple of this (tensor-core friendly shapes)."""


def add_special_tokens(tokenizer: Any, tokens: Sequence[str]) -> int:
    """Add ``tokens`` to the tokenizer as special tokens (kept whole, never split); returns how many
    were new. Existing tokens are left alone."""
    if not tokens:
        return 0
    request = {"additional_special_tokens": list(tokens)}
    try:  # transformers 5 names the keep-existing switch differently from 4.x
        added = tokenizer.add_special_tokens(request, replace_extra_special_tokens=False)
    except TypeError:
        added = tokenizer.add_special_tokens(request, replace_additional_special_tokens=False)
    if added:
        logger.info("added %d new special token(s): %s", added, ", ".join(tokens))
    return int(added)


def resize_embeddings(model: Any, tokenizer: Any) -> bool:
    """Grow the input (and untied output) embeddings to hold every token of ``tokenizer``.

    New rows are set to the mean of the old rows. Returns True when the model was resized; a model
    that already has enough rows is left untouched (its extra rows are padding, as in Qwen).
    """
    old = model.get_input_embeddings().weight.shape[0]
    need = len(tokenizer)
    if need <= old:
        return False
    model.resize_token_embeddings(need, pad_to_multiple_of=PAD_TO_MULTIPLE_OF, mean_resizing=False)
    with torch.no_grad():
        _fill_mean(model.get_input_embeddings().weight, old)
        out = model.get_output_embeddings()
        if out is not None and out.weight is not model.get_input_embeddings().weight:
            _fill_mean(out.weight, old)
    new = model.get_input_embeddings().weight.shape[0]
    logger.info("resized the embeddings from %d to %d rows (new rows: the mean of the old ones)", old, new)
    return True


def _fill_mean(weight: torch.Tensor, old_rows: int) -> None:
    mean = weight[:old_rows].float().mean(dim=0, keepdim=True).to(weight.dtype)
    weight[old_rows:] = mean
