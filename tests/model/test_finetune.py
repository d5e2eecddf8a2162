from __future__ import annotations

import pytest
import torch

from tests.model.conftest import randomise_lora_b, sample_ids
from tunesmith.config import load_config
from tunesmith.model import (
    ModelError,
    find_linear_targets,
    load_model,
    load_tokenizer,
    lora_config,
    loraplus_param_groups,
    merge_adapters,
)

PROJ = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def _load(model_dir, *args: str, for_training: bool = True):
    cfg = load_config([f"model_name_or_path={model_dir}", *args], verb="train")
    model = load_model(
        cfg.model, load_tokenizer(cfg.model), finetune_cfg=cfg.finetune, for_training=for_training
    )
    return cfg, model


def _trainable(model) -> set[str]:
    return {n for n, p in model.named_parameters() if p.requires_grad}


def _layer_params(layer: int, modules: tuple[str, ...]) -> set[str]:
    names = set()
    for module in modules:
        if module == "mlp":
            names |= {f"model.layers.{layer}.mlp.{p}.weight" for p in ("gate_proj", "up_proj", "down_proj")}
        elif module == "self_attn":
            names |= {
                f"model.layers.{layer}.self_attn.{p}.weight" for p in ("q_proj", "k_proj", "v_proj", "o_proj")
            }
        else:
            names.add(f"model.layers.{layer}.{module}.weight")
    return names


ALL_LAYER = ("mlp", "self_attn", "input_layernorm", "post_attention_layernorm")


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (("freeze_trainable_layers=1",), _layer_params(1, ALL_LAYER)),
        (("freeze_trainable_layers=-1",), _layer_params(0, ALL_LAYER)),
        (("freeze_trainable_layers=5",), _layer_params(0, ALL_LAYER) | _layer_params(1, ALL_LAYER)),
        (
            ("freeze_trainable_layers=1", "freeze_trainable_modules=mlp,self_attn"),
            _layer_params(1, ("mlp", "self_attn")),
        ),
        (
            (
                "freeze_trainable_layers=-1",
                "freeze_trainable_modules=mlp",
                "freeze_extra_modules=embed_tokens,lm_head",
            ),
            _layer_params(0, ("mlp",)) | {"model.embed_tokens.weight", "lm_head.weight"},
        ),
    ],
)
def test_freeze_trains_exactly_the_chosen_parameters(tiny_dirs, options, expected):
    _, model = _load(tiny_dirs["llama"], "finetuning_type=freeze", *options)
    assert _trainable(model) == expected
    assert all(p.dtype is torch.float32 for p in model.parameters() if p.requires_grad)


def test_freeze_unknown_module_lists_the_valid_ones(tiny_dirs):
    with pytest.raises(ModelError, match="freeze_trainable_modules: 'ffn'.*mlp.*self_attn"):
        _load(tiny_dirs["llama"], "finetuning_type=freeze", "freeze_trainable_modules=ffn")
    with pytest.raises(ModelError, match="freeze_extra_modules: 'wte'.*embed_tokens"):
        _load(tiny_dirs["llama"], "finetuning_type=freeze", "freeze_extra_modules=wte")


def test_full_trains_everything(tiny_dirs):
    _, model = _load(tiny_dirs["qwen3"], "finetuning_type=full")
    assert all(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("arch", ["llama", "qwen3"])
def test_lora_target_all_excludes_the_output_head(tiny_dirs, arch):
    _, model = _load(tiny_dirs[arch], "finetuning_type=lora")
    assert sorted(model.peft_config["default"].target_modules) == sorted(PROJ)
    lora_modules = {n.split(".lora_")[0] for n, _ in model.named_parameters() if ".lora_" in n}
    assert lora_modules and not any("lm_head" in n or "embed" in n for n in lora_modules)
    assert _trainable(model) == {n for n, _ in model.named_parameters() if ".lora_" in n}


def test_find_linear_targets_skips_vision_parts(tiny_dirs):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_dirs["llama"])
    model.vision_tower = torch.nn.Sequential(torch.nn.Linear(4, 4))
    model.vision_tower.add_module("patch_proj", torch.nn.Linear(4, 4))
    assert find_linear_targets(model) == sorted(PROJ)


def test_lora_options_give_the_expected_peft_config(tiny_dirs):
    cfg, model = _load(tiny_dirs["llama"], "finetuning_type=full", for_training=False)
    default = lora_config(model, cfg.finetune)
    assert (default.r, default.lora_alpha, default.use_dora, default.use_rslora) == (8, 16, False, False)
    assert default.init_lora_weights is True and default.modules_to_save is None
    cfg = load_config(
        [
            "lora_rank=4",
            "lora_dropout=0.1",
            "use_dora=true",
            "use_rslora=true",
            "lora_target=q_proj,v_proj",
            "additional_target=embed_tokens",
            "pissa_init=true",
        ]
    )
    custom = lora_config(model, cfg.finetune)
    assert (custom.r, custom.lora_alpha, custom.lora_dropout) == (4, 8, 0.1)
    assert custom.use_dora and custom.use_rslora
    assert set(custom.target_modules) == {"q_proj", "v_proj"}
    assert custom.modules_to_save == ["embed_tokens"]
    assert custom.init_lora_weights == "pissa_niter_16"
    assert lora_config(model, load_config(["lora_rank=4", "lora_alpha=32"]).finetune).lora_alpha == 32
    with pytest.raises(ModelError, match="lora_target: qkv not found.*q_proj"):
        lora_config(model, load_config(["lora_target=qkv"]).finetune)


