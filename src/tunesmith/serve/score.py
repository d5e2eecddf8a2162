"""Scoring with a reward model (``POST /v1/score``).

A reward model is what ``stage: rm`` saves: a causal LM with a scalar ``score`` head
(``*ForSequenceClassification``), either a LoRA adapter (``adapter_config.json`` with
``task_type: SEQ_CLS``) or a full model (``config.json`` architectures ending in
``ForSequenceClassification``). :func:`is_reward_model_dir` recognises both from the files alone.

Conversations are rendered with the run's template exactly as the pairwise encoder rendered them in
training (no generation prompt, tokenized once without special tokens); texts are scored as given.
The score of a sequence is the head's output at its last token
(:meth:`tunesmith.train.reward.RewardModel.score`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunesmith.serve.errors import APIError, bad_request
from tunesmith.templates.messages import Conversation, ConversationError

if TYPE_CHECKING:
    from tunesmith.config import RunConfig
    from tunesmith.serve.schemas import ScoreRequest
    from tunesmith.templates.base import ChatTemplate, RenderOptions

MAX_SCORE_INPUTS = 64
"""Most texts or conversations one score request may carry."""

HOW_TO_SERVE = (
    "serve a reward model trained with stage rm: `tunesmith serve model_name_or_path=<rm output_dir>` "
    "(score only) or `score_model=<rm output_dir>` beside a chat model"
)


def is_reward_model_dir(path: str | Path | None) -> bool:
    """Whether ``path`` holds what ``stage: rm`` saves (a SEQ_CLS adapter or a sequence classifier)."""
    if not path:
        return False
    folder = Path(path)
    adapter = folder / "adapter_config.json"
    if adapter.is_file():
        return str(_read_json(adapter).get("task_type", "")).upper() == "SEQ_CLS"
    config = folder / "config.json"
    if config.is_file():
        archs = _read_json(config).get("architectures") or []
        return bool(archs) and all(str(a).endswith("ForSequenceClassification") for a in archs)
    return False


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Scored:
    score: float
    tokens: int


class RewardScorer:
    """A reward model, its tokenizer and the template conversations are rendered with; thread-safe
    (one forward pass at a time)."""

    def __init__(
        self,
        reward_model: Any,
        template: ChatTemplate,
        *,
        name: str,
        render_options: RenderOptions | None = None,
        max_length: int | None = None,
    ) -> None:
        self.reward_model = reward_model
        """A :class:`tunesmith.train.reward.RewardModel`."""
        self.template = template
        self.name = name
        """The reward model's name (its folder's), accepted in the ``model`` field of score requests."""
        self.render_options = render_options
        self.max_length = max_length
        self._lock = threading.Lock()

    @property
    def tokenizer(self) -> Any:
        return self.reward_model.tokenizer

    def render(self, conversation: Conversation) -> str:
        """The text the reward model reads for ``conversation`` (as in training: no generation prompt)."""
        return self.template.render(
            conversation, add_generation_prompt=False, options=self.render_options
        ).text

    def score(self, texts: Sequence[str]) -> list[Scored]:
        """Scores of already rendered texts (blocking: run it in a worker thread)."""
        counts = [len(self.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
        for i, n in enumerate(counts):
            if n == 0:
                raise bad_request(f"input[{i}]: empty text", param="input")
            if self.max_length is not None and n > self.max_length:
                raise bad_request(
                    f"input[{i}] is {n} tokens; this reward model reads at most {self.max_length}",
                    param="input",
                    code="context_length_exceeded",
                )
        with self._lock:
            values = self.reward_model.score(list(texts))
        return [Scored(v, n) for v, n in zip(values, counts, strict=True)]


def request_texts(req: ScoreRequest, scorer: RewardScorer) -> list[str]:
    """The texts a score request asks about: its ``input`` as given, or its conversations rendered."""
    given = [name for name in ("input", "messages", "conversations") if getattr(req, name) is not None]
    if len(given) != 1:
        raise bad_request(
            "give exactly one of input (text or list of texts), messages (one conversation) or "
            f"conversations (a list of conversations); got {', '.join(given) or 'none'}",
            param="input",
        )
    if req.input is not None:
        texts = [req.input] if isinstance(req.input, str) else list(req.input)
        param = "input"
    else:
        from tunesmith.serve.chat import message_dict

        convs = [req.messages] if req.messages is not None else list(req.conversations or [])
        param = "messages" if req.messages is not None else "conversations"
        texts = []
        for c, messages in enumerate(convs):
            where = param if req.messages is not None else f"{param}.{c}"
            if not messages:
                raise bad_request(f"{where}: a conversation needs at least one message", param=where)
            rows = [message_dict(m, i, allow_media=False) for i, m in enumerate(messages)]
            try:
                texts.append(scorer.render(Conversation.from_openai(rows)))
            except (ConversationError, ValueError) as exc:  # template refusals are ValueErrors
                raise bad_request(f"{where}: {exc}", param=where) from None
    if not texts:
        raise bad_request(f"{param}: must not be empty", param=param)
    if len(texts) > MAX_SCORE_INPUTS:
        raise bad_request(
            f"{param}: at most {MAX_SCORE_INPUTS} items per request, got {len(texts)}", param=param
        )
    return texts


def no_reward_model() -> APIError:
    return APIError(
        501,
        f"/v1/score needs a reward model and this server serves a causal language model; {HOW_TO_SERVE}",
        code="reward_model_required",
    )


def build_scorer(path: str, cfg: RunConfig) -> RewardScorer:
    """Load the reward model saved in ``path`` with the run's template (chosen for its tokenizer)."""
    from tunesmith.families import build_catalog
    from tunesmith.families.resolve import choose_template
    from tunesmith.infer.build import render_options
    from tunesmith.model.dtype import default_device, resolve_dtype
    from tunesmith.serve.settings import served_model_name
    from tunesmith.train.reward import load_reward_model

    if not is_reward_model_dir(path):
        raise ValueError(
            f"{path} is not a reward model (no adapter_config.json with task_type SEQ_CLS and no "
            "*ForSequenceClassification config.json); train one with stage: rm"
        )
    device = default_device()
    rm = load_reward_model(path, dtype=resolve_dtype(cfg.model.infer_dtype, device=device), device=device)
    template = choose_template(
        build_catalog(cfg.misc.plugins), rm.tokenizer, name=cfg.template.template, model_dir=path
    ).template
    config = getattr(rm.model, "config", None)
    context = getattr(config, "max_position_embeddings", None)
    return RewardScorer(
        rm,
        template,
        name=served_model_name(None, path),
        render_options=render_options(cfg),
        max_length=context if isinstance(context, int) and context > 0 else None,
    )
