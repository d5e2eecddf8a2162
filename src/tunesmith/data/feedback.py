"""KTO encoder and the mismatched pairs of its KL term.

:func:`encode_feedback` encodes a :class:`~tunesmith.data.FeedbackExample`'s conversation exactly as
the pairwise encoder does one side of a pair (:func:`~tunesmith.data.pairwise.encode_shared_prompt`:
labels only on the final assistant message, the sft truncation rule with the final turn first), and
keeps the label (True = desirable) and where the prompt ends.

KTO's reference point :math:`z_0` estimates :math:`\\mathrm{KL}(\\pi\\|\\pi_{ref})` on completions
that do NOT answer their prompt (Ethayarajh et al. 2024): :func:`mismatched_pairs` pairs
prompt *i* with completion *(i + offset) mod n* of the same batch (default offset 1: the next
example's completion; trl 1.x rotates the other way, offset -1; any rotation uses every completion
of the batch exactly once). A batch of one example has no mismatched completion: its "KL pair" is
the example itself (as in trl), so use batches of at least 2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tunesmith.data.encode import Dropped, SupervisedExample
from tunesmith.data.pairwise import encode_shared_prompt
from tunesmith.templates.base import ChatTemplate, RenderOptions
from tunesmith.templates.encode import IGNORE_INDEX
from tunesmith.templates.messages import Conversation

__all__ = ["EncodedFeedback", "encode_feedback", "feedback_columns", "mismatched_pairs"]


@dataclass(frozen=True)
class EncodedFeedback:
    """A KTO example: prompt + completion (the completion starts at ``prompt_len``)."""

    example: SupervisedExample
    label: bool
    """True: desirable."""
    prompt_len: int

    @property
    def truncated(self) -> bool:
        return self.example.truncated


def encode_feedback(
    conversation: Conversation,
    label: bool,
    template: ChatTemplate,
    tokenizer: Any,
    *,
    cutoff_len: int,
    render_options: RenderOptions | None = None,
) -> EncodedFeedback | Dropped:
    """A KTO example's ids, labels (final assistant message only) and desirability label."""
    shared = encode_shared_prompt(
        [conversation], template, tokenizer, cutoff_len=cutoff_len, render_options=render_options
    )
    if isinstance(shared, Dropped):
        return shared
    return EncodedFeedback(shared.example(0), bool(label), len(shared.prompt_ids))


def feedback_columns(examples: Sequence[EncodedFeedback]) -> dict[str, list[Any]]:
    """Dataset columns for :class:`~tunesmith.data.pref_collator.FeedbackCollator`."""
    return {
        "input_ids": [e.example.input_ids for e in examples],
        "labels": [e.example.labels for e in examples],
        "prompt_len": [e.prompt_len for e in examples],
        "kto_label": [e.label for e in examples],
    }


def mismatched_pairs(
    features: Sequence[Mapping[str, Any]], *, offset: int = 1, max_length: int | None = None
) -> list[dict[str, list[int]]]:
    """KL sequences: prompt *i* + completion *(i + offset) mod n*, labels on the completion only.

    ``features`` have ``input_ids``, ``labels`` and ``prompt_len``. With ``max_length``, a sequence
    longer than it keeps its whole prompt and the head of the completion (prompts are at most
    ``cutoff_len - 1`` tokens, so a completion token always fits when ``max_length >= cutoff_len``);
    without it, a KL sequence is at most two examples long.
    """
    n = len(features)
    out: list[dict[str, list[int]]] = []
    for i, feature in enumerate(features):
        other = features[(i + offset) % n]
        p, q = int(feature["prompt_len"]), int(other["prompt_len"])
        prompt = list(feature["input_ids"][:p])
        completion = list(other["input_ids"][q:])
        completion_labels = list(other["labels"][q:])
        if max_length is not None and p + len(completion) > max_length:
            keep = max(max_length - p, 0)
            completion, completion_labels = completion[:keep], completion_labels[:keep]
        out.append({"input_ids": prompt + completion, "labels": [IGNORE_INDEX] * p + completion_labels})
    return out
