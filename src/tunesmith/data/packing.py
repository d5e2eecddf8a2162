"""Packing: several examples (or documents) in one sequence of at most ``cutoff_len`` tokens.

A packed sequence carries ``seq_lens`` (its examples' lengths, in order) and ``position_ids`` that
restart at 0 for every example. The restart is what keeps examples apart: transformers (5.x) turns
restarting ``position_ids`` into a block-diagonal causal mask when no 2D ``attention_mask`` is
given (``masking_utils.find_packed_sequence_indices``), and flash-attention uses them for its
variable-length kernel; see :mod:`~tunesmith.data.collator` for the batch side.

The first label of every packed example is ``IGNORE_INDEX``: with the usual one-token shift it
would be predicted from the previous example's last token; run alone, the first token is never a
target either, so packed and unpacked losses agree.

* Supervised examples: **best-fit decreasing** (longest first; each goes into the fullest sequence
  that still has room, ties to the earliest; a new sequence when none has). Deterministic.
* Pre-training documents: concatenated in order and cut into blocks of ``cutoff_len`` (a document
  that crosses a block boundary continues in the next block as a new segment). The last, shorter
  block is kept (LLaMA-Factory drops it).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Sequence
from dataclasses import dataclass

from tunesmith.templates.encode import IGNORE_INDEX

__all__ = [
    "PackedSequence",
    "chunk_documents",
    "pack_lengths",
    "pack_supervised",
    "position_ids_for",
]


@dataclass(frozen=True)
class PackedSequence:
    input_ids: list[int]
    labels: list[int]
    position_ids: list[int]
    seq_lens: list[int]
    """Lengths of the segments (examples or document pieces), in order; they sum to the length."""


def position_ids_for(seq_lens: Sequence[int]) -> list[int]:
    """``[0..n0), [0..n1), ...`` for segments of lengths ``seq_lens``."""
    return [i for n in seq_lens for i in range(n)]


def _join(segments: Sequence[tuple[Sequence[int], Sequence[int]]]) -> PackedSequence:
    ids: list[int] = []
    labels: list[int] = []
    lens: list[int] = []
    for seg_ids, seg_labels in segments:
        if not seg_ids:
            continue
        ids.extend(seg_ids)
        labels.append(IGNORE_INDEX)
        labels.extend(seg_labels[1:])
        lens.append(len(seg_ids))
    return PackedSequence(ids, labels, position_ids_for(lens), lens)


def pack_lengths(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Indices of ``lengths`` grouped into bins of total ≤ ``capacity`` by best-fit decreasing.

    Within a bin, indices are in ascending order. Raises ``ValueError`` for an item longer than
    ``capacity``.
    """
    if capacity <= 0:
        raise ValueError(f"capacity must be > 0, got {capacity}")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    bins: list[list[int]] = []
    free: list[tuple[int, int]] = []  # (room left, bin index), ascending
    for i in order:
        n = lengths[i]
        if n > capacity:
            raise ValueError(f"item {i} has length {n} > capacity {capacity}")
        k = bisect_left(free, (n, -1))
        if k < len(free):
            room, b = free.pop(k)
        else:
            room, b = capacity, len(bins)
            bins.append([])
        bins[b].append(i)
        insort(free, (room - n, b))
    return [sorted(b) for b in bins]


def pack_supervised(
    examples: Sequence[tuple[Sequence[int], Sequence[int]]], cutoff_len: int
) -> list[PackedSequence]:
    """``(input_ids, labels)`` examples (each ≤ ``cutoff_len``) packed by :func:`pack_lengths`."""
    bins = pack_lengths([len(ids) for ids, _ in examples], cutoff_len)
    return [_join([examples[i] for i in b]) for b in bins]


def chunk_documents(
    documents: Sequence[Sequence[int]], cutoff_len: int, *, concatenate: bool = True
) -> list[PackedSequence]:
    """Pre-training blocks of at most ``cutoff_len`` tokens, labels = ids (first of each segment
    masked). With ``concatenate`` the documents run on across blocks; without, each document is cut
    on its own (every block holds one segment)."""
    if cutoff_len <= 0:
        raise ValueError(f"cutoff_len must be > 0, got {cutoff_len}")
    blocks: list[PackedSequence] = []
    current: list[tuple[Sequence[int], Sequence[int]]] = []
    room = cutoff_len
    for doc in documents:
        start = 0
        while start < len(doc):
            piece = doc[start : start + room]
            current.append((piece, piece))
            start += len(piece)
            room -= len(piece)
            if room == 0 or not concatenate:
                blocks.append(_join(current))
                current, room = [], cutoff_len
    if current:
        blocks.append(_join(current))
    return blocks
