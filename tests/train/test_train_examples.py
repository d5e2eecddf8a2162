"""The example configs: every one resolves for its verb; the LLaMA-Factory-shaped one trains as is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import shared_path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
VERBS = {
    "sft_lora.yaml": "train",
    "sft_full.yaml": "train",
    "sft_freeze.yaml": "train",
    "pt.yaml": "train",
    "predict.yaml": "predict",
    "export.yaml": "export",
    "chat.yaml": "chat",
    "llama3_lora_sft.yaml": "train",
    "rm_lora.yaml": "train",
    "dpo_lora.yaml": "train",
    "kto_lora.yaml": "train",
    "orpo_lora.yaml": "train",
    "simpo_lora.yaml": "train",
    "grpo_lora.yaml": "train",
    "ppo_lora.yaml": "train",
}


@pytest.mark.parametrize(("name", "verb"), list(VERBS.items()))
def test_example_resolves_for_its_verb(name: str, verb: str) -> None:
    from tunesmith.config import load_config

    cfg = load_config([str(EXAMPLES / name)], verb=verb)
    assert cfg.model.model_name_or_path
    if name != "llama3_lora_sft.yaml":
        assert cfg.model.model_name_or_path == "saves/quickstart/base"
    if verb == "train":
        assert cfg.train.do_train and cfg.train.output_dir and cfg.data.dataset
    if verb == "export":
        assert cfg.export.export_dir and cfg.model.adapter_name_or_path
    if verb == "predict":
        assert cfg.train.do_predict and cfg.data.eval_dataset


@pytest.mark.slow
def test_llamafactory_example_trains_with_only_paths_changed(tiny_model, tmp_path) -> None:
    """examples/llama3_lora_sft.yaml through the CLI: model path and dataset_dir changed, output_dir to
    tmp and max_steps=2 to keep it short; bf16 falls back to fp32 with a warning on CPU."""
    data = shared_path("data")
    for name in ("identity.json", "alpaca_en_demo.json"):
        shared_path("data", name)
    out = tmp_path / "out"
    env = {**os.environ, "TUNESMITH_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run(
        [
            sys.executable, "-m", "tunesmith.cli.main", "train", str(EXAMPLES / "llama3_lora_sft.yaml"),
            f"model_name_or_path={tiny_model('llama')}",
            f"dataset_dir={data}",
            f"output_dir={out}",
            "max_steps=2",
        ],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    import torch

    if not torch.cuda.is_available():
        assert "training in fp32" in proc.stderr
    assert (out / "adapter_model.safetensors").is_file() and (out / "adapter_config.json").is_file()
    summary = json.loads((out / "run_summary.json").read_text())
    assert summary["template"] == "llama3" and summary["global_step"] == 2
    assert summary["trained_tokens"] > 0


STAGE_EXAMPLES = {
    "rm_lora.yaml": "rm",
    "dpo_lora.yaml": "dpo",
    "kto_lora.yaml": "kto",
    "orpo_lora.yaml": "dpo",
    "simpo_lora.yaml": "dpo",
    "grpo_lora.yaml": "grpo",
    "ppo_lora.yaml": "ppo",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(STAGE_EXAMPLES))
def test_stage_example_trains_through_the_cli(name: str, tiny_model, tmp_path, monkeypatch) -> None:
    """Each preference / RL example as a user runs it (`tunesmith train examples/X.yaml`), with the
    tiny qwen3 model, LLaMA-Factory's demo data (the examples' `dataset_dir: data`) and 2 steps."""
    import math

    from tunesmith.cli.main import main

    monkeypatch.setenv("TUNESMITH_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    args = [
        "train",
        str(EXAMPLES / name),
        f"model_name_or_path={tiny_model('qwen3')}",
        f"output_dir={out}",
        "max_steps=2",
        "max_samples=8",
        "plot_loss=false",
        "logging_steps=1",
    ]
    if "dataset_dir: data" in (EXAMPLES / name).read_text():
        args.append(f"dataset_dir={shared_path('data')}")
    else:  # the project's own demo data, as shipped
        monkeypatch.chdir(EXAMPLES.parent)
    assert main(args) == 0
    summary = json.loads((out / "run_summary.json").read_text())
    assert summary["stage"] == STAGE_EXAMPLES[name] and summary["global_step"] == 2
    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    losses = [h["loss"] for h in history if "loss" in h]
    assert losses and all(math.isfinite(v) for v in losses)
    assert (out / "adapter_model.safetensors").is_file()
