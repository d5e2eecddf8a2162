"""What GRPO and PPO share: prompts from the datasets, sampled completions as padded tensors, and
per-token log-probs of those completions under a model.

Prompts are rendered by the run's template with the generation prompt and tokenized once (the
engine's :meth:`~tunesmith.infer.TransformersEngine.render`), so the policy is trained on exactly the
text it is served with; generation stops at the template's end-of-turn markers
(:meth:`~tunesmith.infer.TransformersEngine.generate_ids`), and the end-of-turn token is part of the
completion, so the model learns to stop.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tunesmith.infer.output import trim_at_stop
from tunesmith.infer.predict import split_prompt
from tunesmith.infer.sampling import SamplingParams
from tunesmith.infer.session import with_default_system
from tunesmith.templates.messages import Conversation

if TYPE_CHECKING:
    import torch

    from tunesmith.config import RunConfig
    from tunesmith.data import RecordRef
    from tunesmith.infer.engine import TransformersEngine

logger = logging.getLogger(__name__)

_NO_ANSWER = "\x00tunesmith-no-answer\x00"
"""Stand-in answer for prompt-only records, so the converters accept them; dropped right away."""


@dataclass(frozen=True)
class PromptItem:
    """One training prompt, the reference answer if the data has one, and the record's columns
    (handed to reward functions as keyword arguments)."""

    prompt: Conversation
    label: str | None = None
    columns: Mapping[str, Any] = field(default_factory=dict)
    source: RecordRef | None = None


def _with_stand_in_answer(record: Mapping[str, Any], attr: Any) -> tuple[dict[str, Any], Any]:
    """A prompt-only record (alpaca without a response, sharegpt/openai ending on the user) with a
    stand-in final answer, and the attr to read it with."""
    data = dict(record)
    if attr.formatting == "alpaca":
        column = attr.columns.response or "__tunesmith_response__"
        if data.get(column) in (None, ""):
            data[column] = _NO_ANSWER
        return data, dataclasses.replace(attr, columns=dataclasses.replace(attr.columns, response=column))
    column = attr.columns.messages or "conversations"
    messages = data.get(column)
    if isinstance(messages, list) and messages and isinstance(messages[-1], Mapping):
        tags = attr.tags
        if messages[-1].get(tags.role_tag) in (tags.user_tag, tags.observation_tag):
            data[column] = [*messages, {tags.role_tag: tags.assistant_tag, tags.content_tag: _NO_ANSWER}]
    return data, attr


def load_prompts(cfg: RunConfig) -> list[PromptItem]:
    """The prompts of ``cfg.data.dataset``: every record minus its final assistant turn (the label);
    records without an answer are prompts as they are. Bad records are skipped and reported (or stop
    the run with ``on_bad_record: error``)."""
    from tunesmith.data.converters import convert_record
    from tunesmith.data.info import get_dataset_attrs
    from tunesmith.data.report import BadRecord, BadRecordReport, DataError, RecordError
    from tunesmith.data.sources import read_dataset, sample_records, truncate_records

    names = (
        [n.strip() for n in (cfg.data.dataset or "").split(",") if n.strip()]
        if isinstance(cfg.data.dataset, str)
        else list(cfg.data.dataset or ())
    )
    if not names:
        raise ValueError("dataset: GRPO/PPO need a dataset of prompts (any dataset with a prompt column)")
    items: list[PromptItem] = []
    report = BadRecordReport()
    for attr in get_dataset_attrs(
        names, cfg.data.dataset_dir, prefer_modelscope=cfg.model.use_modelscope_hub
    ):
        source = read_dataset(attr, cfg.data.dataset_dir, cache_dir=cfg.model.cache_dir)
        records = source.records
        if attr.num_samples is not None:
            records = sample_records(records, attr.num_samples, cfg.train.seed)
        records = truncate_records(records, cfg.data.max_samples)
        for bad in source.bad:
            report.add(bad)
        before = len(items)
        for record in records:
            data, read_as = _with_stand_in_answer(record.data, attr)
            try:
                example = convert_record(data, read_as, record.ref, kind="conversation", dataset_dir=None)
            except RecordError as exc:
                bad = BadRecord.at(record.ref, exc.reason, exc.detail)
                if cfg.data.on_bad_record == "error":
                    raise DataError(f"bad record in {bad.describe()}") from exc
                report.add(bad)
                continue
            conversation = with_default_system(example.conversation, cfg.template.default_system)
            prompt, label = split_prompt(conversation)
            columns = {k: v for k, v in record.data.items()}
            items.append(PromptItem(prompt, None if label == _NO_ANSWER else label, columns, record.ref))
        if len(items) == before:
            raise DataError(f"dataset {attr.name!r}: no usable prompt among its records")
    if report.total:
        logger.warning("skipped records:\n%s", report.summary())
    return items


def reward_columns(items: Sequence[PromptItem], repeat: int) -> dict[str, list[Any]]:
    """Keyword arguments for reward functions: every column of the items (None where a record lacks
    it) and ``label``, each value repeated for the ``repeat`` completions of its prompt."""
    keys = dict.fromkeys(k for item in items for k in item.columns)
    out: dict[str, list[Any]] = {
        k: [item.columns.get(k) for item in items for _ in range(repeat)] for k in keys
    }
    if "label" not in out:
        out["label"] = [item.label for item in items for _ in range(repeat)]
    return out


@dataclass
class Rollout:
    """A batch of prompts with their sampled completions, as left-padded prompts + right-padded
    completions (row ``i`` is the ``i % repeat``-th sample of prompt ``i // repeat``)."""

    prompt_ids: torch.Tensor
    prompt_mask: torch.Tensor
    completion_ids: torch.Tensor
    completion_mask: torch.Tensor
    prompt_texts: list[str]
    completion_texts: list[str]

    @property
    def input_ids(self) -> torch.Tensor:
        import torch

        return torch.cat([self.prompt_ids, self.completion_ids], dim=1)

    @property
    def attention_mask(self) -> torch.Tensor:
        import torch

        return torch.cat([self.prompt_mask, self.completion_mask], dim=1)


def rollout_params(cfg: RunConfig) -> SamplingParams:
    """Sampling for rollouts: ``rl_temperature`` (default 1), top_p / top_k from the generate group,
    ``max_completion_length`` new tokens, special tokens kept out of the reward text."""
    g = cfg.generate
    return SamplingParams(
        max_new_tokens=cfg.rlhf.max_completion_length,
        do_sample=True,
        temperature=cfg.rlhf.rl_temperature,
        top_p=g.top_p,
        top_k=g.top_k,
        repetition_penalty=g.repetition_penalty,
    )


def sample(
    engine: TransformersEngine, prompts: Sequence[Conversation], repeat: int, params: SamplingParams
) -> Rollout:
    """``repeat`` completions of each prompt, generated as one batch."""
    import torch

    rendered = [engine.render(p) for p in prompts]
    prompt_rows = [p.ids for p in rendered for _ in range(repeat)]
    was_training = engine.model.training
    engine.model.eval()
    try:
        new = engine.generate_ids(prompt_rows, params)
    finally:
        engine.model.train(was_training)
    plan = engine.stop_plan(params)
    texts = []
    for ids in new:
        body = ids[:-1] if ids and ids[-1] in plan.eos_ids else ids
        text = engine.tokenizer.decode(body, skip_special_tokens=True)
        texts.append(trim_at_stop(text, plan.text_stops)[0])
    pad = engine.pad_id
    width = max(len(p) for p in prompt_rows)
    prompt_ids = torch.full((len(prompt_rows), width), pad, dtype=torch.long)
    prompt_mask = torch.zeros_like(prompt_ids)
    for row, ids in enumerate(prompt_rows):
        prompt_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
        prompt_mask[row, width - len(ids) :] = 1
    length = max(1, max(len(c) for c in new))
    completion_ids = torch.full((len(new), length), pad, dtype=torch.long)
    completion_mask = torch.zeros_like(completion_ids)
    for row, ids in enumerate(new):
        if ids:
            completion_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            completion_mask[row, : len(ids)] = 1
    device = next(engine.model.parameters()).device
    return Rollout(
        prompt_ids.to(device),
        prompt_mask.to(device),
        completion_ids.to(device),
        completion_mask.to(device),
        [p.text for p in rendered for _ in range(repeat)],
        texts,
    )


def forward_completion(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    completion_length: int,
    *,
    hidden_states: bool = False,
    temperature: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-token log-probs ``(batch, completion_length)`` (float32) of the last ``completion_length``
    tokens of ``input_ids``, and with ``hidden_states`` the last layer's hidden states at the positions
    that predict them (for a value head). Position ids follow the attention mask, as in generation,
    so left-padded prompts are scored as they were sampled. The logits are divided by the sampling
    ``temperature`` (as trl does), so the log-probs are those of the distribution that was sampled."""
    import torch

    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    out = model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=position_ids,
        use_cache=False,
        output_hidden_states=hidden_states,
    )
    logits = out.logits[:, -completion_length - 1 : -1, :].float()
    if temperature > 0 and temperature != 1.0:
        logits = logits / temperature
    targets = input_ids[:, -completion_length:]
    logps = torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    hidden = out.hidden_states[-1][:, -completion_length - 1 : -1, :] if hidden_states else None
    return logps, hidden
