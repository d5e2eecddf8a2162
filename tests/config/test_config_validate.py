"""Checks of ranges and of combinations of values."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunesmith.config import ConfigError, load_config


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["lora_rank=0"], "lora_rank: 0 must be > 0 (lora_rank from command line)"),
        (["val_size=-0.1"], "val_size: -0.1 must be >= 0"),
        (["val_size=2.5"], "val_size: 2.5 must be a fraction < 1 or a whole count"),
        (["lora_dropout=1.0"], "lora_dropout: 1.0 must be in [0, 1)"),
        (["cutoff_len=0"], "cutoff_len: 0 must be > 0"),
        (["quantization_bit=7"], "quantization_bit: 7 is not one of 2, 3, 4, 5, 6, 8"),
        (["port=70000"], "port: 70000 must be in 1..65535"),
        (["top_p=0"], "top_p: 0.0 must be in (0, 1]"),
        (["dataset=a,b", "interleave_probs=0.5,0.5"], "mix_strategy is concat"),
        (
            ["dataset=a", "mix_strategy=interleave_over", "interleave_probs=0.5,0.5"],
            "2 values for 1 datasets",
        ),
        (["do_train=true", "streaming=true"], "streaming needs max_steps > 0"),
        (["do_train=true", "eval_strategy=steps"], "set eval_dataset or val_size"),
        (["do_train=true", "predict_with_generate=true"], "while training (do_train) needs do_eval"),
        (["stage=dpo", "predict_with_generate=true"], "stage sft only, not dpo"),
        (["do_train=true", "quantization_bit=4", "finetuning_type=full"], "needs finetuning_type lora"),
        (["stage=ppo", "do_train=true"], "stage ppo needs reward_model"),
    ],
)
def test_invalid_values(args: list[str], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(args)
    assert fragment in str(info.value)


def test_bf16_and_fp16_names_both_sources(tmp_path: Path) -> None:
    path = tmp_path / "mp.yaml"
    path.write_text("bf16: true\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config([str(path), "--fp16"])
    message = str(info.value)
    assert "bf16 and fp16 cannot both be true" in message
    assert f"bf16 from {path}" in message and "fp16 from command line" in message


def test_all_problems_are_reported_together() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(["lora_rank=0", "cutoff_len=0", "port=0"])
    message = str(info.value)
    assert message.startswith("invalid configuration:")
    assert "lora_rank" in message and "cutoff_len" in message and "port" in message


def test_verb_requirements() -> None:
    with pytest.raises(ConfigError, match="chat needs model_name_or_path"):
        load_config([], verb="chat")
    with pytest.raises(ConfigError, match="export needs export_dir"):
        load_config(["model_name_or_path=m"], verb="export")
    with pytest.raises(ConfigError) as info:
        load_config(["model_name_or_path=m", "--do_train"], verb="train")
    assert "do_train needs dataset" in str(info.value) and "do_train needs output_dir" in str(info.value)
    cfg = load_config(["model_name_or_path=m", "--do_train", "dataset=d", "output_dir=o"], verb="train")
    assert cfg.train.do_train
    assert load_config([], verb="template").verb == "template"
