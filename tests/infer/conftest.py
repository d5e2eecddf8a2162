"""A tiny qwen3 model whose weights are scaled up so greedy decoding produces varied tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    from tunesmith.testing import build_tiny_model

    return build_tiny_model("qwen3", tmp_path_factory.mktemp("qwen3-infer"), seed=1)


@pytest.fixture(scope="session")
def tiny_parts(tiny_dir) -> tuple[Any, Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunesmith.families import build_catalog
    from tunesmith.families.resolve import choose_template

    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_dir).eval()
    with torch.no_grad():  # random tiny weights repeat one token; larger ones wander
        for p in model.parameters():
            if p.dim() == 2:
                p.mul_(4.0)
    template = choose_template(build_catalog(), tokenizer, model_dir=tiny_dir).template
    return model, tokenizer, template


@pytest.fixture(scope="session")
def engine(tiny_parts):
    from tunesmith.infer import TransformersEngine

    model, tokenizer, template = tiny_parts
    return TransformersEngine(model, tokenizer, template)
