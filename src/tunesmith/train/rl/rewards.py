"""Reward functions for GRPO/PPO: builtins and user functions, with trl's signature.

A reward function is called as ``fn(prompts, completions, **columns) -> list[float]`` (trl's
convention): ``prompts`` are the rendered prompt texts, ``completions`` the sampled completion texts
(end-of-turn marker cut off), and every dataset column of the records comes as a keyword argument
holding one value per completion (plus ``label``: the dataset's final assistant turn, if any). A
function may return ``None`` for a completion it does not score (counted as 0).

A spec (``grpo_reward_funcs``) is one of:

* a builtin name, optionally with one argument after a colon (builtins win over modules of the same
  name):

  ==================  ======================================================================
  ``exact_match``     1 if the completion, stripped, equals the reference answer, else 0
  ``contains``        1 if the reference answer occurs in the completion, else 0
  ``regex_match:RE``  1 if the first group (else the whole match) of ``RE`` searched in the
                      completion equals the reference answer, else 0
  ``format:RE``       1 if the whole completion matches ``RE`` (``re.DOTALL``), else 0;
                      default ``<think>.*?</think>\\s*<answer>.*?</answer>``
  ``length:N``        ``max(0, 1 - |len(completion) - N| / N)`` in characters (default N = 200)
  ==================  ======================================================================

  The reference answer is the column named by ``answer_column`` (``exact_match:COL``,
  ``contains:COL``), default ``answer``, else ``solution``, else ``label``.
* ``package.module:function`` — imported from the Python path;
* ``path/to/file.py:function`` — loaded from that file (relative to the working directory).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "BUILTIN_REWARDS",
    "RewardFunc",
    "RewardError",
    "load_reward_func",
    "load_reward_funcs",
    "score",
]

RewardFunc = Callable[..., Sequence[float | None]]
ANSWER_COLUMNS: tuple[str, ...] = ("answer", "solution", "label")
DEFAULT_FORMAT = r"<think>.*?</think>\s*<answer>.*?</answer>"


class RewardError(ValueError):
    """A reward spec that cannot be loaded, or a reward function that misbehaves."""


def _references(n: int, kwargs: Mapping[str, Any], column: str | None) -> list[str | None]:
    columns = (column,) if column else ANSWER_COLUMNS
    for name in columns:
        values = kwargs.get(name)
        if values is not None:
            return [None if v is None else str(v) for v in values]
    if column:
        raise RewardError(f"reward needs the dataset column {column!r}; the data has {sorted(kwargs)}")
    raise RewardError(f"reward needs a reference answer: a column named one of {', '.join(ANSWER_COLUMNS)}")


def exact_match(column: str | None = None) -> RewardFunc:
    def reward(prompts: Sequence[str], completions: Sequence[str], **kwargs: Any) -> list[float]:
        refs = _references(len(completions), kwargs, column)
        return [
            float(r is not None and c.strip() == r.strip()) for c, r in zip(completions, refs, strict=True)
        ]

    return reward


def contains(column: str | None = None) -> RewardFunc:
    def reward(prompts: Sequence[str], completions: Sequence[str], **kwargs: Any) -> list[float]:
        refs = _references(len(completions), kwargs, column)
        return [float(bool(r) and r.strip() in c) for c, r in zip(completions, refs, strict=True)]

    return reward


def regex_match(pattern: str | None = None) -> RewardFunc:
    if not pattern:
        raise RewardError("regex_match needs a pattern: regex_match:PATTERN (its first group is the answer)")
    compiled = _compile(pattern, "regex_match")

    def reward(prompts: Sequence[str], completions: Sequence[str], **kwargs: Any) -> list[float]:
        refs = _references(len(completions), kwargs, None)
        out = []
        for c, r in zip(completions, refs, strict=True):
            m = compiled.search(c)
            found = (m.group(1) if m.groups() else m.group(0)) if m else None
            out.append(float(found is not None and r is not None and found.strip() == r.strip()))
        return out

    return reward


def format_reward(pattern: str | None = None) -> RewardFunc:
    compiled = _compile(pattern or DEFAULT_FORMAT, "format")

    def reward(prompts: Sequence[str], completions: Sequence[str], **kwargs: Any) -> list[float]:
        return [float(compiled.fullmatch(c.strip()) is not None) for c in completions]

    return reward


def length(target: str | None = None) -> RewardFunc:
    try:
        n = int(target) if target else 200
    except ValueError:
        raise RewardError(f"length:{target}: the target length must be an integer") from None
    if n <= 0:
        raise RewardError(f"length:{target}: the target length must be > 0")

    def reward(prompts: Sequence[str], completions: Sequence[str], **kwargs: Any) -> list[float]:
        return [max(0.0, 1.0 - abs(len(c) - n) / n) for c in completions]

    return reward


def _compile(pattern: str, name: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error as exc:
        raise RewardError(f"{name}:{pattern}: not a valid regular expression ({exc})") from None


BUILTIN_REWARDS: Mapping[str, Callable[[str | None], RewardFunc]] = {
    "exact_match": exact_match,
    "contains": contains,
    "regex_match": regex_match,
    "format": format_reward,
    "length": length,
}
"""Builtin reward factories: name → factory of the spec's argument (``None`` when absent)."""


