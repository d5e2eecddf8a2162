"""Encoders: typed examples → token ids and labels, one rendering and one tokenization each.

* :func:`encode_supervised` (sft): render the whole conversation with the template, tokenize the
  text ONCE with :func:`~tunesmith.templates.encode_rendered` (labels from the template's trainable
  spans), then truncate to ``cutoff_len`` turn by turn (:mod:`~tunesmith.data.truncation`).
* :func:`encode_unsupervised` (predict): the prompt is the conversation without its final assistant
  message, rendered with the generation prompt, exactly as chat and serve render it; the label is
  the final assistant's text.
* :func:`tokenize_document` (pt): a text's ids plus EOS; :mod:`~tunesmith.data.packing` chunks them.

An example that cannot be used comes back as :class:`Dropped` with a reason; callers count them.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tunesmith.data.truncation import apply_ranges, layout_from_boundaries, plan_truncation
from tunesmith.templates.base import ChatTemplate, Rendered, RenderOptions, TemplateError
from tunesmith.templates.encode import IGNORE_INDEX, LabelOptions, encode_rendered
from tunesmith.templates.messages import Conversation, ConversationError

__all__ = [
    "NO_TRAINABLE",
    "Dropped",
    "PromptExample",
    "SupervisedExample",
    "encode_supervised",
    "encode_unsupervised",
    "no_trainable_after_truncation",
    "tokenize_document",
    "truncate_prompt",
    "turn_layout",
]

NO_TRAINABLE = "no trainable tokens"
"""Reason for an example whose labels are all masked before any truncation (e.g. loss weights 0)."""
TEMPLATE_REFUSED = "the template cannot render it"
EMPTY_DOCUMENT = "empty document"
EMPTY_PROMPT = "empty prompt"


def no_trainable_after_truncation(cutoff_len: int) -> str:
    """Reason for an example that lost every trained token to truncation."""
    return f"no trainable tokens after truncation to cutoff_len={cutoff_len}"


@dataclass(frozen=True)
class Dropped:
    """An example that gives no training sequence, and why (``reason`` is the key it is counted by)."""

    reason: str
    detail: str = ""


@dataclass(frozen=True)
class SupervisedExample:
    input_ids: list[int]
    labels: list[int]
    """``IGNORE_INDEX`` where not trained."""
    truncated: bool = False


@dataclass(frozen=True)
class PromptExample:
    """A prediction prompt: ``input_ids`` end with the generation prompt; ``label_ids`` are the
    reference answer's tokens (no special tokens added)."""

    input_ids: list[int]
    label_ids: list[int]
    label_text: str
    truncated: bool = False


def _first_token_ending_after(ends: Sequence[int], char: int) -> int:
    return bisect_right(ends, char)


def _token_span(starts: Sequence[int], ends: Sequence[int], start: int, end: int) -> tuple[int, int]:
    """Indices ``[a, b)`` of the tokens overlapping characters ``[start, end)`` (empty at the
    insertion point when none does)."""
    a = _first_token_ending_after(ends, start)
    b = bisect_left(starts, end)
    return (a, max(a, b))


def turn_layout(rendered: Rendered, offsets: Sequence[tuple[int, int]]):
    """The :class:`~tunesmith.data.truncation.TurnLayout` of an encoded rendering: prefix = tokens
    before the first non-system message; one turn per assistant message (its header span and its
    trainable span, loss weight regardless)."""
    starts = [a for a, _ in offsets]
    ends = [b for _, b in offsets]
    first_message = next((s.start for s in rendered.spans if s.role not in ("prefix", "system")), None)
    prefix_len = len(offsets) if first_message is None else _first_token_ending_after(ends, first_message)
    headers = {s.index: s for s in rendered.spans if s.role == "assistant_header"}
    assistants: list[tuple[int, int, int]] = []
    for span in rendered.spans:
        if span.role != "assistant" or not span.trainable:
            continue
        t0, t1 = _token_span(starts, ends, span.start, span.end)
        header = headers.get(span.index)
        h0 = _token_span(starts, ends, header.start, header.end)[0] if header is not None else t0
        assistants.append((min(h0, t0), t0, t1))
    return layout_from_boundaries(len(offsets), min(prefix_len, len(offsets)), assistants)


