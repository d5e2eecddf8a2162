"""build_datasets: config → tokenized datasets, stats, bad-record report, and the on-disk cache."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tunesmith.config import load_config
from tunesmith.data import DataError, load_conversations, pipeline
from tunesmith.data.encode import Dropped, SupervisedExample
from tunesmith.data.pipeline import EncodeJob, build_datasets, encode_examples
from tunesmith.families import build_catalog
from tunesmith.families.resolve import choose_template
from tunesmith.templates.encode import IGNORE_INDEX
from tunesmith.testing import tiny_tokenizer

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

RECORDS = [
    {"instruction": "Say hi", "input": "", "output": "Hi!"},
    {"instruction": "Add", "input": "2 and 3", "output": "5"},
    {"instruction": "Colour of the sky?", "input": "", "output": "Blue."},
    {"instruction": "Long " * 400, "input": "", "output": "x"},  # truncated at cutoff 64
    {"instruction": 7, "output": "bad"},  # a bad record: reported, not encoded
    {"instruction": "Capital of Italy?", "input": "", "output": "Rome."},
]


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNESMITH_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    (d / "tiny.json").write_text(json.dumps(RECORDS), encoding="utf-8")
    (d / "docs.txt").write_text("First document here.\nSecond one, a bit longer than the first.\n\nThird.\n")
    info = {
        "tiny": {"file_name": "tiny.json"},
        "docs": {"file_name": "docs.txt", "columns": {"prompt": "text"}},
    }
    (d / "dataset_info.json").write_text(json.dumps(info), encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def qwen():
    tok = tiny_tokenizer("qwen3")
    return tok, choose_template(build_catalog(()), tok, name="qwen3").template


def cfg_for(data_dir: Path, *extra: str):
    return load_config([f"dataset_dir={data_dir}", "dataset=tiny", "cutoff_len=64", *extra], verb="data")


def test_sft_datasets_stats_and_report(data_dir: Path, qwen) -> None:
    tok, template = qwen
    out = build_datasets(cfg_for(data_dir), tok, template, stage="sft")
    assert not out.from_cache and out.eval is None
    assert out.train.column_names == ["input_ids", "labels"]
    stats = out.stats["train"]
    assert (stats.examples_in, stats.examples_out, stats.sequences, stats.truncated) == (5, 5, 5, 1)
    assert not stats.dropped
    assert out.report.total == 1 and out.report.examples[0].row == 4
    assert stats.total_tokens == sum(len(r) for r in out.train["input_ids"])
    assert stats.trainable_tokens == sum(1 for r in out.train["labels"] for x in r if x != IGNORE_INDEX)
    first = out.train[0]
    assert tok.decode(first["input_ids"]).startswith("<|im_start|>user\nSay hi<|im_end|>")


def test_dropped_examples_are_counted(data_dir: Path, qwen) -> None:
    tok, template = qwen
    encoded = encode_examples(
        load_conversations(["tiny"], data_dir).examples, EncodeJob("sft", template, tok, cutoff_len=3)
    )
    assert all(isinstance(e, Dropped) for e in encoded)  # "<|im_start|>assistant\n" + 1 token > 3
    with pytest.raises(DataError, match=r"dropped: no trainable tokens after truncation to cutoff_len=3: 5"):
        build_datasets(cfg_for(data_dir, "cutoff_len=3"), tok, template, stage="sft")
    columns, stats = pipeline._rows(
        "sft",
        [*encoded[:2], SupervisedExample([1, 2], [-100, 2])],
        [e.source for e in load_conversations(["tiny"], data_dir).examples[:3]],
        3,
        False,
    )
    assert stats.dropped == {"no trainable tokens after truncation to cutoff_len=3": 2}
    assert [d["row"] for d in stats.dropped_examples] == [0, 1] and stats.examples_out == 1


def test_sft_packing_and_val_size(data_dir: Path, qwen) -> None:
    tok, template = qwen
    out = build_datasets(cfg_for(data_dir, "packing=true", "val_size=1"), tok, template, stage="sft")
    assert out.train.column_names == ["input_ids", "labels", "position_ids", "seq_lens"]
    assert out.stats["train"].examples_in + out.stats["eval"].examples_in == 5
    for row in out.train:
        assert len(row["input_ids"]) <= 64 and sum(row["seq_lens"]) == len(row["input_ids"])
        assert row["position_ids"][0] == 0


def test_pt_blocks_with_document_boundaries(data_dir: Path, qwen) -> None:
    tok, _ = qwen
    out = build_datasets(cfg_for(data_dir, "dataset=docs", "cutoff_len=8"), tok, None, stage="pt")
    rows = out.train
    assert rows.column_names == ["input_ids", "labels", "position_ids", "seq_lens"]
    stream = [t for r in rows["input_ids"] for t in r]
    assert stream.count(tok.eos_token_id) == 3  # three documents, one EOS each
    assert all(len(r) <= 8 for r in rows["input_ids"])


def test_predict_prompts(data_dir: Path, qwen) -> None:
    tok, template = qwen
    out = build_datasets(cfg_for(data_dir, "cutoff_len=1024"), tok, template, stage="predict")
    assert out.train is None and out.eval.column_names == ["input_ids", "labels", "label_text"]
    assert tok.decode(out.eval[0]["input_ids"]).endswith("<|im_start|>assistant\n")
    assert out.eval[0]["label_text"] == "Hi!"


def test_second_run_loads_from_cache(data_dir: Path, qwen, monkeypatch, caplog) -> None:
    tok, template = qwen
    cfg = cfg_for(data_dir, "packing=true")
    first = build_datasets(cfg, tok, template, stage="sft")

    def no_encoding(*args, **kwargs):
        raise AssertionError("the encoder ran although the cache holds the result")

    monkeypatch.setattr(pipeline, "encode_examples", no_encoding)
    with caplog.at_level(logging.INFO, logger="tunesmith.data.pipeline"):
        second = build_datasets(cfg, tok, template, stage="sft")
    assert second.from_cache and second.cache_path == first.cache_path
    assert "loaded the tokenized dataset from the cache" in caplog.text
    assert second.train["input_ids"] == first.train["input_ids"]
    assert second.stats == first.stats and second.report.by_reason() == first.report.by_reason()
    # another cutoff_len, another entry; overwrite_cache recomputes
    with pytest.raises(AssertionError, match="the encoder ran"):
        build_datasets(cfg_for(data_dir, "packing=true", "cutoff_len=65"), tok, template, stage="sft")
    with pytest.raises(AssertionError, match="the encoder ran"):
        build_datasets(cfg_for(data_dir, "packing=true", "overwrite_cache=true"), tok, template, stage="sft")


def test_cache_key_follows_the_data_file(data_dir: Path, qwen) -> None:
    tok, template = qwen
    first = build_datasets(cfg_for(data_dir), tok, template, stage="sft")
    (data_dir / "tiny.json").write_text(json.dumps(RECORDS[:3]), encoding="utf-8")
    second = build_datasets(cfg_for(data_dir), tok, template, stage="sft")
    assert not second.from_cache and second.cache_path != first.cache_path
    assert second.stats["train"].examples_in == 3


def test_tokenized_path_saved_then_loaded(data_dir: Path, tmp_path: Path, qwen, caplog) -> None:
    tok, template = qwen
    target = tmp_path / "tokenized"
    first = build_datasets(cfg_for(data_dir, f"tokenized_path={target}"), tok, template, stage="sft")
    assert not first.from_cache and (target / "meta.json").is_file()
    with caplog.at_level(logging.INFO, logger="tunesmith.data.pipeline"):
        second = build_datasets(cfg_for(data_dir, f"tokenized_path={target}"), tok, template, stage="sft")
    assert second.from_cache and "tokenized_path" in caplog.text
    assert second.train["labels"] == first.train["labels"]


def test_parallel_encoding_is_deterministic(qwen) -> None:
    if not (SHARED_DATA / "dataset_info.json").is_file():
        pytest.skip(f"LLaMA-Factory demo data not found at {SHARED_DATA}")
    tok, template = qwen
    examples = load_conversations(["alpaca_en_demo"], SHARED_DATA, max_samples=300).examples
    job = EncodeJob("sft", template, tok, 128)
    assert encode_examples(examples, job, num_workers=2, chunk_size=100) == encode_examples(examples, job)


def test_shared_demo_data(qwen) -> None:
    if not (SHARED_DATA / "dataset_info.json").is_file():
        pytest.skip(f"LLaMA-Factory demo data not found at {SHARED_DATA}")
    tok, template = qwen
    cfg = load_config(
        [f"dataset_dir={SHARED_DATA}", "dataset=identity,alpaca_en_demo", "max_samples=50", "cutoff_len=256"],
        verb="data",
    )
    out = build_datasets(cfg, tok, template, stage="sft")
    assert out.stats["train"].examples_in == 100 and len(out.train) == out.stats["train"].examples_out
    assert all(len(r) <= 256 for r in out.train["input_ids"])
