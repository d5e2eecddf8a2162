"""What loading a dataset produces: typed examples that remember the record they came from.

One kind of example per training stage family: plain text for pre-training, a conversation for
supervised fine-tuning, a chosen/rejected pair for preference stages (rm, dpo, orpo, simpo), a
conversation with a desirable/undesirable label for KTO, and a prompt (with an optional reference answer
and the record's columns) for online RL (grpo, ppo). None of them is tokenized yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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


@dataclass(frozen=True)
class PromptOnlyExample:
    """An online-RL prompt (grpo, ppo): the conversation ends on the user side (a user turn or tool
    results), so the model answers it; ``reference`` is the dataset's answer when it has one (the final
    assistant turn, alpaca's response, a ranking record's chosen answer), and ``columns`` is the whole
    record, handed to reward functions as keyword arguments."""

    conversation: Conversation
    source: RecordRef
    reference: str | None = None
    columns: Mapping[str, Any] = field(default_factory=dict)


Example = TextExample | ConversationExample | PairExample | FeedbackExample | PromptOnlyExample
