"""What a run leaves in output_dir, and what its summary and bad-record report say."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.train.conftest import log_history, train


def _template_of(model_dir):
    from transformers import AutoTokenizer

    from tunesmith.families import build_catalog
    from tunesmith.families.resolve import choose_template

    return choose_template(
        build_catalog(), AutoTokenizer.from_pretrained(model_dir), model_dir=model_dir
    ).template


def _check_common(out, model_dir) -> dict:
    from transformers import AutoTokenizer

    assert AutoTokenizer.from_pretrained(out).chat_template == _template_of(model_dir).to_jinja()
    assert [h for h in log_history(out) if "loss" in h], "trainer_state.json has no logged loss"
    saved = yaml.safe_load((out / "tunesmith_config.yaml").read_text())
    assert saved["model_name_or_path"] == str(model_dir) and saved["output_dir"] == str(out)
    summary = json.loads((out / "run_summary.json").read_text())
    assert summary["trained_tokens"] > 0
    assert summary["train_tokens_per_second"] > 0
    assert summary["peak_memory_mb"] > 0
    assert summary["bad_records"]["total"] == 0
    return summary


def test_lora_run_writes_adapter_tokenizer_state_config_summary_and_plot(tiny_model, tmp_path) -> None:
    pytest.importorskip("matplotlib")
    model_dir = tiny_model("llama")
    out = tmp_path / "lora"
    result = train(model_dir, out, max_steps=3, learning_rate=1e-3, plot_loss=True)
    assert result.output_dir == out
    for name in (
        "adapter_config.json",
        "adapter_model.safetensors",
        "trainer_state.json",
        "training_loss.png",
    ):
        assert (out / name).is_file(), name
    assert not (out / "model.safetensors").exists()
    assert (out / "training_loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = _check_common(out, model_dir)
    assert summary["resumed_from"] is None
    assert summary["global_step"] == 3 and summary["stage"] == "sft"


def test_full_run_writes_the_model(tiny_model, tmp_path) -> None:
    from transformers import AutoModelForCausalLM

    model_dir = tiny_model("qwen3")
    out = tmp_path / "full"
    train(model_dir, out, finetuning_type="full", max_steps=2, learning_rate=1e-4)
    assert (out / "config.json").is_file() and (out / "model.safetensors").is_file()
    assert not (out / "adapter_config.json").exists()
    _check_common(out, model_dir)
    AutoModelForCausalLM.from_pretrained(out)  # loads as a plain transformers model


BROKEN = {
    2: {"instruction": "What is 3 + 3?"},  # no output column
    5: {"instruction": "", "input": "", "output": ""},  # empty
    9: {"instruction": "Say hi", "input": "", "output": ["not", "a", "string"]},
}


def test_broken_rows_are_reported_by_file_row_and_reason_and_the_rest_trains(tiny_model, tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    rows = [
        {"instruction": f"Repeat the number {i}.", "input": "", "output": f"{i} {i} {i}"} for i in range(12)
    ]
    for row, record in BROKEN.items():
        rows[row] = record
    (data / "mixed.json").write_text(json.dumps(rows))
    (data / "dataset_info.json").write_text(json.dumps({"mixed": {"file_name": "mixed.json"}}))
    out = tmp_path / "out"
    result = train(tiny_model("qwen3"), out, dataset="mixed", dataset_dir=str(data), max_steps=1)

    summary = json.loads((out / "run_summary.json").read_text())
    bad = summary["bad_records"]
    assert bad["total"] == 3 == sum(bad["by_reason"].values())
    assert [(Path(r["file"]).name, r["row"]) for r in bad["records"]] == [
        ("mixed.json", row) for row in BROKEN
    ]
    assert all(r["reason"] and r["dataset"] == "mixed" for r in bad["records"])
    assert summary["data"]["train"]["examples_in"] == 12 - 3
    assert result.summary["bad_records"] == bad
