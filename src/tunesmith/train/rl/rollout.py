"""What GRPO and PPO share: prompts, sampled completions as padded tensors, and per-token log-probs
of those completions under a model.

Prompts come encoded by the data layer (:mod:`tunesmith.data.prompts`: rendered by the run's template
with the generation prompt and tokenized once), so the policy is trained on exactly the text it is
served with; generation (transformers, or vLLM through a :class:`CompletionGenerator`) stops at the template's end-of-turn markers
(:meth:`~tunesmith.infer.TransformersEngine.generate_ids`), and the end-of-turn token is part of the
completion, so the model learns to stop.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from tunesmith.infer.output import trim_at_stop
from tunesmith.infer.sampling import SamplingParams
from tunesmith.templates.messages import Conversation

if TYPE_CHECKING:
    import torch

    from tunesmith.config import RunConfig
    from tunesmith.data import EncodedPrompt, RecordRef
    from tunesmith.infer.engine import TransformersEngine

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PromptItem:
    """One training prompt: its token ids and text (from the data layer's
    :func:`~tunesmith.data.prompts.encode_prompt`), or a conversation rendered when sampled; the
    reference answer if the data has one, and the record's columns (handed to reward functions as
    keyword arguments)."""

    prompt: Conversation | None = None
    label: str | None = None
    columns: Mapping[str, Any] = field(default_factory=dict)
    source: RecordRef | None = None
    input_ids: tuple[int, ...] = ()
    text: str = ""

    @classmethod
    def from_encoded(cls, encoded: EncodedPrompt) -> PromptItem:
        return cls(
            None,
            encoded.reference,
            encoded.columns,
            encoded.source,
            tuple(encoded.input_ids),
            encoded.text,
        )

    def tokens(self, engine: TransformersEngine) -> tuple[tuple[int, ...], str]:
        """The prompt's ids and text: as encoded, else the conversation rendered by ``engine``."""
        if self.input_ids:
            return self.input_ids, self.text
        if self.prompt is None:
            raise ValueError("a PromptItem needs input_ids or a prompt conversation")
        rendered = engine.render(self.prompt)
        return tuple(rendered.ids), rendered.text


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


class CompletionGenerator(Protocol):
    """Generates ``n`` completions of each prompt (token ids in, new token ids out, prompt-major:
    row ``i * n + k`` is the ``k``-th completion of prompt ``i``), stopping at the engine's stop plan;
    the vLLM rollout engine (:mod:`~tunesmith.train.rl.vllm_rollout`) is one."""

    def generate(
        self, prompts: Sequence[Sequence[int]], n: int, params: SamplingParams
    ) -> list[list[int]]: ...

    def sync_weights(self, model: Any) -> None:
        """Take the policy's current weights (called before each sampling)."""


def sample(
    engine: TransformersEngine,
    items: Sequence[PromptItem],
    repeat: int,
    params: SamplingParams,
    generator: CompletionGenerator | None = None,
) -> Rollout:
    """``repeat`` completions of each prompt, generated as one batch (by ``generator`` when given,
    else by the engine's transformers model)."""
    import torch

    rendered = [item.tokens(engine) for item in items]
    prompt_rows = [list(ids) for ids, _ in rendered for _ in range(repeat)]
    if generator is not None:
        new = generator.generate([list(ids) for ids, _ in rendered], repeat, params)
    else:
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
        [text for _, text in rendered for _ in range(repeat)],
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
