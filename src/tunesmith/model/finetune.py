"""Which parameters train: ``full``, ``freeze`` or ``lora`` (``finetuning_type``)."""

from __future__ import annotations

import logging

import torch
from torch import nn

from tunesmith.config import FinetuneConfig, ModelConfig
from tunesmith.model.adapters import apply_lora, embedding_module_names
from tunesmith.model.composite import apply_composite_freezing, composite_keys
from tunesmith.model.errors import ModelError
from tunesmith.model.freeze import apply_freeze

logger = logging.getLogger(__name__)


def apply_finetuning(
    model: nn.Module,
    finetune_cfg: FinetuneConfig,
    model_cfg: ModelConfig,
    *,
    is_trainable: bool,
    vocab_resized: bool = False,
) -> nn.Module:
    """Prepare ``model`` for ``finetune_cfg.finetuning_type`` and return it (a ``PeftModel`` for LoRA).

    ``full`` trains everything, ``freeze`` the chosen layers/modules, ``lora`` a PEFT adapter (new or
    continued; see :func:`tunesmith.model.adapters.apply_lora`). When ``vocab_resized`` the embeddings
    are trained with a LoRA adapter too (their new rows would stay at their initial values otherwise).
    Trainable parameters are kept in float32 for stable optimizer updates. Applying it again to a
    model it already prepared (as :func:`tunesmith.model.load_model` does) changes nothing. Not trainable: adapters are
    loaded (merged) and every parameter is frozen.
    """
    kind = finetune_cfg.finetuning_type
    if model_cfg.adapter_name_or_path and kind != "lora":
        raise ModelError(
            f"adapter_name_or_path is set but finetuning_type={kind}; adapters are LoRA adapters: "
            "use finetuning_type=lora, or export the merged model first and train that with full/freeze"
        )
    if kind == "lora" and _is_peft(model):
        # load_model(finetune_cfg=...) already applied it; a second call must not nest adapters
        logger.debug("model already carries a PEFT adapter; apply_finetuning leaves it as is")
    elif kind == "lora":
        extra = embedding_module_names(model) if vocab_resized and not finetune_cfg.additional_target else []
        model = apply_lora(model, finetune_cfg, model_cfg, is_trainable=is_trainable, modules_to_save=extra)
    elif not is_trainable:
        pass
    elif kind == "freeze":
        apply_freeze(model, finetune_cfg)
    elif kind == "full":
        for param in model.parameters():
            param.requires_grad_(True)
    else:  # the config's Literal type prevents this; a programmatic FinetuneConfig could not
        raise ModelError(f"finetuning_type={kind!r}: use lora, freeze or full")
    if is_trainable and kind in ("full", "freeze") and (keys := composite_keys(model)) is not None:
        apply_composite_freezing(model, keys, model_cfg, kind=kind)  # freeze_vision_tower & co.
    if is_trainable:
        upcast_trainable(model)
    else:
        model.requires_grad_(False)
        model.eval()
    log_parameter_counts(model)
    return model


def _is_peft(model: nn.Module) -> bool:
    from peft import PeftModel

    return isinstance(model, PeftModel)


def upcast_trainable(model: nn.Module) -> None:
    """Cast trainable half-precision parameters to float32 (the frozen ones stay as loaded)."""
    for param in model.parameters():
        if param.requires_grad and param.dtype in (torch.float16, torch.bfloat16):
            param.data = param.data.to(torch.float32)


def parameter_counts(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts; bitsandbytes 4-bit parameters count twice (two per byte)."""
    trainable = total = 0
    for param in model.parameters():
        n = param.numel()
        if type(param).__name__ == "Params4bit":
            n *= 2
        total += n
        if param.requires_grad:
            trainable += n
    return trainable, total


def log_parameter_counts(model: nn.Module) -> None:
    trainable, total = parameter_counts(model)
    share = 100.0 * trainable / total if total else 0.0
    logger.info(
        "trainable params: %s || all params: %s || trainable%%: %.4f", f"{trainable:,}", f"{total:,}", share
    )
