"""`tunesmith data preview`: conversation, marked rendering, token counts, stats and bad records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tunesmith.cli.main import main

RECORDS = [
    {"instruction": "Say hi", "input": "", "output": "Hi there!"},
    {"instruction": 7, "output": "bad"},
    {"instruction": "Add", "input": "2 and 3", "output": "5"},
]


@pytest.fixture(scope="module")
def qwen3_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tunesmith.testing import build_tiny_model

    return build_tiny_model("qwen3", tmp_path_factory.mktemp("qwen3"))


@pytest.fixture
def config(tmp_path: Path, qwen3_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TUNESMITH_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "data"
    data.mkdir()
    (data / "tiny.json").write_text(json.dumps(RECORDS), encoding="utf-8")
    (data / "dataset_info.json").write_text(
        json.dumps({"tiny": {"file_name": "tiny.json"}}), encoding="utf-8"
    )
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"model_name_or_path: {qwen3_dir}\ndataset: tiny\ndataset_dir: {data}\ncutoff_len: 128\n")
    return cfg


def test_preview_shows_marked_text_counts_and_report(config: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["data", "preview", str(config), "--n", "2"]) == 0
    out = capsys.readouterr().out
    assert "[user] Say hi" in out and "[assistant] Hi there!" in out
    assert "<|im_start|>user\nSay hi<|im_end|>\n<|im_start|>assistant\n⟦" in out
    assert "Hi there!<|im_end|>⟧" in out
    assert "── example 2:" in out and "── example 3:" not in out
    assert "tokens: " in out and " trained" in out
    assert "train: 2 examples in, 2 kept" in out
    assert "1 of 3 records skipped (non-string content: 1)" in out
    assert "tiny.json, row 1: non-string content" in out


def test_preview_needs_model_and_dataset(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["data", "preview", "dataset=tiny"]) == 2
    assert "model_name_or_path" in capsys.readouterr().err


def test_data_help(capsys: pytest.CaptureFixture) -> None:
    assert main(["data", "--help"]) == 0
    out = capsys.readouterr().out
    assert "tunesmith data preview" in out and "cutoff_len" in out
