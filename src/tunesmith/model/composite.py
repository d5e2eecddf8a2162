"""Composite (vision-language) models: which parameters are the vision tower, the projector and the
language model, and what ``freeze_vision_tower`` / ``freeze_multi_modal_projector`` /
``freeze_language_model`` do to them for full, freeze and LoRA tuning.

The keys are module-name prefixes (``model.visual.blocks``), registered per ``model_type`` by family
files (``Family.composite``) or, for an unregistered model, discovered from the module tree:

1. the language model is the module holding the input embeddings, widened upwards while its siblings
   are not transformer stacks (so a ``ForCausalLM`` wrapper and its head belong to it); the output
   head outside it is added;
2. its other siblings (and parameters held directly by their common parent) are the vision side: a
   sibling with a stack of blocks (a ``ModuleList``) is a vision tower, one without is a projector;
3. a vision tower with no separate projector sibling (Qwen2-VL's ``visual``) holds its projector:
   the child after its block stack whose last linear layer outputs the language model's width.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from torch import nn

from tunesmith.model.errors import ModelError

if TYPE_CHECKING:
    from tunesmith.config import ModelConfig
    from tunesmith.families.spec import Catalog

logger = logging.getLogger(__name__)

GROUPS = ("vision_tower", "projector", "language_model")


@dataclass(frozen=True)
class CompositeKeys:
    """Module-name prefixes of the three parts of a vision-language model."""

    vision_tower: tuple[str, ...]
    projector: tuple[str, ...]
    language_model: tuple[str, ...]
    how: Literal["registered", "discovered"] = "discovered"

    def as_mapping(self) -> dict[str, tuple[str, ...]]:
        """The ``Family.composite`` value for this model type."""
        return {
            "vision_tower": self.vision_tower,
            "projector": self.projector,
            "language_model": self.language_model,
        }

    def group_of(self, name: str) -> str | None:
        """``vision_tower``, ``projector``, ``language_model`` or None for a parameter/module name."""
        name = _strip_peft(name)
        best: tuple[int, str] | None = None
        for group in GROUPS:
            for prefix in getattr(self, group):
                if _under(name, prefix) and (best is None or len(prefix) > best[0]):
                    best = (len(prefix), group)
        return best[1] if best else None


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _strip_peft(name: str) -> str:
    # PeftModel names parameters base_model.model.<name>; LoRA layers wrap the original as base_layer
    if name.startswith("base_model.model."):
        name = name[len("base_model.model.") :]
    return name


def _config_dict(model: nn.Module) -> dict[str, Any]:
    config = getattr(model, "config", None)
    return config.to_dict() if config is not None and hasattr(config, "to_dict") else {}


def is_multimodal_config(config: Mapping[str, Any] | Any) -> bool:
    """True for a config (dict or ``PretrainedConfig``) with a vision (or audio) sub-config."""
    data = config if isinstance(config, Mapping) else (config.to_dict() if hasattr(config, "to_dict") else {})
    return any(isinstance(data.get(k), Mapping) for k in ("vision_config", "audio_config"))


def registered_composite(catalog: Catalog, model_type: str | None) -> CompositeKeys | None:
    """The keys a family registered for ``model_type``, or None."""
    if not model_type:
        return None
    for entry in catalog.families:
        spec = entry.item.composite.get(model_type)
        if spec is not None:
            missing = [g for g in GROUPS if g not in spec]
            if missing:
                raise ModelError(
                    f"family {entry.item.name} ({entry.origin}): composite[{model_type!r}] lacks {', '.join(missing)}; "
                    f"give all of {', '.join(GROUPS)} (prefixes of module names)"
                )
            return CompositeKeys(*(tuple(spec[g]) for g in GROUPS), how="registered")
    return None


# --- discovery -------------------------------------------------------------------------------------


def _has_stack(module: nn.Module) -> bool:
    return any(isinstance(m, nn.ModuleList) and len(m) > 0 for m in module.modules())


def _has_params(module: nn.Module) -> bool:
    return any(True for _ in module.parameters())


def _parent(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else ""


def _join(parent: str, child: str) -> str:
    return f"{parent}.{child}" if parent else child


def _name_of(model: nn.Module, target: nn.Module | None) -> str | None:
    if target is None:
        return None
    return next((n for n, m in model.named_modules() if m is target), None)


def _last_linear_out(module: nn.Module) -> int | None:
    out = None
    for m in module.modules():
        if isinstance(m, nn.Linear):
            out = m.out_features
    return out


def _text_hidden_size(model: nn.Module) -> int | None:
    data = _config_dict(model)
    text = data.get("text_config") if isinstance(data.get("text_config"), Mapping) else data
    value = text.get("hidden_size")
    return value if isinstance(value, int) else None


def _language_root(model: nn.Module, embed_name: str) -> str:
    root = _parent(embed_name)
    while root:
        parent = _parent(root)
        holder = model.get_submodule(parent) if parent else model
        others = [m for n, m in holder.named_children() if _join(parent, n) != root]
        if any(_has_stack(m) for m in others):
            break
        root = parent
    return root


def _inner_projector(model: nn.Module, tower: str, text_hidden: int | None) -> str | None:
    """The child of ``tower`` after its block stack whose last linear outputs ``text_hidden``."""
    if text_hidden is None:
        return None
    seen_stack = False
    for child, module in model.get_submodule(tower).named_children():
        if isinstance(module, nn.ModuleList) or _has_stack(module):
            seen_stack = True
            continue
        if seen_stack and _has_params(module) and _last_linear_out(module) == text_hidden:
            return _join(tower, child)
    return None


def discover_composite(model: nn.Module) -> CompositeKeys | None:
    """Keys found from ``model``'s module tree (see the module docstring); None for a text-only model."""
    model = _base(model)
    embed_name = (
        _name_of(model, model.get_input_embeddings()) if hasattr(model, "get_input_embeddings") else None
    )
    if not embed_name:
        return None
    lm_root = _language_root(model, embed_name)
    if not lm_root:
        return None
    language = [lm_root]
    head = _name_of(model, model.get_output_embeddings()) if hasattr(model, "get_output_embeddings") else None
    if head and not _under(head, lm_root) and any(True for _ in model.get_submodule(head).parameters()):
        language.append(head)
    parent = _parent(lm_root)
    holder = model.get_submodule(parent) if parent else model
    towers: list[str] = []
    projectors: list[str] = []
    for child, module in holder.named_children():
        qual = _join(parent, child)
        if qual == lm_root or qual in language or not _has_params(module):
            continue
        (towers if _has_stack(module) else projectors).append(qual)
    projectors.extend(_join(parent, n) for n, _ in holder.named_parameters(recurse=False))
    if not towers:
        return None
    if not projectors:
        split: list[str] = []
        for tower in towers:
            inner = _inner_projector(model, tower, _text_hidden_size(model))
            if inner is None:
                split.append(tower)
                continue
            projectors.append(inner)
            split.extend(
                _join(tower, n)
                for n, m in model.get_submodule(tower).named_children()
                if _join(tower, n) != inner and _has_params(m)
            )
        towers = split
    return CompositeKeys(tuple(towers), tuple(projectors), tuple(language), how="discovered")


