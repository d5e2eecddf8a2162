"""Truncating an encoded conversation to ``cutoff_len`` tokens, turn by turn, in token space.

Pure functions over token index ranges; nothing here tokenizes.

The encoded sequence is cut into a **prefix** and **turns**:

* the prefix is every token before the first non-system message (BOS, the system message and any
  template preamble);
* turn *k* is the prompt tokens after turn *k-1* up to assistant message *k* (its ``source``, which
  ends with the assistant header) plus that assistant's tokens (its ``target``: the trained content
  and end-of-turn marker, and any untrained tail the template writes after it).

The rule, applied only when the sequence is longer than ``cutoff_len``:

1. The prefix is kept at the start when it takes at most half of ``cutoff_len``; otherwise it is
   treated as the head of the first turn's prompt (and may lose its head like any prompt).
2. Turns are taken in order (last turn first with ``mask_history``, so the trained turn survives)
   while they fit whole in the remaining budget.
3. The first turn that does not fit is cut: the budget is split with LLaMA-Factory's
   :func:`infer_seqlen`; the prompt keeps its TAIL (so the assistant header stays next to its
   response) and the response keeps its HEAD. The header is never separated from its response: if
   the split would keep fewer prompt tokens than the header, the prompt gets the header and the
   response the rest; if not even the header and one response token fit, the turn is dropped.
4. Turns after the cut one (before it, with ``mask_history``) are dropped.

An example left with no trained token is dropped by the caller and counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

__all__ = [
    "Turn",
    "TurnLayout",
    "apply_ranges",
    "infer_seqlen",
    "layout_from_boundaries",
    "plan_truncation",
]


def infer_seqlen(source_len: int, target_len: int, cutoff_len: int) -> tuple[int, int]:
    """LLaMA-Factory's budget rule: how many source and target tokens to keep within ``cutoff_len``.

    A short target (< half the budget) is kept whole; else a short source is kept whole; else the
    budget is shared in proportion to the lengths.
    """
    if target_len * 2 < cutoff_len:
        max_target_len = cutoff_len
    elif source_len * 2 < cutoff_len:
        max_target_len = cutoff_len - source_len
    else:
        max_target_len = int(cutoff_len * (target_len / (source_len + target_len)))
    new_target_len = min(max_target_len, target_len)
    max_source_len = max(cutoff_len - new_target_len, 0)
    new_source_len = min(max_source_len, source_len)
    return new_source_len, new_target_len


@dataclass(frozen=True)
class Turn:
    """Token indices of one turn: source ``[source_start, target_start)`` whose last tokens from
    ``header_start`` are the assistant header, then target ``[target_start, target_end)``."""

    source_start: int
    header_start: int
    target_start: int
    target_end: int

    @property
    def source_len(self) -> int:
        return self.target_start - self.source_start

    @property
    def header_len(self) -> int:
        return self.target_start - self.header_start

    @property
    def target_len(self) -> int:
        return self.target_end - self.target_start


@dataclass(frozen=True)
class TurnLayout:
    """A sequence of ``length`` tokens as a prefix ``[0, prefix_len)`` and consecutive turns.

    Tokens after the last turn (none when the layout comes from :func:`layout_from_boundaries`)
    are treated as part of it.
    """

    length: int
    prefix_len: int
    turns: tuple[Turn, ...]


def plan_truncation(layout: TurnLayout, cutoff_len: int, *, last_turn_first: bool = False) -> list[range]:
    """The token ranges to keep (ascending, non-overlapping) so that at most ``cutoff_len`` remain.

    See the module docstring for the rule. A layout that fits is kept whole.
    """
    if cutoff_len <= 0:
        raise ValueError(f"cutoff_len must be > 0, got {cutoff_len}")
    if layout.length <= cutoff_len:
        return [range(0, layout.length)]
    turns = list(layout.turns)
    if not turns:  # nothing to align on: keep the head
        return [range(0, cutoff_len)]
    kept: list[range] = []
    budget = cutoff_len
    if layout.prefix_len * 2 <= cutoff_len:
        if layout.prefix_len:
            kept.append(range(0, layout.prefix_len))
        budget -= layout.prefix_len
    else:  # a huge system prompt is just the head of the first prompt
        first = turns[0]
        turns[0] = Turn(0, first.header_start, first.target_start, first.target_end)
    order = reversed(turns) if last_turn_first else iter(turns)
    for turn in order:
        if turn.source_len + turn.target_len <= budget:
            kept.append(range(turn.source_start, turn.target_end))
            budget -= turn.source_len + turn.target_len
            continue
        header = min(turn.header_len, turn.source_len)
        if budget >= header + 1 and turn.target_len > 0:
            source, target = infer_seqlen(turn.source_len, turn.target_len, budget)
            if source < header:
                source = header
                target = min(turn.target_len, budget - header)
            kept.append(range(turn.target_start - source, turn.target_start + target))
        break
    return sorted(kept, key=lambda r: r.start)


def apply_ranges(values: Sequence[T], ranges: Sequence[range]) -> list[T]:
    """``values`` restricted to ``ranges`` (in their order)."""
    return [values[i] for r in ranges for i in r]


def layout_from_boundaries(
    length: int, prefix_len: int, assistants: Sequence[tuple[int, int, int]]
) -> TurnLayout:
    """A layout from ``(header_start, target_start, target_end)`` token indices of each assistant
    message (ascending). Tokens between one target's end and the next header belong to the next
    turn's source; tokens after the last target are added to the last target."""
    turns: list[Turn] = []
    start = prefix_len
    for k, (header_start, target_start, target_end) in enumerate(assistants):
        end = length if k == len(assistants) - 1 else target_end
        header_start = max(header_start, start)
        turns.append(Turn(start, header_start, max(target_start, header_start), end))
        start = end
    return TurnLayout(length, prefix_len, tuple(turns))
