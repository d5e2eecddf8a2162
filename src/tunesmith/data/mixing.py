"""Mixing several datasets into one list, and splitting off an evaluation set — deterministic by seed.

The interleaving strategies reproduce ``datasets.interleave_datasets``: without probabilities the
datasets take turns (one example each); with probabilities each next example comes from a dataset
drawn at random. ``interleave_under`` stops as soon as one dataset is exhausted
(``first_exhausted``); ``interleave_over`` goes on, restarting the exhausted ones, until every dataset
has been seen in full (``all_exhausted``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Literal, TypeVar

from tunesmith.data.report import DataError

T = TypeVar("T")

MixStrategy = Literal["concat", "interleave_under", "interleave_over"]
MIX_STRATEGIES: tuple[str, ...] = ("concat", "interleave_under", "interleave_over")


def _probabilities(probs: Sequence[float] | None, n: int) -> list[float] | None:
    if probs is None:
        return None
    values = [float(p) for p in probs]
    if len(values) != n:
        raise DataError(f"interleave_probs has {len(values)} values for {n} datasets; give one per dataset")
    if any(p < 0 or math.isnan(p) for p in values) or sum(values) <= 0:
        raise DataError(f"interleave_probs must be non-negative with a positive sum, got {values}")
    total = sum(values)
    return [p / total for p in values]


def mix_datasets(
    datasets: Sequence[Sequence[T]],
    strategy: str = "concat",
    *,
    probabilities: Sequence[float] | None = None,
    seed: int = 42,
) -> list[T]:
    """One list from several, by ``strategy`` (see the module docstring)."""
    if strategy not in MIX_STRATEGIES:
        raise DataError(f"unknown mix_strategy {strategy!r}; expected one of {', '.join(MIX_STRATEGIES)}")
    if strategy == "concat" or len(datasets) <= 1:
        return [item for dataset in datasets for item in dataset]
    lengths = [len(d) for d in datasets]
    if min(lengths) == 0:
        empty = [i for i, n in enumerate(lengths) if n == 0]
        raise DataError(f"cannot interleave: dataset(s) at position {empty} have no examples")
    oversample = strategy == "interleave_over"
    probs = _probabilities(probabilities, len(datasets))
    if probs is None:
        rounds = max(lengths) if oversample else min(lengths)
        return [datasets[j][i % lengths[j]] for i in range(rounds) for j in range(len(datasets))]

    rng = random.Random(seed)
    exhausted = [False] * len(datasets)
    position = [0] * len(datasets)
    out: list[T] = []
    sources = range(len(datasets))
    while not (all(exhausted) if oversample else any(exhausted)):
        j = rng.choices(sources, weights=probs)[0]
        out.append(datasets[j][position[j]])
        position[j] += 1
        if position[j] >= lengths[j]:
            exhausted[j] = True
            position[j] = 0
    return out


def split_train_eval(examples: Sequence[T], val_size: float | int, seed: int = 42) -> tuple[list[T], list[T]]:
    """Shuffle (seeded) and split off an evaluation set: ``val_size`` < 1 is a fraction (rounded up, as
    ``datasets.train_test_split``), otherwise a count. ``val_size`` 0 gives no evaluation set."""
    n = len(examples)
    if isinstance(val_size, bool) or not isinstance(val_size, (int, float)) or val_size < 0:
        raise DataError(f"val_size must be a non-negative fraction or count, got {val_size!r}")
    if val_size < 1:
        n_eval = math.ceil(val_size * n)
    else:
        if float(val_size) != int(val_size):
            raise DataError(f"val_size {val_size} is ≥ 1, so it is a count, and must be a whole number")
        n_eval = int(val_size)
    if n_eval == 0:
        return list(examples), []
    if n_eval >= n:
        raise DataError(f"val_size {val_size} leaves no training examples out of {n}")
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return [examples[i] for i in order[n_eval:]], [examples[i] for i in order[:n_eval]]