@dataclass(frozen=True)
class NamedReward:
    """A loaded reward function and the name it is logged under."""

    name: str
    func: RewardFunc
    weight: float = 1.0


def load_reward_func(spec: str) -> NamedReward:
    """The reward function a spec names (module docstring); a :class:`RewardError` naming the spec
    when it cannot be loaded."""
    spec = spec.strip()
    if not spec:
        raise RewardError("empty reward function spec")
    head, sep, arg = spec.partition(":")
    if head in BUILTIN_REWARDS:
        return NamedReward(head, BUILTIN_REWARDS[head](arg if sep else None))
    if not sep or not arg:
        raise RewardError(
            f"reward function {spec!r}: not a builtin ({', '.join(BUILTIN_REWARDS)}) and not "
            "'module.path:function' or 'file.py:function'"
        )
    where, name = spec.rsplit(":", 1)
    module = _load_file(where, spec) if where.endswith(".py") else _import_module(where, spec)
    func = getattr(module, name, None)
    if func is None:
        raise RewardError(f"reward function {spec!r}: {where} has no attribute {name!r}")
    if not callable(func):
        raise RewardError(f"reward function {spec!r}: {name!r} is not callable")
    return NamedReward(name, func)


def _import_module(name: str, spec: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise RewardError(f"reward function {spec!r}: cannot import module {name!r} ({exc})") from exc


def _load_file(path: str, spec: str) -> Any:
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise RewardError(f"reward function {spec!r}: file {path!r} not found (looked at {file})")
    module_name = f"tunesmith_reward_{abs(hash(str(file)))}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    loader_spec = importlib.util.spec_from_file_location(module_name, file)
    if loader_spec is None or loader_spec.loader is None:
        raise RewardError(f"reward function {spec!r}: cannot load {file} as a Python module")
    module = importlib.util.module_from_spec(loader_spec)
    try:
        loader_spec.loader.exec_module(module)
    except Exception as exc:  # the user's file: any error while importing it is theirs
        raise RewardError(f"reward function {spec!r}: importing {file} failed: {exc!r}") from exc
    sys.modules[module_name] = module
    return module


def load_reward_funcs(specs: Sequence[str], weights: Sequence[float] = ()) -> list[NamedReward]:
    """Every spec loaded, with its weight (all 1 when ``weights`` is empty)."""
    if weights and len(weights) != len(specs):
        raise RewardError(f"grpo_reward_weights has {len(weights)} values for {len(specs)} reward functions")
    loaded = [load_reward_func(s) for s in specs]
    if weights:
        loaded = [NamedReward(r.name, r.func, float(w)) for r, w in zip(loaded, weights, strict=True)]
    names = [r.name for r in loaded]
    # the log keys must stay apart when two specs share a name
    return [
        NamedReward(f"{r.name}_{i}" if names.count(r.name) > 1 else r.name, r.func, r.weight)
        for i, r in enumerate(loaded)
    ]


def score(
    rewards: Sequence[NamedReward],
    prompts: Sequence[str],
    completions: Sequence[str],
    columns: Mapping[str, Sequence[Any]],
) -> dict[str, list[float]]:
    """Each reward function's scores (``None`` → 0), keyed by name; a wrong-length result is an error
    naming the function."""
    out: dict[str, list[float]] = {}
    for reward in rewards:
        try:
            values = list(reward.func(list(prompts), list(completions), **columns))
        except RewardError:
            raise
        except TypeError as exc:
            raise RewardError(
                f"reward function {reward.name!r} failed: {exc} (expected fn(prompts, completions, **kwargs))"
            ) from exc
        if len(values) != len(completions):
            raise RewardError(
                f"reward function {reward.name!r} returned {len(values)} scores for {len(completions)} completions"
            )
        out[reward.name] = [0.0 if v is None else float(v) for v in values]
    return out
