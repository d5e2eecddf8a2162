"""Tiny models built once per session and a helper that trains one with a few config keys.

The models are 512 wide: with frozen embeddings (LoRA, freeze) a random model's logits are bounded
by about ``0.02 * hidden_size`` (initializer_range times the normalised hidden state), so a 64- or
128-wide model cannot memorise anything without training the embeddings; 512 can, in seconds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

DEMO_DIR = Path(__file__).resolve().parents[2] / "src" / "tunesmith" / "demo"
LEARNING_SIZE: dict[str, int] = {"hidden_size": 512, "num_layers": 2, "intermediate_size": 1024}


@pytest.fixture(autouse=True)
def _tokenized_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the tokenized-data cache out of the user's home (shared by the session's tests)."""
    monkeypatch.setenv("TUNESMITH_CACHE", str(tmp_path_factory.getbasetemp() / "tunesmith-cache"))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``tiny_model(arch, **size)`` → the folder of a tiny random model, built once per arguments."""
    from tunesmith.testing import build_tiny_model

    built: dict[tuple[Any, ...], Path] = {}

    def make(arch: str, **size: int) -> Path:
        key = (arch, *sorted(size.items()))
        if key not in built:
            name = "-".join([arch, *(f"{k}{v}" for k, v in sorted(size.items()))])
            built[key] = build_tiny_model(arch, tmp_path_factory.mktemp(name), **size)
        return built[key]

    return make


def train(model_dir: Path, output_dir: Path, **overrides: Any):
    """Run ``run_train`` on the demo memorisation set with logging every step; ``overrides`` win."""
    from tunesmith.config import load_config
    from tunesmith.train.workflow import run_train

    base: dict[str, Any] = {
        "model_name_or_path": str(model_dir),
        "stage": "sft",
        "do_train": True,
        "finetuning_type": "lora",
        "dataset": "demo_sft",
        "dataset_dir": str(DEMO_DIR),
        "cutoff_len": 256,
        "output_dir": str(output_dir),
        "per_device_train_batch_size": 4,
        "logging_steps": 1,
        "save_strategy": "no",
        "seed": 0,
        "report_to": "none",
        "disable_tqdm": True,
    }
    base.update(overrides)
    return run_train(load_config([], verb="train", base=base))


def log_history(output_dir: Path) -> list[dict[str, Any]]:
    return json.loads((Path(output_dir) / "trainer_state.json").read_text())["log_history"]


def logged_losses(output_dir: Path) -> list[float]:
    return [entry["loss"] for entry in log_history(output_dir) if "loss" in entry]


def read_tensors(path: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(path))
