"""load_model on FP8 checkpoints (dequantized for training) and vision-language checkpoints."""

from __future__ import annotations

from pathlib import Path

import torch

from tunesmith.config import FinetuneConfig, ModelConfig


def test_fp8_checkpoint_loads_dequantized_for_lora_training(tmp_path: Path, monkeypatch) -> None:
    from tunesmith.model import load_model, load_tokenizer
    from tunesmith.model.fp8 import save_fp8_checkpoint
    from tunesmith.testing import build_tiny_model

    monkeypatch.setenv("TUNESMITH_CACHE", str(tmp_path / "cache"))
    base = build_tiny_model("llama", tmp_path / "base")
    fp8 = save_fp8_checkpoint(base, tmp_path / "fp8")
    cfg = ModelConfig(model_name_or_path=str(fp8))
    tok = load_tokenizer(cfg)
    model = load_model(cfg, tok, finetune_cfg=FinetuneConfig(finetuning_type="lora"), for_training=True)
    assert any(p.requires_grad for n, p in model.named_parameters() if "lora_" in n)
    assert all(p.dtype != torch.float8_e4m3fn for p in model.parameters())
    assert list((tmp_path / "cache" / "dequantized").iterdir()), "the dequantized copy is cached"
    ids = torch.tensor([tok("hello world", add_special_tokens=False)["input_ids"]])
    assert torch.isfinite(model(input_ids=ids).logits).all()


def test_vision_language_checkpoint_loads_with_image_text_class(tmp_path: Path) -> None:
    from tunesmith.model import load_model, load_tokenizer
    from tunesmith.testing.vlm import build_tiny_vlm

    path = build_tiny_vlm("llava", tmp_path / "llava")
    cfg = ModelConfig(model_name_or_path=str(path))
    model = load_model(
        cfg, load_tokenizer(cfg), finetune_cfg=FinetuneConfig(finetuning_type="lora"), for_training=True
    )
    assert "ForConditionalGeneration" in type(model.get_base_model()).__name__
    vision = [n for n, p in model.named_parameters() if "vision_tower" in n and p.requires_grad]
    assert not vision, "the vision tower is frozen by default"
