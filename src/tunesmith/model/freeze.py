"""Freeze tuning: train only some decoder layers (and chosen modules in them, plus extra modules).

Same meaning as LLaMA-Factory's keys: ``freeze_trainable_layers`` N > 0 trains the last N layers,
N < 0 the first |N|; ``freeze_trainable_modules`` names modules inside those layers (``all``: the whole
layer); ``freeze_extra_modules`` names modules outside the layers (``embed_tokens``, ``lm_head``, ``norm``).
Modules are found through the model's structure, not by matching substrings of parameter names.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from torch import nn

from tunesmith.config import FinetuneConfig
from tunesmith.model.errors import ModelError

logger = logging.getLogger(__name__)


def num_hidden_layers(model: nn.Module) -> int:
    config = getattr(model, "config", None)
    for cfg in (config, getattr(config, "text_config", None)):
        for key in ("num_hidden_layers", "num_layers", "n_layer"):
            value = getattr(cfg, key, None)
            if isinstance(value, int) and value > 0:
                return value
    raise ModelError(
        f"{type(model).__name__}: its config has no num_hidden_layers; freeze tuning needs it "
        "(use finetuning_type=lora or full)"
    )


def decoder_layers(model: nn.Module) -> tuple[str, nn.ModuleList]:
    """The qualified name and the ``ModuleList`` of the decoder layers (the largest list whose
    length is the config's layer count; vision towers have lists of other lengths or are smaller)."""
    n = num_hidden_layers(model)
    found = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, nn.ModuleList) and len(module) == n
    ]
    if not found:
        raise ModelError(f"{type(model).__name__}: found no list of {n} decoder layers for freeze tuning")
    return max(found, key=lambda item: sum(p.numel() for p in item[1].parameters()))


def trainable_layer_ids(n_layers: int, trainable_layers: int) -> range:
    """Positive N: the last N layers; negative N: the first |N| (clipped to the model's depth)."""
    if trainable_layers > 0:
        return range(max(0, n_layers - trainable_layers), n_layers)
    return range(min(-trainable_layers, n_layers))


def _children_names(layer: nn.Module) -> list[str]:
    return sorted({name.split(".")[0] for name, _ in layer.named_parameters()})


def _extra_module(model: nn.Module, name: str, layers_name: str) -> list[nn.Module]:
    """Modules outside the decoder layers whose qualified name is ``name`` or ends with ``.name``."""
    inside = layers_name + "."
    return [
        module
        for qual, module in model.named_modules()
        if qual
        and not qual.startswith(inside)
        and qual != layers_name
        and (qual == name or qual.endswith("." + name))
    ]


def _outside_names(model: nn.Module, layers_name: str) -> list[str]:
    names = set()
    for qual, module in model.named_modules():
        if (
            qual
            and not qual.startswith(layers_name + ".")
            and qual != layers_name
            and any(True for _ in module.parameters(recurse=False))
        ):
            names.add(qual.rsplit(".", 1)[-1])
    return sorted(names)


def apply_freeze(model: nn.Module, finetune_cfg: FinetuneConfig) -> list[str]:
    """Set ``requires_grad`` so that exactly the configured parameters train; returns their names."""
    layers_name, layers = decoder_layers(model)
    ids = trainable_layer_ids(len(layers), finetune_cfg.freeze_trainable_layers)
    chosen: list[nn.Module] = []
    for module_name in finetune_cfg.freeze_trainable_modules:
        for idx in ids:
            layer = layers[idx]
            if module_name == "all":
                chosen.append(layer)
                continue
            try:
                chosen.append(layer.get_submodule(module_name))
            except AttributeError:
                raise ModelError(
                    f"freeze_trainable_modules: {module_name!r} is not a module of the decoder layers "
                    f"({layers_name}.{idx}); valid: all, {', '.join(_children_names(layer))}"
                ) from None
    for module_name in finetune_cfg.freeze_extra_modules:
        found = _extra_module(model, module_name, layers_name)
        if not found:
            raise ModelError(
                f"freeze_extra_modules: {module_name!r} is not a module outside the decoder layers; "
                f"valid: {', '.join(_outside_names(model, layers_name))}"
            )
        chosen.extend(found)
    trainable = {id(p) for module in chosen for p in module.parameters()}
    for param in model.parameters():
        param.requires_grad_(id(param) in trainable)
    names = [name for name, p in model.named_parameters() if p.requires_grad]
    logger.info(
        "freeze tuning: layers %s of %s, modules %s, extra modules %s",
        _fmt_range(ids),
        layers_name,
        ",".join(finetune_cfg.freeze_trainable_modules),
        ",".join(finetune_cfg.freeze_extra_modules) or "none",
    )
    return names


def _fmt_range(ids: Iterable[int]) -> str:
    ids = list(ids)
    return f"{ids[0]}-{ids[-1]}" if ids else "none"
