"""LoRA through PEFT: target discovery, new adapters, loading/merging existing ones, LoRA+ groups."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from tunesmith.config import FinetuneConfig, ModelConfig
from tunesmith.model.composite import composite_lora_config
from tunesmith.model.errors import ModelError
from tunesmith.model.quantization import quantization_of

logger = logging.getLogger(__name__)

NON_LANGUAGE_MODULES: tuple[str, ...] = (
    "vision_tower",
    "vision_model",
    "visual",
    "vision_encoder",
    "multi_modal_projector",
    "mm_projector",
    "audio_tower",
)
"""Module names of vision/audio encoders and projectors that ``lora_target=all`` leaves out
(composite models train their language model only, unless a family says otherwise)."""


def _is_linear(module: nn.Module) -> bool:
    # bitsandbytes' Linear4bit/Linear8bitLt subclass nn.Linear; class names cover other quantized linears
    return isinstance(module, nn.Linear) or type(module).__name__ in (
        "Linear4bit",
        "Linear8bitLt",
        "QuantLinear",
    )


def find_linear_targets(model: nn.Module, *, exclude: Sequence[str] = NON_LANGUAGE_MODULES) -> list[str]:
    """Leaf names of every linear layer but the output head (found by identity, not by name) and
    those under ``exclude`` modules, e.g. ``["down_proj", "gate_proj", ..., "v_proj"]``."""
    output = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    excluded = set(exclude)
    names: set[str] = set()
    output_names: set[str] = set()
    for qual, module in model.named_modules():
        if not _is_linear(module):
            continue
        leaf = qual.rsplit(".", 1)[-1]
        if module is output:
            output_names.add(leaf)
            continue
        if excluded.intersection(qual.split(".")):
            continue
        names.add(leaf)
    # a leaf name shared with the head (rare) would put an adapter on the head too
    names -= output_names
    if not names:
        raise ModelError(
            f"{type(model).__name__}: found no linear layers for lora_target=all; name them with lora_target"
        )
    return sorted(names)


def lora_targets(model: nn.Module, finetune_cfg: FinetuneConfig) -> list[str]:
    """``lora_target`` resolved: ``all`` → :func:`find_linear_targets`; names are checked to exist."""
    targets = list(finetune_cfg.lora_target)
    if targets == ["all"] or not targets:
        return find_linear_targets(model)
    leaves = {qual.rsplit(".", 1)[-1] for qual, m in model.named_modules() if _is_linear(m)}
    missing = [
        t for t in targets if t not in leaves and not any(q.endswith(t) for q, _ in model.named_modules())
    ]
    if missing:
        raise ModelError(
            f"lora_target: {', '.join(missing)} not found in {type(model).__name__}; "
            f"its linear layers are: all, {', '.join(sorted(leaves))}"
        )
    return targets


def embedding_module_names(model: nn.Module) -> list[str]:
    """Leaf names of the input and output embeddings (for ``modules_to_save`` after a vocab resize)."""
    wanted = [model.get_input_embeddings(), model.get_output_embeddings()]
    return sorted(
        {
            q.rsplit(".", 1)[-1]
            for q, m in model.named_modules()
            if any(m is w for w in wanted if w is not None)
        }
    )


def lora_config(
    model: nn.Module, finetune_cfg: FinetuneConfig, *, modules_to_save: Sequence[str] = ()
) -> Any:
    """The PEFT ``LoraConfig`` for a new adapter."""
    from peft import LoraConfig, TaskType

    init: bool | str = True
    if finetune_cfg.pissa_init:
        init = "pissa" if finetune_cfg.pissa_iter == -1 else f"pissa_niter_{finetune_cfg.pissa_iter}"
    save = list(dict.fromkeys([*finetune_cfg.additional_target, *modules_to_save]))
    return LoraConfig(
        task_type=TaskType.CAUSAL_LM,
        r=finetune_cfg.lora_rank,
        lora_alpha=finetune_cfg.lora_alpha
        if finetune_cfg.lora_alpha is not None
        else 2 * finetune_cfg.lora_rank,
        lora_dropout=finetune_cfg.lora_dropout,
        target_modules=lora_targets(model, finetune_cfg),
        modules_to_save=save or None,
        use_dora=finetune_cfg.use_dora,
        use_rslora=finetune_cfg.use_rslora,
        init_lora_weights=init,
    )


def _check_adapter(path: str) -> None:
    p = Path(path)
    if p.is_dir() and not (p / "adapter_config.json").is_file():
        raise ModelError(
            f"adapter_name_or_path={path}: no adapter_config.json in this folder; point it at a PEFT adapter "
            "(the output_dir of a LoRA run), or at model_name_or_path if it is a full model"
        )


def apply_lora(
    model: nn.Module,
    finetune_cfg: FinetuneConfig,
    model_cfg: ModelConfig,
    *,
    is_trainable: bool,
    modules_to_save: Sequence[str] = (),
) -> nn.Module:
    """Load ``adapter_name_or_path`` adapters and/or create a new one, as LLaMA-Factory does.

    Training without ``create_new_adapter``: earlier adapters are merged, the last one trains on.
    Training with it (or inference): all adapters are merged, and training creates a new adapter.
    A quantized base cannot take merged weights: it accepts exactly one adapter, kept unmerged.
    """
    from peft import PeftModel, get_peft_model

    adapters = list(model_cfg.adapter_name_or_path)
    for path in adapters:
        _check_adapter(path)
    quantized = quantization_of(model) is not None
    if quantized and len(adapters) > 1:
        raise ModelError(
            f"adapter_name_or_path: a quantized base ({quantization_of(model)}) takes one adapter, got "
            f"{len(adapters)}; merge them into a full-precision base first (tunesmith export)"
        )
    resume: str | None = None
    if adapters and ((is_trainable and not finetune_cfg.create_new_adapter) or quantized):
        resume = adapters.pop()
    for path in adapters:
        model = PeftModel.from_pretrained(model, path, **_adapter_kwargs(model_cfg)).merge_and_unload()
        logger.info("merged adapter %s into the base weights", path)
    if resume is not None:
        model = PeftModel.from_pretrained(
            model, resume, is_trainable=is_trainable, **_adapter_kwargs(model_cfg)
        )
        logger.info("loaded adapter %s (%s)", resume, "training it further" if is_trainable else "unmerged")
    elif is_trainable:
        config = lora_config(model, finetune_cfg, modules_to_save=modules_to_save)
        # vision-language models: the freeze_* options, and no adapters on same-named vision layers
        all_linear = list(finetune_cfg.lora_target) in ([], ["all"])
        config = composite_lora_config(model, config, model_cfg, all_linear=all_linear)
        model = get_peft_model(model, config)
        logger.info(
            "new LoRA adapter: rank %d, alpha %s, targets %s%s",
            config.r,
            config.lora_alpha,
            config.target_modules
            if isinstance(config.target_modules, str)
            else ",".join(sorted(config.target_modules)),
            f", modules_to_save {','.join(config.modules_to_save)}" if config.modules_to_save else "",
        )
    return model


def _adapter_kwargs(model_cfg: ModelConfig) -> dict[str, Any]:
    return {
        "cache_dir": model_cfg.cache_dir,
        "revision": model_cfg.model_revision,
        "token": model_cfg.hf_hub_token,
    }


def loraplus_param_groups(
    model: nn.Module,
    lr: float,
    ratio: float,
    *,
    embedding_lr: float = 1e-6,
    weight_decay: float = 0.0,
) -> list[dict[str, Any]]:
    """Optimizer parameter groups for LoRA+ (Hayou et al., 2024): the B matrices learn ``ratio``
    times faster than the A matrices; embedding adapters use ``embedding_lr``; biases and norms
    (1-D) get no weight decay. Only trainable parameters are included; empty groups are dropped."""
    if ratio <= 0:
        raise ModelError(f"loraplus_lr_ratio={ratio}: must be positive (typically 16)")
    groups: dict[str, list[nn.Parameter]] = {
        "a": [],
        "b": [],
        "b_nodecay": [],
        "embedding": [],
        "nodecay": [],
    }
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if "lora_embedding_B" in name:
            groups["embedding"].append(param)
        elif "lora_B" in name:
            groups["b" if param.ndim > 1 else "b_nodecay"].append(param)
        elif param.ndim == 1:
            groups["nodecay"].append(param)
        else:
            groups["a"].append(param)
    spec = [
        ("a", lr, weight_decay),
        ("nodecay", lr, 0.0),
        ("b", lr * ratio, weight_decay),
        ("b_nodecay", lr * ratio, 0.0),
        ("embedding", embedding_lr, weight_decay),
    ]
    return [
        {"params": groups[key], "lr": group_lr, "weight_decay": wd, "name": f"loraplus_{key}"}
        for key, group_lr, wd in spec
        if groups[key]
    ]
