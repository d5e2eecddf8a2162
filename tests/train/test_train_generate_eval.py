"""predict_with_generate after an sft run: the eval split is answered, scored and written out."""

from __future__ import annotations

import json

from tests.train.conftest import DEMO_DIR, train

METRICS = ("eval_bleu-4", "eval_rouge-1", "eval_rouge-2", "eval_rouge-l")


def test_sft_eval_with_generate_scores_and_writes_the_eval_split(tiny_model, tmp_path) -> None:
    out = tmp_path / "gen"
    train(
        tiny_model("qwen3"),
        out,
        val_size=0.25,
        do_eval=True,
        predict_with_generate=True,
        max_steps=2,
        max_new_tokens=8,
    )
    summary = json.loads((out / "run_summary.json").read_text())
    saved = json.loads((out / "eval_results.json").read_text())
    for key in METRICS:
        assert isinstance(summary["eval"][key], float) and 0 <= summary["eval"][key] <= 100, key
        assert saved[key] == summary["eval"][key]
    assert "eval_loss" in summary["eval"]
    rows = [json.loads(line) for line in (out / "generated_predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 4 == summary["data"]["eval"]["examples_in"]
    answers = {r["output"] for r in json.loads((DEMO_DIR / "demo_sft.json").read_text())}
    for row in rows:
        assert set(row) == {"prompt", "predict", "label"}
        assert row["prompt"] and row["label"] in answers
    assert len({row["label"] for row in rows}) == 4