def composite_keys(model: nn.Module, catalog: Catalog | None = None) -> CompositeKeys | None:
    """Registered keys for the model's ``model_type`` (checked against its module tree), else the
    discovered ones (logged), else None for a text-only model."""
    config = getattr(model, "config", None)
    if config is None or not is_multimodal_config(config):
        return None
    if catalog is None:
        from tunesmith.families import build_catalog

        catalog = build_catalog()
    model_type = getattr(config, "model_type", None)
    keys = registered_composite(catalog, model_type)
    if keys is not None:
        names = [n for n, _ in _base(model).named_modules()]
        absent = [
            p
            for g in GROUPS
            for p in getattr(keys, g)
            if not any(_under(n, p) for n in names)
            and not any(_under(n, p) for n, _ in _base(model).named_parameters())
        ]
        if absent:
            raise ModelError(
                f"{type(model).__name__} (model_type {model_type}): registered composite keys "
                f"{', '.join(absent)} name no module of the model; fix the family's composite entry"
            )
        return keys
    keys = discover_composite(model)
    if keys is None:
        raise ModelError(
            f"{type(model).__name__} (model_type {model_type}) has a vision config but its vision tower, projector "
            "and language model could not be found in its module tree; register them in a plugin: "
            "Family(..., composite={model_type: {'vision_tower': (...), 'projector': (...), 'language_model': (...)}})"
        )
    logger.info(
        "composite keys of %s (model_type %s) discovered: vision tower %s, projector %s, language model %s",
        type(model).__name__,
        model_type,
        ", ".join(keys.vision_tower),
        ", ".join(keys.projector),
        ", ".join(keys.language_model),
    )
    return keys


def _base(model: nn.Module) -> nn.Module:
    """The transformers model under a PeftModel (names without ``base_model.model.``)."""
    if type(model).__name__.startswith("Peft") and hasattr(model, "base_model"):
        return model.base_model.model
    return model


# --- freezing ------------------------------------------------------------------------------------------


def frozen_groups(model_cfg: ModelConfig) -> tuple[str, ...]:
    """The composite groups ``model_cfg`` keeps frozen."""
    flags = (
        ("vision_tower", model_cfg.freeze_vision_tower),
        ("projector", model_cfg.freeze_multi_modal_projector),
        ("language_model", model_cfg.freeze_language_model),
    )
    return tuple(g for g, frozen in flags if frozen)


def _check_something_trains(model_cfg: ModelConfig) -> None:
    if len(frozen_groups(model_cfg)) == len(GROUPS):
        raise ModelError(
            "freeze_vision_tower, freeze_multi_modal_projector and freeze_language_model are all true: "
            "nothing would train; set one of them to false (usually freeze_language_model=false)"
        )


