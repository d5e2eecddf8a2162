"""Malformed records: reported with file, row and reason; skipped or fatal by policy; never silent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tunesmith.data import BadRecord, DataError, Reason, load_conversations

GOOD = {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}
WRONG_ORDER = {"conversations": [{"from": "gpt", "value": "hello"}, {"from": "human", "value": "hi"}]}
EMPTY_TURN = {"conversations": [{"from": "human", "value": "   "}, {"from": "gpt", "value": "hello"}]}
NON_STRING = {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": 42}]}


def write_dataset(tmp_path: Path, lines: list[str], name: str = "broken") -> Path:
    (tmp_path / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    info = {name: {"file_name": f"{name}.jsonl", "formatting": "sharegpt"}}
    (tmp_path / "dataset_info.json").write_text(json.dumps(info), encoding="utf-8")
    return tmp_path


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    lines = [
        json.dumps(GOOD),  # row 0, line 1
        json.dumps(WRONG_ORDER),  # row 1, line 2
        json.dumps(GOOD),  # row 2, line 3
        "",  # blank line: not a record
        json.dumps(EMPTY_TURN),  # row 3, line 5
        '{"conversations": [{"from": "human", "value": "hi"}',  # row 4, line 6: bad JSON
        json.dumps(NON_STRING),  # row 5, line 7
        json.dumps(GOOD),  # row 6, line 8
    ]
    return write_dataset(tmp_path, lines)


def test_skip_reports_exactly_the_broken_rows(broken: Path) -> None:
    loaded = load_conversations(["broken"], str(broken))
    assert [e.source.row for e in loaded.examples] == [0, 2, 6]
    assert [e.source.line for e in loaded.examples] == [1, 3, 8]
    report = loaded.report
    file = str(broken / "broken.jsonl")
    assert [(b.dataset, b.file, b.row, b.line, b.reason) for b in report.examples] == [
        ("broken", file, 1, 2, Reason.WRONG_ROLE_ORDER),
        ("broken", file, 3, 5, Reason.EMPTY_TURN),
        ("broken", file, 4, 6, Reason.BAD_JSON),
        ("broken", file, 5, 7, Reason.NON_STRING_CONTENT),
    ]
    assert report.total == 4
    assert report.records_read == 7
    assert report.by_reason() == {
        "wrong role order": 1,
        "empty turn": 1,
        "bad JSON": 1,
        "non-string content": 1,
    }
    summary = report.summary()
    assert summary.startswith("4 of 7 records skipped")
    for row, line, reason in [(1, 2, "wrong role order"), (3, 5, "empty turn"), (4, 6, "bad JSON")]:
        assert f"{file}, row {row} (line {line}): {reason}" in summary
    assert "conversations[0] has from='gpt' where a user or observation turn is expected" in summary
    assert "conversations[1] (from='gpt'): expected a string, got int" in summary


def test_skip_logs_the_summary(broken: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="tunesmith.data"):
        load_conversations(["broken"], str(broken))
    assert "4 of 7 records skipped" in caplog.text
    assert "row 3 (line 5): empty turn" in caplog.text


def test_error_policy_raises_at_first_bad_row(broken: Path) -> None:
    with pytest.raises(DataError) as info:
        load_conversations(["broken"], str(broken), on_bad_record="error")
    message = str(info.value)
    assert f"{broken / 'broken.jsonl'}, row 1 (line 2): wrong role order" in message
    assert "row 3" not in message


def test_error_policy_on_bad_json_line(tmp_path: Path) -> None:
    root = write_dataset(tmp_path, [json.dumps(GOOD), "{not json", json.dumps(GOOD)])
    with pytest.raises(DataError, match=r"row 1 \(line 2\): bad JSON"):
        load_conversations(["broken"], str(root), on_bad_record="error")


def test_all_bad_lists_the_rows(tmp_path: Path) -> None:
    root = write_dataset(
        tmp_path, [json.dumps(WRONG_ORDER), json.dumps(EMPTY_TURN), "[1, 2", json.dumps(NON_STRING)]
    )
    with pytest.raises(DataError) as info:
        load_conversations(["broken"], str(root))
    message = str(info.value)
    assert "none of its 4 records is usable" in message
    assert "no valid samples" not in message
    for row, reason in [
        (0, "wrong role order"),
        (1, "empty turn"),
        (2, "bad JSON"),
        (3, "non-string content"),
    ]:
        assert f"row {row} (line {row + 1}): {reason}" in message


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    root = write_dataset(tmp_path, [""])
    with pytest.raises(DataError, match="has no records"):
        load_conversations(["broken"], str(root))


@pytest.mark.parametrize(
    ("record", "reason", "detail"),
    [
        ({"other": []}, Reason.MISSING_COLUMN, "column 'conversations' is missing"),
        ({"conversations": "hi"}, Reason.INVALID_VALUE, "expected a list of messages"),
        ({"conversations": []}, Reason.WRONG_ROLE_ORDER, "no turns"),
        (
            {"conversations": [{"from": "human", "value": "hi"}]},
            Reason.WRONG_ROLE_ORDER,
            "must end with an assistant",
        ),
        (
            {"conversations": [{"from": "human", "value": "hi"}, {"from": "bot", "value": "x"}]},
            Reason.UNKNOWN_ROLE,
            "from='bot'",
        ),
        (
            {
                "conversations": [
                    {"from": "human", "value": "hi"},
                    {"from": "function_call", "value": "{oops"},
                ]
            },
            Reason.INVALID_FUNCTION_CALL,
            "not valid JSON",
        ),
        (
            {
                "conversations": [
                    {"from": "human", "value": "hi"},
                    {"from": "function_call", "value": '{"x": 1}'},
                ]
            },
            Reason.INVALID_FUNCTION_CALL,
            "needs a function 'name'",
        ),
        (
            {
                "conversations": [
                    {"from": "human", "value": "hi"},
                    {"from": "system", "value": "late"},
                ]
            },
            Reason.WRONG_ROLE_ORDER,
            "a system turn may only come first",
        ),
        (
            {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": ""}]},
            Reason.EMPTY_TURN,
            "conversations[1] (from='gpt') is empty",
        ),
        (["not", "an", "object"], Reason.NOT_AN_OBJECT, "got list"),
    ],
)
def test_reasons(tmp_path: Path, record: object, reason: Reason, detail: str) -> None:
    root = write_dataset(tmp_path, [json.dumps(GOOD), json.dumps(record)])
    loaded = load_conversations(["broken"], str(root))
    assert len(loaded.examples) == 1
    (bad,) = loaded.report.examples
    assert isinstance(bad, BadRecord)
    assert (bad.row, bad.reason) == (1, reason)
    assert detail in bad.detail


def test_report_keeps_first_n_examples_but_counts_all(tmp_path: Path) -> None:
    lines = [json.dumps(GOOD)] + [json.dumps(EMPTY_TURN)] * 30
    root = write_dataset(tmp_path, lines)
    loaded = load_conversations(["broken"], str(root), max_bad_examples=5)
    assert loaded.report.total == 30
    assert len(loaded.report.examples) == 5
    assert "… and 25 more" in loaded.report.summary(limit=5)
