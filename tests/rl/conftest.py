"""A tiny model built once for the RL tests, and its tokenizer/template."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def rl_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tunesmith.testing import build_tiny_model

    return build_tiny_model("qwen3", tmp_path_factory.mktemp("rl-qwen3"))


@pytest.fixture(autouse=True)
def _tokenized_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNESMITH_CACHE", str(tmp_path_factory.getbasetemp() / "tunesmith-cache"))


def load(model_dir: Path, finetuning_type: str):
    from tunesmith.config import FinetuneConfig, ModelConfig
    from tunesmith.families import build_catalog
    from tunesmith.families.resolve import choose_template
    from tunesmith.model import load_model, load_tokenizer

    mc = ModelConfig(model_name_or_path=str(model_dir))
    loaded = load_tokenizer(mc)
    tokenizer = getattr(loaded, "tokenizer", loaded)
    model = load_model(
        mc, tokenizer, finetune_cfg=FinetuneConfig(finetuning_type=finetuning_type), for_training=True
    )
    template = choose_template(build_catalog(()), tokenizer, name=None, model_dir=str(model_dir)).template
    return model, tokenizer, template
