"""Tiny models built once per session, and small helpers shared by the model-layer tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An untied (llama) and a tied-embedding (qwen3) tiny model."""
    from tunesmith.testing import build_tiny_model

    root = tmp_path_factory.mktemp("model_tiny")
    return {arch: build_tiny_model(arch, root / arch) for arch in ("llama", "qwen3")}


def randomise_lora_b(model: torch.nn.Module, seed: int = 1) -> None:
    """LoRA B starts at zero (the adapter is a no-op); fill it so the adapter changes the outputs."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.5)


def sample_ids() -> torch.Tensor:
    return torch.tensor([[5, 17, 42, 99, 3, 250, 7, 11]])
