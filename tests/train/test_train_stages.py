"""Stage pt with packing on the shared C4 sample, and evaluation on a held-out split."""

from __future__ import annotations

import math

from tests.conftest import shared_path
from tests.train.conftest import logged_losses, train


def test_pt_packs_and_trains_a_few_steps(tiny_model, tmp_path) -> None:
    data = shared_path("data")
    shared_path("data", "c4_demo.jsonl")
    out = tmp_path / "pt"
    result = train(
        tiny_model("llama"),
        out,
        stage="pt",
        dataset="c4_demo",
        dataset_dir=str(data),
        max_samples=10,
        cutoff_len=128,
        packing=True,
        per_device_train_batch_size=2,
        max_steps=3,
        learning_rate=1e-3,
    )
    stats = result.summary["data"]["train"]
    assert result.summary["stage"] == "pt" and result.summary["global_step"] == 3
    assert stats["examples_in"] == 10
    # concatenated and cut into full cutoff_len blocks (only the last may be shorter)
    assert (stats["sequences"] - 1) * 128 < stats["total_tokens"] <= stats["sequences"] * 128
    losses = logged_losses(out)
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses)
    assert result.summary["trained_tokens"] > 3 * 2 * 100


def test_val_size_with_do_eval_reports_eval_loss(tiny_model, tmp_path) -> None:
    result = train(
        tiny_model("qwen3"), tmp_path / "eval", val_size=0.25, do_eval=True, max_steps=2, learning_rate=1e-3
    )
    data = result.summary["data"]
    assert data["train"]["examples_in"] == 12 and data["eval"]["examples_in"] == 4
    eval_loss = result.summary["eval"]["eval_loss"]
    assert math.isfinite(eval_loss) and eval_loss > 0
