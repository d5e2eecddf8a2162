"""Pairwise encoder (rm, dpo, orpo, simpo, cpo): a preference pair → chosen and rejected sequences.

Both conversations are rendered with the template and tokenized ONCE each, like sft
(:func:`~tunesmith.templates.encode_rendered`); the **prompt** is every token before the final
assistant message's content (so it ends with the assistant header) and the **response** is the rest
(the content, the end-of-turn marker and any tail the template writes). The prompt tokens of the two
must be identical — the same rendering — else the pair is dropped (counted, never silently
re-tokenized). Labels: only the response's trained tokens; the prompt (earlier assistant turns
included) is masked.

Truncation follows the sft rule of :mod:`~tunesmith.data.truncation` with the final turn first
(as ``mask_history``), applied to the layout "prompt + the longer response": the prefix stays when
it takes at most half of ``cutoff_len``, the final turn's prompt keeps its TAIL, the responses
keep their HEADs, both within the same budget. The prompt is cut once and shared, so each of
``prompt + chosen`` and ``prompt + rejected`` fits in ``cutoff_len`` and their prompts stay equal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tunesmith.data.encode import (
    NO_TRAINABLE,
    TEMPLATE_REFUSED,
    Dropped,
    SupervisedExample,
    no_trainable_after_truncation,
    turn_layout,
)
from tunesmith.data.truncation import Turn, TurnLayout, apply_ranges, plan_truncation
from tunesmith.templates.base import ChatTemplate, RenderOptions, TemplateError
from tunesmith.templates.encode import IGNORE_INDEX, LabelOptions, encode_rendered
from tunesmith.templates.messages import Conversation, ConversationError

__all__ = [
    "NO_RESPONSE",
    "PROMPT_MISMATCH",
    "EncodedPair",
    "SharedPrompt",
    "encode_pairwise",
    "encode_shared_prompt",
    "pairwise_columns",
    "plan_shared_truncation",
]

NO_RESPONSE = "the conversation does not end with an assistant message"
PROMPT_MISMATCH = "the conversations' prompts tokenize differently"


@dataclass(frozen=True)
class SharedPrompt:
    """One prompt and the responses that follow it (ids and labels; labels are ``IGNORE_INDEX``
    on the prompt, so only ``response_labels`` carry trained tokens)."""

    prompt_ids: list[int]
    response_ids: tuple[list[int], ...]
    response_labels: tuple[list[int], ...]
    truncated: bool = False

    def example(self, k: int) -> SupervisedExample:
        """Prompt + response ``k`` as a :class:`SupervisedExample`."""
        n = len(self.prompt_ids)
        return SupervisedExample(
            self.prompt_ids + self.response_ids[k],
            [IGNORE_INDEX] * n + self.response_labels[k],
            self.truncated,
        )


@dataclass(frozen=True)
class EncodedPair:
    """A preference pair as two sequences that share their first ``prompt_len`` tokens."""

    chosen: SupervisedExample
    rejected: SupervisedExample
    prompt_len: int

    @property
    def truncated(self) -> bool:
        return self.chosen.truncated


def plan_shared_truncation(
    layout: TurnLayout, prompt_len: int, response_lens: Sequence[int], cutoff_len: int
) -> tuple[list[range], int]:
    """Which prompt token ranges to keep, and how many head tokens of each response.

    ``layout`` is one encoded conversation's (its final turn's target starts at ``prompt_len``);
    the plan is :func:`~tunesmith.data.truncation.plan_truncation` (final turn first) of that
    layout with the final target as long as the longest response. Pure function.
    """
    longest = max(response_lens, default=0)
    if prompt_len + longest <= cutoff_len:
        return [range(0, prompt_len)], longest
    if not layout.turns:
        raise ValueError("a layout without turns has no response to keep")
    last = layout.turns[-1]
    if last.target_start != prompt_len:
        raise ValueError(
            f"the final turn starts at token {last.target_start}, not at prompt_len={prompt_len}"
        )
    extended = TurnLayout(
        prompt_len + longest,
        layout.prefix_len,
        (
            *layout.turns[:-1],
            Turn(last.source_start, last.header_start, last.target_start, prompt_len + longest),
        ),
    )
    ranges = plan_truncation(extended, cutoff_len, last_turn_first=True)
    prompt_ranges = [range(r.start, min(r.stop, prompt_len)) for r in ranges if r.start < prompt_len]
    keep = sum(r.stop - max(r.start, prompt_len) for r in ranges if r.stop > prompt_len)
    return prompt_ranges, keep


def _final_turn(
    conversation: Conversation, template: ChatTemplate, tokenizer: Any, render_options: RenderOptions | None
) -> tuple[list[int], list[int], TurnLayout, int] | Dropped:
    messages = conversation.messages
    if not messages or messages[-1].role != "assistant":
        return Dropped(NO_RESPONSE)
    try:
        rendered = template.render(conversation, add_generation_prompt=False, options=render_options)
    except (TemplateError, ConversationError) as exc:
        return Dropped(TEMPLATE_REFUSED, str(exc))
    encoded = encode_rendered(tokenizer, rendered, LabelOptions(mask_history=True))
    layout = turn_layout(rendered, encoded.offsets)
    if not layout.turns:
        return Dropped(NO_RESPONSE, "the template marks no assistant content as trainable")
    prompt_len = layout.turns[-1].target_start
    labels = [IGNORE_INDEX] * prompt_len + encoded.labels[prompt_len:]
    return encoded.input_ids, labels, layout, prompt_len


def encode_shared_prompt(
    conversations: Sequence[Conversation],
    template: ChatTemplate,
    tokenizer: Any,
    *,
    cutoff_len: int,
    render_options: RenderOptions | None = None,
) -> SharedPrompt | Dropped:
    """Conversations that differ only in their final assistant message → one prompt and their
    responses, truncated together (module docstring). Dropped when a conversation does not end
    with an assistant message, the template refuses it, the prompts differ, or a response has no
    trained token (before or after truncation)."""
    parts = []
    for conversation in conversations:
        part = _final_turn(conversation, template, tokenizer, render_options)
        if isinstance(part, Dropped):
            return part
        parts.append(part)
    ids0, _, layout, prompt_len = parts[0]
    prompt = ids0[:prompt_len]
    for k, (ids, _, _, n) in enumerate(parts[1:], start=1):
        if ids[:n] != prompt:
            return Dropped(
                PROMPT_MISMATCH,
                f"conversation {k} has a prompt of {n} tokens, conversation 0 of {prompt_len}",
            )
    responses = [ids[n:] for ids, _, _, n in parts]
    labels = [lab[n:] for _, lab, _, n in parts]
    if any(all(x == IGNORE_INDEX for x in lab) for lab in labels):
        return Dropped(NO_TRAINABLE)
    prompt_ranges, keep = plan_shared_truncation(layout, prompt_len, [len(r) for r in responses], cutoff_len)
    truncated = prompt_len + max(len(r) for r in responses) > cutoff_len
    if truncated:
        prompt = apply_ranges(prompt, prompt_ranges)
        responses = [r[:keep] for r in responses]
        labels = [lab[:keep] for lab in labels]
        if any(all(x == IGNORE_INDEX for x in lab) for lab in labels):
            return Dropped(no_trainable_after_truncation(cutoff_len))
    return SharedPrompt(prompt, tuple(responses), tuple(labels), truncated)


def encode_pairwise(
    chosen: Conversation,
    rejected: Conversation,
    template: ChatTemplate,
    tokenizer: Any,
    *,
    cutoff_len: int,
    render_options: RenderOptions | None = None,
) -> EncodedPair | Dropped:
    """A preference pair's chosen and rejected sequences (module docstring)."""
    shared = encode_shared_prompt(
        [chosen, rejected], template, tokenizer, cutoff_len=cutoff_len, render_options=render_options
    )
    if isinstance(shared, Dropped):
        return shared
    return EncodedPair(shared.example(0), shared.example(1), len(shared.prompt_ids))


def pairwise_columns(pairs: Sequence[EncodedPair]) -> dict[str, list[Any]]:
    """Dataset columns for :class:`~tunesmith.data.pref_collator.PairwiseCollator`."""
    return {
        "chosen_input_ids": [p.chosen.input_ids for p in pairs],
        "chosen_labels": [p.chosen.labels for p in pairs],
        "rejected_input_ids": [p.rejected.input_ids for p in pairs],
        "rejected_labels": [p.rejected.labels for p in pairs],
    }


def pair_from_row(row: Mapping[str, Any]) -> tuple[SupervisedExample, SupervisedExample]:
    """The chosen and rejected sequences of a dataset row written by :func:`pairwise_columns`."""
    return (
        SupervisedExample(list(row["chosen_input_ids"]), list(row["chosen_labels"])),
        SupervisedExample(list(row["rejected_input_ids"]), list(row["rejected_labels"])),
    )
