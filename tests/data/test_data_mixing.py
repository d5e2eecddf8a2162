"""Mixing strategies (as datasets.interleave_datasets) and the train/eval split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tunesmith.data import DataError, load_conversations, mix_datasets, split_train_eval

A = ["a0", "a1", "a2"]
B = ["b0", "b1", "b2", "b3", "b4"]


def test_concat() -> None:
    assert mix_datasets([A, B], "concat") == A + B


def test_round_robin_under_and_over() -> None:
    # the same orders as datasets.interleave_datasets without probabilities
    assert mix_datasets([A, B], "interleave_under") == ["a0", "b0", "a1", "b1", "a2", "b2"]
    assert mix_datasets([A, B], "interleave_over") == [
        "a0", "b0", "a1", "b1", "a2", "b2", "a0", "b3", "a1", "b4",
    ]  # fmt: skip


def test_probabilities_under_stops_at_first_exhausted() -> None:
    mixed = mix_datasets([A, B], "interleave_under", probabilities=[0.5, 0.5], seed=3)
    assert mixed == mix_datasets([A, B], "interleave_under", probabilities=[0.5, 0.5], seed=3)
    last = mixed[-1]
    source = A if last.startswith("a") else B
    assert last == source[-1]  # the draw that exhausted a dataset is the last one
    assert mixed.count(last) == 1
    assert sum(x.startswith("a") for x in mixed) <= len(A) and sum(x.startswith("b") for x in mixed) <= len(B)


def test_probabilities_over_sees_everything() -> None:
    mixed = mix_datasets([A, B], "interleave_over", probabilities=[0.2, 0.8], seed=0)
    assert set(mixed) == set(A + B)
    assert mixed != mix_datasets([A, B], "interleave_over", probabilities=[0.2, 0.8], seed=1)
    heavy = mix_datasets([A, B], "interleave_over", probabilities=[0.9, 0.1], seed=0)
    assert sum(x.startswith("a") for x in heavy) > sum(x.startswith("b") for x in heavy)


def test_mixing_errors() -> None:
    with pytest.raises(DataError, match="unknown mix_strategy"):
        mix_datasets([A, B], "zip")
    with pytest.raises(DataError, match="one per dataset"):
        mix_datasets([A, B], "interleave_under", probabilities=[1.0])
    with pytest.raises(DataError, match="non-negative"):
        mix_datasets([A, B], "interleave_under", probabilities=[-1, 2])


def test_load_conversations_mixes(tmp_path: Path) -> None:
    info = {}
    for name, n in (("small", 3), ("big", 5)):
        rows = [{"instruction": f"{name}{i}", "output": "x"} for i in range(n)]
        (tmp_path / f"{name}.json").write_text(json.dumps(rows), encoding="utf-8")
        info[name] = {"file_name": f"{name}.json"}
    (tmp_path / "dataset_info.json").write_text(json.dumps(info), encoding="utf-8")

    def load(**kwargs: object) -> list[str]:
        loaded = load_conversations(["small", "big"], str(tmp_path), **kwargs)  # type: ignore[arg-type]
        return [e.conversation.messages[0].content for e in loaded.examples]

    assert len(load()) == 8
    assert load(mix_strategy="interleave_under") == ["small0", "big0", "small1", "big1", "small2", "big2"]
    assert len(load(mix_strategy="interleave_over")) == 10
    over = load(mix_strategy="interleave_over", interleave_probs=[0.5, 0.5], seed=7)
    assert over == load(mix_strategy="interleave_over", interleave_probs=[0.5, 0.5], seed=7)
    assert {f"small{i}" for i in range(3)} | {f"big{i}" for i in range(5)} == set(over)
    assert len(load(max_samples=2)) == 4
    with pytest.raises(DataError, match="unknown mix_strategy"):
        load(mix_strategy="shuffle")


@pytest.mark.parametrize(("val_size", "n_eval"), [(0.1, 10), (0.25, 25), (0.015, 2), (7, 7), (1, 1), (0, 0)])
def test_split_sizes(val_size: float, n_eval: int) -> None:
    items = list(range(100))
    train, evaluation = split_train_eval(items, val_size, seed=0)
    assert (len(train), len(evaluation)) == (100 - n_eval, n_eval)
    assert sorted(train + evaluation) == items


def test_split_is_deterministic() -> None:
    items = list(range(50))
    assert split_train_eval(items, 0.2, seed=5) == split_train_eval(items, 0.2, seed=5)
    assert split_train_eval(items, 0.2, seed=5)[1] != split_train_eval(items, 0.2, seed=6)[1]


@pytest.mark.parametrize("val_size", [100, 150, -0.1, 2.5])
def test_split_errors(val_size: float) -> None:
    with pytest.raises(DataError):
        split_train_eval(list(range(100)), val_size)
