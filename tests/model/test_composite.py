"""Composite (vision-language) keys: registered == discovered, and what the freeze_* options train."""

from __future__ import annotations

import pytest
import torch

from tunesmith.config import FinetuneConfig, ModelConfig
from tunesmith.families import build_catalog
from tunesmith.model import ModelError, apply_finetuning
from tunesmith.model.composite import (
    CompositeKeys,
    composite_exclusions,
    composite_keys,
    discover_composite,
    registered_composite,
)
from tunesmith.testing.vlm import TINY_VLM_TYPES, tiny_vlm_config


@pytest.fixture(scope="module")
def catalog():
    return build_catalog(entry_points=False)


def _tiny(model_type: str) -> torch.nn.Module:
    from transformers import AutoModelForImageTextToText

    torch.manual_seed(0)
    return AutoModelForImageTextToText.from_config(tiny_vlm_config(model_type))


@pytest.mark.parametrize("model_type", TINY_VLM_TYPES)
def test_discovery_equals_registration(model_type, catalog):
    model = _tiny(model_type)
    found = discover_composite(model)
    assert found is not None
    registered = registered_composite(catalog, model_type)
    if registered is None:  # idefics3 / smolvlm: not registered (smollm.py), discovery alone
        assert found.vision_tower == ("model.vision_model",) and found.projector == ("model.connector",)
        return
    assert registered.how == "registered" and found.how == "discovered"
    assert found.as_mapping() == registered.as_mapping()
    # every parameter belongs to exactly one part
    assert all(registered.group_of(n) is not None for n, _ in model.named_parameters())
    assert composite_keys(model, catalog) == registered


def test_discovery_is_logged_for_unregistered_types(caplog):
    from tunesmith.families.spec import Catalog

    model = _tiny("llava")
    with caplog.at_level("INFO", logger="tunesmith.model.composite"):
        keys = composite_keys(model, Catalog())
    assert keys is not None and keys.how == "discovered"
    assert "discovered" in caplog.text and "model.multi_modal_projector" in caplog.text


def test_text_only_models_have_no_composite_keys(tiny_dirs):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_dirs["llama"])
    assert composite_keys(model) is None and discover_composite(model) is None
    assert composite_exclusions(model, ModelConfig()) == []


def test_wrong_registration_is_an_error():
    from tunesmith.families import Family
    from tunesmith.families.spec import Catalog

    catalog = Catalog()
    bad = {
        "vision_tower": ("model.nothing",),
        "projector": ("model.multi_modal_projector",),
        "language_model": ("model.language_model",),
    }
    catalog.add_family(Family(name="x", composite={"llava": bad}))
    with pytest.raises(ModelError, match="model.nothing"):
        composite_keys(_tiny("llava"), catalog)


def _groups(model, keys: CompositeKeys) -> dict[str, set[bool]]:
    out: dict[str, set[bool]] = {}
    for name, param in model.named_parameters():
        out.setdefault(keys.group_of(name) or "other", set()).add(param.requires_grad)
    return out


FLAGS = {
    "default": ModelConfig(),
    "train_vision": ModelConfig(freeze_vision_tower=False),
    "train_projector": ModelConfig(freeze_multi_modal_projector=False),
    "vision_only": ModelConfig(
        freeze_vision_tower=False, freeze_multi_modal_projector=False, freeze_language_model=True
    ),
}
EXPECTED = {  # group -> trains?
    "default": {"vision_tower": False, "projector": False, "language_model": True},
    "train_vision": {"vision_tower": True, "projector": False, "language_model": True},
    "train_projector": {"vision_tower": False, "projector": True, "language_model": True},
    "vision_only": {"vision_tower": True, "projector": True, "language_model": False},
}


@pytest.mark.parametrize("model_type", ["qwen2_vl", "llava"])
@pytest.mark.parametrize("flags", list(FLAGS))
def test_full_tuning_trains_exactly_the_unfrozen_parts(model_type, flags):
    model = _tiny(model_type)
    keys = composite_keys(model)
    model = apply_finetuning(model, FinetuneConfig(finetuning_type="full"), FLAGS[flags], is_trainable=True)
    groups = _groups(model, keys)
    assert groups == {g: {trains} for g, trains in EXPECTED[flags].items()}


@pytest.mark.parametrize("flags", ["default", "vision_only"])
def test_freeze_tuning_keeps_layer_choice_for_the_language_model(flags):
    model = _tiny("llava")
    keys = composite_keys(model)
    cfg = FinetuneConfig(finetuning_type="freeze", freeze_trainable_layers=1)
    model = apply_finetuning(model, cfg, FLAGS[flags], is_trainable=True)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    lm = {n for n in trainable if keys.group_of(n) == "language_model"}
    if flags == "default":
        assert lm and all(n.startswith("model.language_model.layers.1.") for n in lm)
        assert trainable == lm
    else:
        assert not lm
        assert {keys.group_of(n) for n in trainable} == {"vision_tower", "projector"}


@pytest.mark.parametrize("model_type", ["qwen2_vl", "llava"])
def test_lora_all_leaves_out_head_projector_and_frozen_tower(model_type):
    model = _tiny(model_type)
    keys = composite_keys(model)
    model = apply_finetuning(model, FinetuneConfig(finetuning_type="lora"), ModelConfig(), is_trainable=True)
    lora = [n for n, p in model.named_parameters() if p.requires_grad]
    assert lora and all("lora_" in n for n in lora)
    assert {keys.group_of(n) for n in lora} == {"language_model"}
    assert not any("lm_head" in n for n in lora)


@pytest.mark.parametrize("model_type", ["qwen2_vl", "llava"])
def test_lora_with_unfrozen_tower_and_projector(model_type):
    model = _tiny(model_type)
    keys = composite_keys(model)
    model_cfg = ModelConfig(
        freeze_vision_tower=False, freeze_multi_modal_projector=False, freeze_language_model=True
    )
    model = apply_finetuning(model, FinetuneConfig(finetuning_type="lora"), model_cfg, is_trainable=True)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    by_group = {keys.group_of(n) for n in trainable}
    assert by_group == {"vision_tower", "projector"}
    assert all("lora_" in n for n in trainable if keys.group_of(n) == "vision_tower")
    # the projector trains whole (modules_to_save), without LoRA layers in it
    assert all("lora_" not in n for n in trainable if keys.group_of(n) == "projector")


def test_everything_frozen_is_refused():
    cfg = ModelConfig(freeze_vision_tower=True, freeze_multi_modal_projector=True, freeze_language_model=True)
    with pytest.raises(ModelError, match="nothing would train"):
        apply_finetuning(_tiny("llava"), FinetuneConfig(finetuning_type="full"), cfg, is_trainable=True)
