"""streaming: true: a lazily read, encoded-on-the-fly IterableDataset equal to the non-streamed data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tunesmith.config import load_config
from tunesmith.data import DataError
from tunesmith.data.pipeline import build_datasets
from tunesmith.data.report import Reason
from tunesmith.families import build_catalog
from tunesmith.families.resolve import choose_template
from tunesmith.testing import tiny_tokenizer

RECORDS = [
    {"instruction": "Say hi", "input": "", "output": "Hi!"},
    {"instruction": "Add", "input": "2 and 3", "output": "5"},
    {"instruction": "Colour of the sky?", "input": "", "output": "Blue."},
    {"instruction": "Long " * 400, "input": "", "output": "x"},  # truncated at cutoff 64
    {"instruction": 7, "output": "bad"},  # converter refuses it
    {"instruction": "Capital of Italy?", "input": "", "output": "Rome."},
]
DOCS = "First document here.\nSecond one, a bit longer than the first.\n\nThird.\n" + "word " * 100 + "\n"


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNESMITH_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    lines = [json.dumps(r) for r in RECORDS]
    lines.insert(2, "{not json")  # a bad line
    (d / "tiny.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (d / "tiny_list.json").write_text(json.dumps(RECORDS), encoding="utf-8")
    (d / "docs.txt").write_text(DOCS, encoding="utf-8")
    info = {
        "tiny": {"file_name": "tiny.jsonl"},
        "tiny_list": {"file_name": "tiny_list.json"},
        "docs": {"file_name": "docs.txt", "columns": {"prompt": "text"}},
    }
    (d / "dataset_info.json").write_text(json.dumps(info), encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def qwen():
    tok = tiny_tokenizer("qwen3")
    return tok, choose_template(build_catalog(()), tok, name="qwen3").template


def cfg_for(data_dir: Path, *extra: str):
    return load_config([f"dataset_dir={data_dir}", "cutoff_len=64", *extra], verb="data")


def _rows(dataset) -> list[dict]:
    return [dict(row) for row in dataset]


@pytest.mark.parametrize("name", ["tiny", "tiny_list"])
def test_streamed_sft_equals_non_streamed(data_dir: Path, qwen, name: str) -> None:
    tok, template = qwen
    plain = build_datasets(cfg_for(data_dir, f"dataset={name}"), tok, template, stage="sft")
    streamed = build_datasets(
        cfg_for(data_dir, f"dataset={name}", "streaming=true", "buffer_size=1", "max_steps=3"),
        tok,
        template,
        stage="sft",
    )
    from datasets import IterableDataset

    assert isinstance(streamed.train, IterableDataset)
    assert not streamed.stats and not streamed.report  # filled in by a complete pass
    assert _rows(streamed.train) == _rows(plain.train)
    assert streamed.stats["train"].sequences == plain.stats["train"].sequences == 5
    assert streamed.stats["train"].truncated == 1
    assert streamed.report.by_reason() == plain.report.by_reason()
    assert streamed.report.records_read == plain.report.records_read


def test_bad_line_is_skipped_and_reported(data_dir: Path, qwen) -> None:
    tok, template = qwen
    cfg = cfg_for(data_dir, "dataset=tiny", "streaming=true", "buffer_size=1", "max_steps=3")
    out = build_datasets(cfg, tok, template, stage="sft")
    rows = _rows(out.train)
    assert len(rows) == 5
    lines = sorted(b.line for b in out.report.examples)
    assert out.report.total == 2 and lines == [3, 6]  # the broken JSON line and the int instruction
    assert out.report.counts[Reason.BAD_JSON] == 1


def test_streamed_pt_chunks_like_non_streamed(data_dir: Path, qwen) -> None:
    tok, _ = qwen
    plain = build_datasets(cfg_for(data_dir, "dataset=docs", "cutoff_len=16"), tok, None, stage="pt")
    streamed = build_datasets(
        cfg_for(data_dir, "dataset=docs", "cutoff_len=16", "streaming=true", "buffer_size=1", "max_steps=3"),
        tok,
        None,
        stage="pt",
    )
    rows = _rows(streamed.train)
    assert rows == _rows(plain.train)
    assert set(rows[0]) == {"input_ids", "labels", "position_ids", "seq_lens"}
    assert all(len(r["input_ids"]) <= 16 for r in rows) and len(rows) > 3


def test_shuffle_is_seeded_and_keeps_every_example(data_dir: Path, qwen) -> None:
    tok, template = qwen
    cfg = cfg_for(data_dir, "dataset=tiny", "streaming=true", "buffer_size=4", "max_steps=3")
    a = _rows(build_datasets(cfg, tok, template, stage="sft").train)
    b = _rows(build_datasets(cfg, tok, template, stage="sft").train)
    plain = _rows(build_datasets(cfg_for(data_dir, "dataset=tiny"), tok, template, stage="sft").train)
    assert a == b
    assert sorted(map(str, a)) == sorted(map(str, plain))


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ((), "max_steps"),
        (("max_steps=3", "val_size=2"), "val_size"),
        (("max_steps=3", "packing=true"), "packing"),
    ],
)
def test_streaming_refusals(data_dir: Path, qwen, extra: tuple[str, ...], needle: str) -> None:
    tok, template = qwen
    cfg = cfg_for(data_dir, "dataset=tiny", "streaming=true", *extra)
    with pytest.raises(DataError, match=needle):
        build_datasets(cfg, tok, template, stage="sft")


def test_streaming_with_a_non_streamed_eval_dataset(data_dir: Path, qwen) -> None:
    tok, template = qwen
    cfg = cfg_for(data_dir, "dataset=tiny", "eval_dataset=tiny_list", "streaming=true", "max_steps=3")
    out = build_datasets(cfg, tok, template, stage="sft")
    assert out.eval is not None and len(out.eval) == 5 and out.stats["eval"].sequences == 5
    assert out.report.total == 1  # eval's bad record, before the stream has run
    _rows(out.train)
    assert out.report.total == 3


def test_run_train_streaming_max_steps(data_dir: Path, tmp_path: Path) -> None:
    from tunesmith.testing import build_tiny_model
    from tunesmith.train.workflow import run_train

    model_dir = build_tiny_model("qwen3", tmp_path / "model")
    base = {
        "model_name_or_path": str(model_dir),
        "stage": "sft",
        "do_train": True,
        "finetuning_type": "lora",
        "dataset": "tiny",
        "dataset_dir": str(data_dir),
        "cutoff_len": 64,
        "streaming": True,
        "buffer_size": 2,
        "max_steps": 3,
        "output_dir": str(tmp_path / "out"),
        "per_device_train_batch_size": 2,
        "logging_steps": 1,
        "save_strategy": "no",
        "seed": 0,
        "report_to": "none",
        "disable_tqdm": True,
    }
    result = run_train(load_config([], verb="train", base=base))
    assert result.summary["global_step"] == 3
    # 3 steps of 2 over 5 examples: at least one complete pass, so its stats and bad records are there
    assert result.summary["data"]["train"]["sequences"] == 5
    assert result.summary["bad_records"]["total"] == 2

    with pytest.raises((DataError, ValueError), match="max_steps"):
        run_train(load_config([], verb="train", base={**base, "max_steps": -1}))
