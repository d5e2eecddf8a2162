"""Local file types, folders, sampling, and hub failures that say how to get the data offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tunesmith.data import DataError, load_conversations
from tunesmith.data.info import parse_dataset_attr
from tunesmith.data.report import Reason
from tunesmith.data.sources import read_dataset, read_file, sample_records

ROWS = [{"instruction": f"q{i}", "input": "", "output": f"a{i}"} for i in range(5)]


def setup(tmp_path: Path, file_name: str, **entry: object) -> Path:
    info = {"d": {"file_name": file_name, **entry}}
    (tmp_path / "dataset_info.json").write_text(json.dumps(info), encoding="utf-8")
    return tmp_path


def answers(root: Path, **kwargs: object) -> list[str]:
    loaded = load_conversations(["d"], str(root), **kwargs)  # type: ignore[arg-type]
    return [e.conversation.messages[-1].content for e in loaded.examples]


def test_json_list_and_json_lines(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(ROWS), encoding="utf-8")
    assert answers(setup(tmp_path, "a.json")) == ["a0", "a1", "a2", "a3", "a4"]
    (tmp_path / "b.json").write_text("\n".join(json.dumps(r) for r in ROWS), encoding="utf-8")
    assert answers(setup(tmp_path, "b.json")) == ["a0", "a1", "a2", "a3", "a4"]
    (tmp_path / "c.jsonl").write_text("\n".join(json.dumps(r) for r in ROWS), encoding="utf-8")
    assert answers(setup(tmp_path, "c.jsonl")) == ["a0", "a1", "a2", "a3", "a4"]


def test_broken_json_list_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('[{"instruction": "q", "output": "a"},', encoding="utf-8")
    with pytest.raises(DataError, match=r"a\.json is not valid JSON \(line 1"):
        load_conversations(["d"], str(setup(tmp_path, "a.json")))


def test_csv(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text('instruction,input,output\nq0,,a0\n"q,1",x,"a\n1"\n', encoding="utf-8")
    loaded = load_conversations(["d"], str(setup(tmp_path, "a.csv")))
    assert [m.content for m in loaded.examples[1].conversation.messages] == ["q,1\nx", "a\n1"]
    assert loaded.examples[1].source.row == 1


def test_parquet_and_arrow(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(ROWS)
    pq.write_table(table, tmp_path / "a.parquet")
    assert answers(setup(tmp_path, "a.parquet")) == ["a0", "a1", "a2", "a3", "a4"]
    with pa.OSFile(str(tmp_path / "s.arrow"), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    assert answers(setup(tmp_path, "s.arrow")) == ["a0", "a1", "a2", "a3", "a4"]
    with pa.OSFile(str(tmp_path / "f.arrow"), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    assert answers(setup(tmp_path, "f.arrow")) == ["a0", "a1", "a2", "a3", "a4"]


def test_text_file(tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_text("first doc\n\nsecond doc\n", encoding="utf-8")
    records = read_file(tmp_path / "t.txt", "d").records
    assert [(r.data, r.ref.row, r.ref.line) for r in records] == [
        ({"text": "first doc"}, 0, 1),
        ({"text": "second doc"}, 1, 3),
    ]


def test_folder(tmp_path: Path) -> None:
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "0.json").write_text(json.dumps(ROWS[:2]), encoding="utf-8")
    (folder / "1.jsonl").write_text("\n".join(json.dumps(r) for r in ROWS[2:]), encoding="utf-8")
    (folder / "README.md").write_text("# not data", encoding="utf-8")
    (folder / ".hidden.json").write_text("garbage", encoding="utf-8")
    loaded = load_conversations(["d"], str(setup(tmp_path, "parts")))
    assert [e.conversation.messages[-1].content for e in loaded.examples] == ["a0", "a1", "a2", "a3", "a4"]
    assert {Path(e.source.file).name for e in loaded.examples} == {"0.json", "1.jsonl"}


def test_missing_file_and_unsupported_type(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file_name 'nope.json' not found"):
        load_conversations(["d"], str(setup(tmp_path, "nope.json")))
    (tmp_path / "a.xml").write_text("<a/>", encoding="utf-8")
    with pytest.raises(DataError, match="unsupported file type '.xml'"):
        load_conversations(["d"], str(setup(tmp_path, "a.xml")))


def test_non_object_rows(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps([ROWS[0], "text", ROWS[1]]), encoding="utf-8")
    loaded = load_conversations(["d"], str(setup(tmp_path, "a.json")))
    assert len(loaded.examples) == 2
    assert [(b.row, b.reason) for b in loaded.report.examples] == [(1, Reason.NOT_AN_OBJECT)]


def test_max_samples_and_num_samples(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(ROWS), encoding="utf-8")
    assert answers(setup(tmp_path, "a.json"), max_samples=2) == ["a0", "a1"]
    root = setup(tmp_path, "a.json", num_samples=3)
    picked = answers(root, seed=1)
    assert len(picked) == 3 and len(set(picked)) == 3
    assert answers(root, seed=1) == picked  # deterministic
    oversampled = answers(setup(tmp_path, "a.json", num_samples=12), seed=1)
    assert len(oversampled) == 12 and set(oversampled) == {"a0", "a1", "a2", "a3", "a4"}
    assert answers(setup(tmp_path, "a.json", num_samples=12), max_samples=4, seed=1) == oversampled[:4]


def test_sample_records_differs_by_seed(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(ROWS * 20), encoding="utf-8")
    records = read_file(tmp_path / "a.json", "d").records
    assert [r.ref.row for r in sample_records(records, 10, 1)] != [
        r.ref.row for r in sample_records(records, 10, 2)
    ]
    assert sample_records([], 3, 0) == []


def test_hub_offline_error_says_how_to_download(tmp_path: Path) -> None:
    attr = parse_dataset_attr("alpaca_en", {"hf_hub_url": "llamafactory/alpaca_en", "subset": "en"})

    def offline(attr, cache_dir):
        raise ConnectionError("Couldn't reach 'llamafactory/alpaca_en' on the Hub (LocalEntryNotFoundError)")

    with pytest.raises(DataError) as info:
        read_dataset(attr, tmp_path, hub_loader=offline)
    message = str(info.value)
    assert "dataset 'alpaca_en' needs network access" in message
    assert "load_dataset('llamafactory/alpaca_en', name='en', split='train')" in message
    assert str(tmp_path / "alpaca_en.jsonl") in message
    assert '"file_name": "alpaca_en.jsonl"' in message


def test_hub_rows_become_records(tmp_path: Path) -> None:
    attr = parse_dataset_attr("d", {"hf_hub_url": "org/d"})
    source = read_dataset(attr, tmp_path, hub_loader=lambda attr, cache_dir: ROWS)
    assert [r.ref.file for r in source.records[:1]] == ["hf_hub:org/d[train]"]
    assert len(source.records) == 5


def test_hub_other_failure(tmp_path: Path) -> None:
    attr = parse_dataset_attr("d", {"hf_hub_url": "org/d"})

    def broken(attr, cache_dir):
        raise ValueError("split 'train' not found")

    with pytest.raises(DataError, match=r"loading the Hugging Face Hub dataset 'org/d' failed \(ValueError"):
        read_dataset(attr, tmp_path, hub_loader=broken)
