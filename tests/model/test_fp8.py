"""Fine-grained FP8 checkpoints: detected, dequantized close to the original, merge refused."""

from __future__ import annotations

import json

import pytest
import torch

from tunesmith.model import ModelError
from tunesmith.model.fp8 import (
    check_quantized_training,
    dequantize_weight,
    fp8_checkpoint,
    load_dequantized,
    quantize_weight,
    save_fp8_checkpoint,
)


@pytest.fixture(scope="module")
def fp8_dir(tiny_dirs, tmp_path_factory):
    return save_fp8_checkpoint(
        tiny_dirs["llama"], tmp_path_factory.mktemp("fp8") / "llama_fp8", block_size=(32, 32)
    )


def test_checkpoint_layout(fp8_dir):
    from safetensors import safe_open

    config = json.loads((fp8_dir / "config.json").read_text())
    assert config["quantization_config"]["quant_method"] == "fp8"
    info = fp8_checkpoint(fp8_dir)
    assert info is not None and info.block_size == (32, 32) and info.fmt == "e4m3"
    with safe_open(str(fp8_dir / "model.safetensors"), "pt") as f:
        w = f.get_tensor("model.layers.0.mlp.down_proj.weight")  # 64 x 128
        s = f.get_tensor("model.layers.0.mlp.down_proj.weight_scale_inv")
        assert w.dtype == torch.float8_e4m3fn and s.dtype == torch.float32 and tuple(s.shape) == (2, 4)
        assert f.get_tensor("model.embed_tokens.weight").dtype == torch.float32


def test_plain_checkpoint_is_not_fp8(tiny_dirs):
    assert fp8_checkpoint(tiny_dirs["llama"]) is None


def test_dequantized_logits_are_close_to_the_original(tiny_dirs, fp8_dir, tmp_path):
    from transformers import AutoModelForCausalLM

    original = AutoModelForCausalLM.from_pretrained(tiny_dirs["llama"], dtype=torch.float32).eval()
    model = load_dequantized(fp8_dir, tmp_path / "deq").eval()
    assert "quantization_config" not in json.loads((tmp_path / "deq" / "config.json").read_text())
    ids = torch.arange(3, 40).unsqueeze(0)
    with torch.no_grad():
        a, b = original(ids).logits, model(ids).logits
    assert not torch.equal(a, b)  # it really went through fp8
    # e4m3 keeps 3 mantissa bits: ~6% relative error per weight, far less on the logits
    assert (a - b).abs().max() < 0.05 * a.abs().max()


def test_blockwise_roundtrip_uses_each_blocks_scale():
    torch.manual_seed(0)
    w = torch.randn(40, 70)
    w[:16, :16] *= 100  # one loud block must not wash out the others
    q, s = quantize_weight(w, (16, 16))
    assert tuple(s.shape) == (3, 5)
    back = dequantize_weight(q, s, (16, 16))
    rel = ((back - w).abs() / w.abs().clamp(min=1e-3)).median()
    assert rel < 0.05
    with pytest.raises(ModelError, match="does not fit"):
        dequantize_weight(q, s[:2], (16, 16))


def test_merge_into_the_fp8_checkpoint_is_refused(tiny_dirs, fp8_dir, tmp_path):
    from tunesmith.config import load_config
    from tunesmith.model import export_model, load_model, load_tokenizer

    cfg = load_config([f"model_name_or_path={tiny_dirs['llama']}", "lora_rank=4"], verb="train")
    model = load_model(cfg.model, load_tokenizer(cfg.model), finetune_cfg=cfg.finetune, for_training=True)
    model.save_pretrained(tmp_path / "adapter")
    export_cfg = load_config(
        [
            f"model_name_or_path={fp8_dir}",
            f"adapter_name_or_path={tmp_path / 'adapter'}",
            f"export_dir={tmp_path / 'out'}",
        ],
        verb="export",
    )
    with pytest.raises(ModelError, match=r"quantized \(fp8\)"):
        export_model(export_cfg)
    assert not (tmp_path / "out").exists()


def test_incompatible_combinations_are_refused():
    check_quantized_training(None, finetuning_type="full")
    check_quantized_training("fp8", finetuning_type="full", dequantized=True, zero3=True)
    check_quantized_training("fp8", finetuning_type="lora")
    with pytest.raises(
        ModelError, match="finetuning_type=full cannot update quantized \\(fp8\\).*dequantize"
    ):
        check_quantized_training("fp8", finetuning_type="full")
    with pytest.raises(ModelError, match="freeze"):
        check_quantized_training("gptq", finetuning_type="freeze")
    with pytest.raises(ModelError, match="ZeRO-3"):
        check_quantized_training("gptq", finetuning_type="lora", zero3=True)
    with pytest.raises(ModelError, match="FSDP"):
        check_quantized_training("fp8", finetuning_type="lora", fsdp=True)


def test_other_fp8_variants_are_refused(tiny_dirs, tmp_path):
    import shutil

    d = shutil.copytree(tiny_dirs["llama"], tmp_path / "per_tensor")
    config = json.loads((d / "config.json").read_text())
    config["quantization_config"] = {"quant_method": "fp8", "activation_scheme": "static"}
    (d / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="weight_block_size"):
        fp8_checkpoint(d)