@pytest.mark.parametrize("kind", ["lora", "freeze", "full"])
def test_applying_finetuning_twice_changes_nothing(tiny_dirs, kind):
    from tunesmith.model import apply_finetuning

    cfg, model = _load(tiny_dirs["llama"], f"finetuning_type={kind}")
    before = _trainable(model)
    again = apply_finetuning(model, cfg.finetune, cfg.model, is_trainable=True)
    assert again is model and _trainable(again) == before


def test_dora_adapter_trains(tiny_dirs):
    _, model = _load(tiny_dirs["qwen3"], "finetuning_type=lora", "use_dora=true", "lora_rank=4")
    assert any("lora_magnitude_vector" in n for n in _trainable(model))


def _saved_adapter(model_dir, out_dir):
    """A trained-looking adapter: random B matrices, saved with save_pretrained."""
    _, model = _load(model_dir, "finetuning_type=lora", "lora_rank=4")
    randomise_lora_b(model)
    model.eval()
    with torch.no_grad():
        logits = model(input_ids=sample_ids()).logits
    model.save_pretrained(out_dir)
    lora = {
        n.replace(".default", ""): p.detach().clone() for n, p in model.named_parameters() if ".lora_" in n
    }
    return logits, lora


def test_continuing_an_adapter_keeps_its_weights(tiny_dirs, tmp_path):
    _, saved = _saved_adapter(tiny_dirs["llama"], tmp_path / "adapter")
    _, model = _load(tiny_dirs["llama"], f"adapter_name_or_path={tmp_path / 'adapter'}", "lora_rank=16")
    loaded = {n.replace(".default", ""): p for n, p in model.named_parameters() if ".lora_" in n}
    assert loaded.keys() == saved.keys()
    for name, value in saved.items():
        assert torch.equal(loaded[name], value), name
        assert loaded[name].requires_grad
    assert model.peft_config["default"].r == 4  # the adapter's own rank, not lora_rank


def test_create_new_adapter_merges_the_old_one(tiny_dirs, tmp_path):
    logits, _ = _saved_adapter(tiny_dirs["llama"], tmp_path / "adapter")
    _, model = _load(
        tiny_dirs["llama"],
        f"adapter_name_or_path={tmp_path / 'adapter'}",
        "create_new_adapter=true",
        "lora_rank=2",
    )
    assert model.peft_config["default"].r == 2
    model.eval()
    with torch.no_grad():  # the new adapter starts as a no-op on top of the merged old one
        torch.testing.assert_close(model(input_ids=sample_ids()).logits, logits, atol=1e-4, rtol=0)


def test_merged_model_equals_base_plus_adapter(tiny_dirs, tmp_path):
    logits, _ = _saved_adapter(tiny_dirs["llama"], tmp_path / "adapter")
    _, base = _load(tiny_dirs["llama"], "finetuning_type=full", for_training=False)
    with torch.no_grad():
        plain = base(input_ids=sample_ids()).logits
    assert not torch.allclose(plain, logits, atol=1e-3)  # the adapter is not trivial
    merged = merge_adapters(base, [str(tmp_path / "adapter")])
    assert not any(".lora_" in n for n, _ in merged.named_parameters())
    with torch.no_grad():
        torch.testing.assert_close(merged(input_ids=sample_ids()).logits, logits, atol=1e-4, rtol=0)


def test_inference_load_merges_adapters(tiny_dirs, tmp_path):
    logits, _ = _saved_adapter(tiny_dirs["llama"], tmp_path / "adapter")
    _, model = _load(tiny_dirs["llama"], f"adapter_name_or_path={tmp_path / 'adapter'}", for_training=False)
    with torch.no_grad():
        torch.testing.assert_close(model(input_ids=sample_ids()).logits, logits, atol=1e-4, rtol=0)


def test_adapters_need_finetuning_type_lora(tiny_dirs, tmp_path):
    _saved_adapter(tiny_dirs["llama"], tmp_path / "adapter")
    with pytest.raises(ModelError, match="finetuning_type=freeze"):
        _load(tiny_dirs["llama"], f"adapter_name_or_path={tmp_path / 'adapter'}", "finetuning_type=freeze")
    with pytest.raises(ModelError, match="no adapter_config.json"):
        _load(tiny_dirs["llama"], f"adapter_name_or_path={tiny_dirs['llama']}")


def test_loraplus_param_groups(tiny_dirs):
    _, model = _load(tiny_dirs["llama"], "finetuning_type=lora", "lora_rank=4")
    groups = loraplus_param_groups(model, 1e-4, 16.0, weight_decay=0.01)
    by_name = {g["name"]: g for g in groups}
    assert set(by_name) == {"loraplus_a", "loraplus_b"}
    assert by_name["loraplus_b"]["lr"] == pytest.approx(1.6e-3) and by_name["loraplus_a"]["lr"] == 1e-4
    ids_b = {id(p) for p in by_name["loraplus_b"]["params"]}
    for name, param in model.named_parameters():
        if "lora_B" in name:
            assert id(param) in ids_b
    assert sum(len(g["params"]) for g in groups) == len(_trainable(model))
    torch.optim.AdamW(groups)  # a valid optimizer spec
    with pytest.raises(ModelError, match="loraplus_lr_ratio"):
        loraplus_param_groups(model, 1e-4, 0.0)
