"""The engine ``tunesmith webchat`` builds for a tiny qwen3 model (weights scaled up so that greedy
decoding wanders over many tokens instead of repeating one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    from tunesmith.testing import build_tiny_model

    return build_tiny_model("qwen3", tmp_path_factory.mktemp("webchat") / "tiny-qwen3", seed=1)


@pytest.fixture(scope="session")
def engine(tiny_dir) -> Any:
    import torch

    from tunesmith.config import load_config
    from tunesmith.serve.backend import build_serving_engine

    engine = build_serving_engine(load_config([f"model_name_or_path={tiny_dir}"], verb="webchat"))
    with torch.no_grad():
        for p in engine.model.parameters():
            if p.dim() == 2:
                p.mul_(4.0)
    return engine
