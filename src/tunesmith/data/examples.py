"""What loading a dataset produces: typed examples that remember the record they came from.

One kind of example per training stage family: plain text for pre-training, a conversation for
supervised fine-tuning, a chosen/rejected pair for preference stages (rm, dpo, orpo, simpo), and a
conversation with a desirable/undesirable label for KTO. None of them is tokenized yet.
"""

from __future__ import annotations

from dataclasses import dataclass

from tunesmith.templates.messages import Conversation


@dataclass(frozen=True)
class RecordRef:
    """Where a record came from: the dataset name, the file (or hub id) and the row in it."""

    dataset: str
    file: str
    row: int
    """0-based index of the record within its file (for JSON lines: among the non-blank lines)."""
    line: int | None = None
    """1-based line number, for line-oriented files (JSON lines, text)."""

    def describe(self) -> str:
        where = f"{self.file}, row {self.row}"
        if self.line is not None:
            where += f" (line {self.line})"
        return f"dataset {self.dataset!r}: {where}"


@dataclass(frozen=True)
class TextExample:
    """A pre-training document."""

    text: str
    source: RecordRef


@dataclass(frozen=True)
class ConversationExample:
    """A supervised example: the conversation ends with the assistant turn to learn."""

    conversation: Conversation
    source: RecordRef


@dataclass(frozen=True)
class PairExample:
    """A preference pair: both conversations share the prompt and differ in the last assistant turn."""

    chosen: Conversation
    rejected: Conversation
    source: RecordRef


@dataclass(frozen=True)
class FeedbackExample:
    """A KTO example: the last assistant turn is desirable (``label`` True) or undesirable."""

    conversation: Conversation
    label: bool
    source: RecordRef


Example = TextExample | ConversationExample | PairExample | FeedbackExample