def encode_supervised(
    conversation: Conversation,
    template: ChatTemplate,
    tokenizer: Any,
    *,
    cutoff_len: int,
    label_options: LabelOptions | None = None,
    render_options: RenderOptions | None = None,
) -> SupervisedExample | Dropped:
    """Ids and labels of a training conversation, truncated to ``cutoff_len`` (see
    :mod:`~tunesmith.data.truncation`); :class:`Dropped` when nothing is left to train on."""
    try:
        rendered = template.render(conversation, add_generation_prompt=False, options=render_options)
    except (TemplateError, ConversationError) as exc:
        return Dropped(TEMPLATE_REFUSED, str(exc))
    encoded = encode_rendered(tokenizer, rendered, label_options or LabelOptions())
    ids, labels = encoded.input_ids, encoded.labels
    if not any(label != IGNORE_INDEX for label in labels):
        return Dropped(NO_TRAINABLE)
    if len(ids) <= cutoff_len:
        return SupervisedExample(ids, labels)
    mask_history = bool(label_options and label_options.mask_history)
    ranges = plan_truncation(turn_layout(rendered, encoded.offsets), cutoff_len, last_turn_first=mask_history)
    ids, labels = apply_ranges(ids, ranges), apply_ranges(labels, ranges)
    if not any(label != IGNORE_INDEX for label in labels):
        return Dropped(no_trainable_after_truncation(cutoff_len))
    return SupervisedExample(ids, labels, truncated=True)


def split_prompt(conversation: Conversation) -> tuple[Conversation, str]:
    """The conversation without its final assistant message, and that message's text ("" if the
    conversation does not end with an assistant message)."""
    messages = conversation.messages
    if messages and messages[-1].role == "assistant":
        return Conversation(messages[:-1], conversation.tools), messages[-1].text
    return conversation, ""


def truncate_prompt(ids: Sequence[int], prefix_len: int, cutoff_len: int) -> list[int]:
    """A prompt cut to ``cutoff_len`` tokens: the prefix (BOS, system) stays when it takes at most half
    of ``cutoff_len``, then the TAIL, so the generation prompt always ends it. Pure function."""
    if len(ids) <= cutoff_len:
        return list(ids)
    head = prefix_len if prefix_len * 2 <= cutoff_len else 0
    return list(ids[:head]) + list(ids[len(ids) - (cutoff_len - head) :])


def encode_unsupervised(
    conversation: Conversation,
    template: ChatTemplate,
    tokenizer: Any,
    *,
    cutoff_len: int,
    render_options: RenderOptions | None = None,
) -> PromptExample | Dropped:
    """A prediction prompt (rendered with the generation prompt) and its reference answer.

    A prompt longer than ``cutoff_len`` keeps the prefix (when at most half of ``cutoff_len``) and
    the tail, so the generation prompt always ends it.
    """
    prompt, label_text = split_prompt(conversation)
    if not prompt.messages:
        return Dropped(EMPTY_PROMPT)
    try:
        rendered = template.render(prompt, add_generation_prompt=True, options=render_options)
    except (TemplateError, ConversationError) as exc:
        return Dropped(TEMPLATE_REFUSED, str(exc))
    encoded = encode_rendered(tokenizer, rendered, LabelOptions())
    ids = encoded.input_ids
    truncated = len(ids) > cutoff_len
    if truncated:
        ids = truncate_prompt(ids, turn_layout(rendered, encoded.offsets).prefix_len, cutoff_len)
    label_ids = list(tokenizer(label_text, add_special_tokens=False)["input_ids"]) if label_text else []
    return PromptExample(ids, label_ids, label_text, truncated)


def tokenize_document(text: str, tokenizer: Any, *, add_eos: bool = True) -> list[int] | Dropped:
    """A pre-training document's ids (no special tokens added by the tokenizer) plus EOS.

    Like LLaMA-Factory's pt stage, no BOS is added; a document of whitespace only is dropped.
    """
    if not text.strip():
        return Dropped(EMPTY_DOCUMENT)
    ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
    if add_eos:
        if tokenizer.eos_token_id is None:
            raise ValueError("the tokenizer has no eos_token; pre-training appends it to every document")
        ids.append(int(tokenizer.eos_token_id))
    return ids
