"""Bad records: what was wrong, where, and how many — reported, never silently dropped."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from tunesmith.data.examples import RecordRef


class DataError(ValueError):
    """The data cannot be used as asked; the message names the dataset, file, row and reason."""


class Reason(str, Enum):
    """Why a record was rejected (the key records are counted under)."""

    BAD_JSON = "bad JSON"
    NOT_AN_OBJECT = "not a JSON object"
    MISSING_COLUMN = "missing column"
    WRONG_ROLE_ORDER = "wrong role order"
    UNKNOWN_ROLE = "unknown role"
    EMPTY_TURN = "empty turn"
    NON_STRING_CONTENT = "non-string content"
    INVALID_FUNCTION_CALL = "invalid function call"
    INVALID_TOOLS = "invalid tools"
    INVALID_VALUE = "invalid value"
    MISSING_MEDIA = "missing media file"
    MEDIA_MISMATCH = "media placeholder mismatch"

    def __str__(self) -> str:
        return self.value


class RecordError(Exception):
    """Raised by converters for one malformed record; the loader turns it into a :class:`BadRecord`."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class BadRecord:
    """One record that could not be used."""

    dataset: str
    file: str
    row: int
    reason: Reason
    detail: str = ""
    line: int | None = None

    @classmethod
    def at(cls, ref: RecordRef, reason: Reason, detail: str = "") -> BadRecord:
        return cls(ref.dataset, ref.file, ref.row, reason, detail, ref.line)

    def describe(self) -> str:
        where = f"{self.file}, row {self.row}"
        if self.line is not None:
            where += f" (line {self.line})"
        text = f"dataset {self.dataset!r}: {where}: {self.reason.value}"
        return f"{text} — {self.detail}" if self.detail else text


@dataclass
class BadRecordReport:
    """Counts of bad records by reason, plus the first ``max_examples`` of them.

    A report is owned by one loading call; :meth:`add` and :meth:`merge` accumulate into it.
    """

    max_examples: int = 20
    counts: Counter[Reason] = field(default_factory=Counter)
    examples: list[BadRecord] = field(default_factory=list)
    records_read: int = 0
    """Records seen (good and bad), for the "N of M" line of the summary."""

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def __len__(self) -> int:
        return self.total

    def __bool__(self) -> bool:
        return self.total > 0

    def add(self, bad: BadRecord) -> None:
        self.counts[bad.reason] += 1
        if len(self.examples) < self.max_examples:
            self.examples.append(bad)

    def extend(self, bads: Iterable[BadRecord]) -> None:
        for bad in bads:
            self.add(bad)

    def merge(self, other: BadRecordReport) -> None:
        self.counts.update(other.counts)
        self.records_read += other.records_read
        room = self.max_examples - len(self.examples)
        if room > 0:
            self.examples.extend(other.examples[:room])

    def by_reason(self) -> dict[str, int]:
        """``{reason: count}``, most frequent first."""
        return {reason.value: n for reason, n in self.counts.most_common()}

    def summary(self, limit: int = 10) -> str:
        """A few lines for the log: totals by reason, then the first bad records (file, row, reason)."""
        if not self.total:
            return "no bad records"
        of = f" of {self.records_read}" if self.records_read else ""
        reasons = ", ".join(f"{reason}: {n}" for reason, n in self.by_reason().items())
        lines = [f"{self.total}{of} records skipped ({reasons})"]
        shown = self.examples[:limit]
        lines.extend(f"  {bad.describe()}" for bad in shown)
        hidden = self.total - len(shown)
        if hidden > 0:
            lines.append(f"  … and {hidden} more")
        return "\n".join(lines)


def describe_failures(bads: Iterable[BadRecord], limit: int = 10) -> str:
    """Bullet lines naming the first ``limit`` bad records (for error messages)."""
    items = list(bads)
    lines = [f"  {bad.describe()}" for bad in items[:limit]]
    if len(items) > limit:
        lines.append(f"  … and {len(items) - limit} more")
    return "\n".join(lines)