def apply_composite_freezing(
    model: nn.Module,
    keys: CompositeKeys,
    model_cfg: ModelConfig,
    *,
    kind: Literal["full", "freeze"] = "full",
) -> list[str]:
    """Set ``requires_grad`` of a full- or freeze-tuned composite model; returns the trainable names.

    Frozen groups are frozen. ``full``: everything else trains. ``freeze``: the layer choice of freeze
    tuning stays for the language model; an unfrozen vision tower or projector trains whole.
    (LoRA: see :func:`composite_lora_config`.)
    """
    _check_something_trains(model_cfg)
    frozen = set(frozen_groups(model_cfg))
    for name, param in model.named_parameters():
        group = keys.group_of(name)
        if group in frozen:
            param.requires_grad_(False)
        elif kind == "full" or group in ("vision_tower", "projector"):
            param.requires_grad_(True)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    logger.info(
        "composite model (%s keys): frozen %s; %d trainable tensors",
        keys.how,
        ", ".join(sorted(frozen)) or "nothing",
        len(trainable),
    )
    return trainable


def composite_exclusions(
    model: nn.Module, model_cfg: ModelConfig, keys: CompositeKeys | None = None
) -> list[str]:
    """Module-name prefixes ``lora_target`` must not reach: the projector always (it trains whole via
    ``modules_to_save`` when unfrozen), the vision tower and the language model when frozen."""
    keys = keys or composite_keys(model)
    if keys is None:
        return []
    out = list(keys.projector)
    if model_cfg.freeze_vision_tower:
        out.extend(keys.vision_tower)
    if model_cfg.freeze_language_model:
        out.extend(keys.language_model)
    return out


def _is_linear(module: nn.Module) -> bool:
    return isinstance(module, nn.Linear) or type(module).__name__ in (
        "Linear4bit",
        "Linear8bitLt",
        "QuantLinear",
    )


def lora_target_pattern(
    model: nn.Module, leaves: Iterable[str], excluded: Sequence[str], *, allow_head: bool = False
) -> str:
    """A PEFT ``target_modules`` regex (full match) for linear layers named ``leaves`` outside the
    ``excluded`` prefixes — leaf names alone would also put adapters on same-named vision layers."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    wanted = set(leaves)
    names = [
        n
        for n, m in model.named_modules()
        if _is_linear(m)
        and n.rsplit(".", 1)[-1] in wanted
        and not any(_under(n, p) for p in excluded)
        and (allow_head or m is not head)
    ]
    if not names:
        raise ModelError(
            f"lora_target: no linear layer named {', '.join(sorted(wanted))} is left outside the frozen parts "
            f"({', '.join(excluded)}); unfreeze a part (freeze_vision_tower / freeze_language_model) or name other targets"
        )
    return "^(?:" + "|".join(re.escape(n) for n in names) + ")$"


def composite_lora_config(
    model: nn.Module, config: Any, model_cfg: ModelConfig, *, all_linear: bool = False
) -> Any:
    """``config`` (a PEFT ``LoraConfig``) restricted to a composite model's trainable parts: targets
    outside :func:`composite_exclusions`, the projector in ``modules_to_save`` when it is unfrozen.
    ``all_linear`` (``lora_target: all``): every linear layer of the unfrozen vision tower and
    language model but the output head. A text-only model gets ``config`` back unchanged."""
    keys = composite_keys(model)
    if keys is None:
        return config
    _check_something_trains(model_cfg)
    import dataclasses

    leaves = config.target_modules
    if isinstance(leaves, str):  # already a pattern: the user's own regex wins
        return config
    if all_linear:
        leaves = {n.rsplit(".", 1)[-1] for n, m in model.named_modules() if _is_linear(m)}
    excluded = composite_exclusions(model, model_cfg, keys)
    pattern = lora_target_pattern(model, leaves, excluded)
    save = list(config.modules_to_save or [])
    if not model_cfg.freeze_multi_modal_projector:
        modules = {n for n, _ in model.named_modules()}
        loose = [p for p in keys.projector if p not in modules]
        if loose:
            logger.warning(
                "LoRA with freeze_multi_modal_projector=false: %s are bare parameters, not modules; they stay frozen",
                ", ".join(loose),
            )
        save.extend(p for p in keys.projector if p in modules and p not in save)
    logger.info(
        "composite model: LoRA on %d linear layers outside %s%s",
        pattern.count("|") + 1,
        ", ".join(excluded),
        f"; fully trained: {', '.join(save)}" if save else "",
    )
    return dataclasses.replace(config, target_modules=pattern, modules_to_save=save or None)


def model_auto_class(config: Mapping[str, Any] | Any) -> str:
    """The transformers auto class for a checkpoint: image-text-to-text for composite models."""
    return "AutoModelForImageTextToText" if is_multimodal_config(config) else "AutoModelForCausalLM"
