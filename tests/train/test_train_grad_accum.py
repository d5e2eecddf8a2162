"""The loss does not depend on gradient accumulation: 1 x batch 4 equals 4 x batch 1 over the same
four examples of different lengths (transformers normalises by num_items_in_batch, the trained
tokens of the whole optimiser step; a per-micro-batch mean would weight short examples up)."""

from __future__ import annotations

import torch

from tests.train.conftest import logged_losses, read_tensors, train

# SGD, so the weight change is lr x gradient (Adam's first step is lr x sign(gradient), blind to scale)
ONE_STEP = {
    "finetuning_type": "full",
    "max_samples": 4,
    "max_steps": 1,
    "optim": "sgd",
    "learning_rate": 0.5,
    "lr_scheduler_type": "constant",
    "save_strategy": "no",
}


def test_gradient_accumulation_gives_the_same_loss_and_step(tiny_model, tmp_path) -> None:
    model = tiny_model("qwen3")
    whole = train(
        model, tmp_path / "whole", per_device_train_batch_size=4, gradient_accumulation_steps=1, **ONE_STEP
    )
    accum = train(
        model, tmp_path / "accum", per_device_train_batch_size=1, gradient_accumulation_steps=4, **ONE_STEP
    )

    trained = [sum(1 for x in row[1:] if x != -100) for row in _train_labels(tmp_path / "whole")]
    assert len(set(trained)) > 1, "the four examples should have different numbers of trained tokens"
    assert whole.summary["trained_tokens"] == accum.summary["trained_tokens"] == sum(trained)

    (loss_whole,), (loss_accum,) = logged_losses(whole.output_dir), logged_losses(accum.output_dir)
    assert abs(loss_whole - loss_accum) <= 1e-5, (loss_whole, loss_accum)

    base = read_tensors(model / "model.safetensors")
    a, b = (
        read_tensors(whole.output_dir / "model.safetensors"),
        read_tensors(accum.output_dir / "model.safetensors"),
    )
    assert a.keys() == b.keys()
    moved = max((a[k] - base[k]).abs().max().item() for k in a if k in base)
    assert moved > 1e-3, "the step should move the weights"
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-5, rtol=0), name


def _train_labels(output_dir):
    """The labels of the four examples, re-encoded exactly as the run did."""
    import yaml

    from tunesmith.config import load_config
    from tunesmith.data.pipeline import build_datasets
    from tunesmith.families import build_catalog
    from tunesmith.families.resolve import choose_template
    from tunesmith.model import load_tokenizer

    cfg = load_config(
        [], verb="train", base=yaml.safe_load((output_dir / "tunesmith_config.yaml").read_text())
    )
    tokenizer = load_tokenizer(cfg.model)
    template = choose_template(build_catalog(), tokenizer, model_dir=cfg.model.model_name_or_path).template
    return build_datasets(cfg, tokenizer, template, stage="sft").train["labels"]
