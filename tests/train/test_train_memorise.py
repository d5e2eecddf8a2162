"""LoRA, full and freeze SFT memorise the 16-example demo set on tiny models of four architectures.

Seeded and deterministic; the first logged loss (step 1) against the last (step 40 or 60).
"""

from __future__ import annotations

import pytest

from tests.train.conftest import LEARNING_SIZE, logged_losses, train

# per finetuning type: what makes the memorisation robust on every architecture below
RECIPES: dict[str, dict[str, object]] = {
    "lora": {
        "finetuning_type": "lora",
        "lora_rank": 16,
        "lora_target": "all",
        "learning_rate": 2e-3,
        "num_train_epochs": 20,
    },
    "full": {"finetuning_type": "full", "learning_rate": 1e-3, "num_train_epochs": 10},
    "freeze": {
        "finetuning_type": "freeze",
        "freeze_trainable_layers": 1,
        "learning_rate": 2e-3,
        "num_train_epochs": 20,
    },
}
ARCHS = ("llama", "qwen3", "mistral", "gemma2")


def _cases() -> list:
    cases = []
    for arch in ARCHS:
        for method in RECIPES:
            cases.append(pytest.param(arch, method, id=f"{arch}-{method}", marks=pytest.mark.slow))
    return cases


@pytest.mark.parametrize(("arch", "method"), _cases())
def test_sft_halves_the_loss(tiny_model, tmp_path, arch: str, method: str) -> None:
    result = train(tiny_model(arch, **LEARNING_SIZE), tmp_path / "out", **RECIPES[method])
    losses = logged_losses(result.output_dir)
    assert len(losses) == result.summary["global_step"] > 1
    first, last = losses[0], losses[-1]
    assert last <= 0.5 * first, f"{arch} {method}: loss {first:.3f} → {last:.3f} (all: {losses})"
