"""Prompt-only encoder for online RL (grpo, ppo): a prompt → the token ids the policy samples from.

Any dataset with a prompt works (:class:`~tunesmith.data.examples.PromptOnlyExample`, converted by
:mod:`~tunesmith.data.converters` with kind ``"prompt"``): alpaca's history + user turn, or a
sharegpt/openai conversation up to its last user-side turn. The dataset's answer, when it has one
(alpaca's response, a final assistant turn, a ranking record's chosen answer), is the *reference*;
every column of the record is kept and handed to reward functions as keyword arguments.

Encoding is the serving path, so the policy is trained on exactly what it is served: the prompt
(with ``default_system`` when it has no system message) is rendered by the template WITH the
generation prompt and tokenized once (:func:`~tunesmith.templates.encode_rendered`); the ids equal
``tokenizer.apply_chat_template(..., add_generation_prompt=True, tokenize=True)`` for a model's own
template. A prompt longer than ``cutoff_len`` keeps the prefix (BOS, system; when it takes at most
half of ``cutoff_len``) and its tail (:func:`~tunesmith.data.encode.truncate_prompt`), so the
generation prompt always ends it — the rule predict uses. Records the converter rejects are skipped
and reported by file and row (or stop the run with ``on_bad_record: error``); prompts the template
refuses are dropped and counted.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from tunesmith.data.encode import EMPTY_PROMPT, TEMPLATE_REFUSED, Dropped, truncate_prompt, turn_layout
from tunesmith.data.examples import PromptOnlyExample, RecordRef
from tunesmith.data.report import BadRecordReport, DataError
from tunesmith.templates.base import ChatTemplate, RenderOptions, TemplateError
from tunesmith.templates.encode import LabelOptions, encode_rendered
from tunesmith.templates.messages import Conversation, ConversationError, Message

if TYPE_CHECKING:
    from tunesmith.config import RunConfig
    from tunesmith.data.pipeline import EncodeStats

logger = logging.getLogger(__name__)

__all__ = ["EncodedPrompt", "PromptSet", "build_prompts", "encode_prompt"]

MAX_DROPPED_SHOWN = 20


@dataclass(frozen=True)
class EncodedPrompt:
    """A prompt ready for sampling: its ids end with the template's generation prompt."""

    input_ids: list[int]
    text: str
    """The text of ``input_ids`` (the rendering; decoded from the kept ids when truncated), as reward
    functions receive it."""
    source: RecordRef
    reference: str | None = None
    columns: Mapping[str, Any] = field(default_factory=dict)
    truncated: bool = False


def _with_system(conversation: Conversation, system: str | None) -> Conversation:
    if system is None or (conversation.messages and conversation.messages[0].role == "system"):
        return conversation
    return Conversation((Message("system", system), *conversation.messages), conversation.tools)


def encode_prompt(
    example: PromptOnlyExample,
    template: ChatTemplate,
    tokenizer: Any,
    *,
    cutoff_len: int,
    render_options: RenderOptions | None = None,
    default_system: str | None = None,
) -> EncodedPrompt | Dropped:
    """A prompt's ids (module docstring); :class:`Dropped` when it is empty or the template refuses it."""
    conversation = _with_system(example.conversation, default_system)
    if not any(m.role != "system" for m in conversation.messages):
        return Dropped(EMPTY_PROMPT)
    try:
        rendered = template.render(conversation, add_generation_prompt=True, options=render_options)
    except (TemplateError, ConversationError) as exc:
        return Dropped(TEMPLATE_REFUSED, str(exc))
    encoded = encode_rendered(tokenizer, rendered, LabelOptions())
    ids, text = encoded.input_ids, rendered.text
    truncated = len(ids) > cutoff_len
    if truncated:
        ids = truncate_prompt(ids, turn_layout(rendered, encoded.offsets).prefix_len, cutoff_len)
        text = tokenizer.decode(ids, skip_special_tokens=False)
    return EncodedPrompt(ids, text, example.source, example.reference, dict(example.columns), truncated)


@dataclass(frozen=True)
class PromptSet:
    """The encoded prompts of a run, the bad records skipped while reading them, and encoding stats."""

    prompts: list[EncodedPrompt]
    report: BadRecordReport
    stats: EncodeStats


def encode_prompts(
    examples: Sequence[PromptOnlyExample],
    template: ChatTemplate,
    tokenizer: Any,
    *,
    cutoff_len: int,
    render_options: RenderOptions | None = None,
    default_system: str | None = None,
) -> tuple[list[EncodedPrompt], EncodeStats]:
    """Every example encoded (in order), with the counts of kept, truncated and dropped ones."""
    from tunesmith.data.pipeline import EncodeStats

    kept: list[EncodedPrompt] = []
    dropped: Counter[str] = Counter()
    shown: list[Mapping[str, Any]] = []
    for example in examples:
        item = encode_prompt(
            example,
            template,
            tokenizer,
            cutoff_len=cutoff_len,
            render_options=render_options,
            default_system=default_system,
        )
        if isinstance(item, Dropped):
            dropped[item.reason] += 1
            if len(shown) < MAX_DROPPED_SHOWN:
                shown.append({**asdict(example.source), "reason": item.reason, "detail": item.detail})
            continue
        kept.append(item)
    stats = EncodeStats(
        examples_in=len(examples),
        examples_out=len(kept),
        sequences=len(kept),
        truncated=sum(1 for k in kept if k.truncated),
        dropped=dict(dropped.most_common()),
        total_tokens=sum(len(k.input_ids) for k in kept),
        trainable_tokens=0,
        dropped_examples=tuple(shown),
    )
    return kept, stats


def build_prompts(cfg: RunConfig, tokenizer: Any, template: ChatTemplate) -> PromptSet:
    """The prompts of ``cfg.data.dataset`` for stage grpo/ppo, encoded with ``template`` (the one the
    policy is served with) and truncated to ``cutoff_len``. Not cached: encoding prompts is cheap."""
    from tunesmith.data.loader import load_conversations
    from tunesmith.data.pipeline import load_arguments

    names = list(cfg.data.dataset or ())
    if not names:
        raise DataError("dataset: grpo/ppo need a dataset of prompts (any dataset with a prompt column)")
    if cfg.data.eval_dataset or cfg.data.val_size:
        logger.warning("eval_dataset / val_size are not used by grpo/ppo (no evaluation split)")
    kwargs = {**load_arguments(cfg, "sft"), "stage": cfg.finetune.stage}
    loaded = load_conversations(names, **kwargs)
    examples = [e for e in loaded.examples if isinstance(e, PromptOnlyExample)]
    prompts, stats = encode_prompts(
        examples,
        template,
        tokenizer,
        cutoff_len=cfg.data.cutoff_len,
        render_options=RenderOptions(enable_thinking=cfg.template.enable_thinking),
        default_system=cfg.template.default_system,
    )
    logger.info("prompts: %s", stats.summary())
    if stats.dropped:
        logger.warning(
            "prompts: dropped %d (%s); the first: %s",
            sum(stats.dropped.values()),
            ", ".join(f"{r}: {n}" for r, n in stats.dropped.items()),
            stats.dropped_examples[:3],
        )
    if not prompts:
        raise DataError(f"every one of the {len(examples)} prompts was dropped ({stats.summary()})")
    return PromptSet(prompts, loaded.report, stats)
