"""PPO's reward from a reward model, as ``reward_model_type`` says (LLaMA-Factory's key and values).

* ``lora`` (default): ``reward_model`` is a LoRA reward adapter (what ``stage: rm`` saves with
  ``finetuning_type: lora``) trained on the same base as the policy. It is loaded onto the policy as
  a second, frozen adapter named ``reward`` with its scalar head beside it, so the base weights are
  held once. Scoring runs the policy model with ``adapter_names=["reward", ...]`` (peft's
  mixed-adapter forward: the policy's own adapter stays active and trainable) and applies the head to
  the last hidden state at the last non-pad token, exactly as ``*ForSequenceClassification`` pools.
  Needs ``finetuning_type: lora``.
* ``full``: ``reward_model`` is loaded as a model of its own (:func:`tunesmith.train.reward.load_reward_model`:
  a full reward model, or an adapter merged into its own copy of its base).
* ``api``: ``reward_model`` is the URL of a server with ``POST /v1/score`` (``tunesmith serve
  model_name_or_path=<rm output_dir>``: ``http://host:port/v1``); the texts are sent as ``input``,
  with ``Authorization: Bearer $TUNESMITH_REWARD_API_KEY`` when that variable is set.

Every sample is scored as the rendered prompt + completion + the template's end-of-turn marker: the
text a conversation ending with that reply renders to, as the pairwise encoder rendered it in
training.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

logger = logging.getLogger(__name__)

REWARD_ADAPTER = "reward"
"""Name the reward adapter gets on the policy (``reward_model_type: lora``)."""
API_KEY_ENV = "TUNESMITH_REWARD_API_KEY"

TextScorer = Callable[[Sequence[str]], list[float]]

__all__ = ["REWARD_ADAPTER", "SharedBaseReward", "api_scores", "reward_model_scorer"]


def reward_model_scorer(cfg: Any, template: Any, policy: Any, tokenizer: Any) -> Any:
    """The PPO :data:`~tunesmith.train.rl.ppo.Scorer` for ``cfg.rlhf.reward_model`` (module docstring)."""
    r = cfg.rlhf
    assert r.reward_model is not None
    batch_size = cfg.train.per_device_eval_batch_size
    score_texts: TextScorer
    if r.reward_model_type == "lora":
        shared = SharedBaseReward(policy, tokenizer, r.reward_model, base=cfg.model.model_name_or_path)
        score_texts = lambda texts: shared.score(texts, batch_size=batch_size)  # noqa: E731
    elif r.reward_model_type == "full":
        from tunesmith.model.dtype import default_device
        from tunesmith.train.reward import load_reward_model

        rm = load_reward_model(r.reward_model, device=default_device())
        score_texts = lambda texts: rm.score(texts, batch_size=batch_size)  # noqa: E731
    else:
        url = r.reward_model
        score_texts = lambda texts: api_scores(url, texts)  # noqa: E731
    end = template.stop_strings[0] if template.stop_strings else ""

    def scorer(prompts: Any, completions: Any, columns: Any) -> dict[str, list[float]]:
        texts = [p + c + end for p, c in zip(prompts, completions, strict=True)]
        return {"reward_model": score_texts(texts)}

    return scorer


def _same_path(a: str, b: str) -> bool:
    pa, pb = Path(a).expanduser(), Path(b).expanduser()
    if pa.exists() and pb.exists():
        return pa.resolve() == pb.resolve()
    return a.rstrip("/") == b.rstrip("/")


class SharedBaseReward:
    """A LoRA reward adapter scored on the policy's own base weights (``reward_model_type: lora``)."""

    def __init__(self, policy: Any, tokenizer: Any, adapter_dir: str, *, base: str | None) -> None:
        from tunesmith.train.rl.loop import is_peft

        folder = Path(adapter_dir)
        how = "set reward_model_type: full to load the reward model as a separate model"
        config_file = folder / "adapter_config.json"
        if not config_file.is_file():
            raise ValueError(
                f"reward_model {adapter_dir}: reward_model_type lora needs a LoRA reward adapter "
                f"(adapter_config.json, as stage rm saves with finetuning_type lora); {how}"
            )
        if not is_peft(policy):
            raise ValueError(
                "reward_model_type lora puts the reward adapter on the policy's base and needs "
                f"finetuning_type lora; {how}"
            )
        adapter_config = json.loads(config_file.read_text(encoding="utf-8"))
        trained_on = str(adapter_config.get("base_model_name_or_path") or "")
        if base and trained_on and not _same_path(trained_on, base):
            raise ValueError(
                f"reward_model {adapter_dir} was trained on {trained_on}, the policy is {base}: a reward "
                f"adapter can share only the base it was trained on; {how}"
            )
        if REWARD_ADAPTER in policy.peft_config:
            raise ValueError(f"the policy already has an adapter named {REWARD_ADAPTER!r}")
        was_training = policy.training
        policy.load_adapter(str(folder), adapter_name=REWARD_ADAPTER, is_trainable=False)
        policy.train(was_training)  # peft puts the model in eval mode when it loads a frozen adapter
        self.policy = policy
        self.tokenizer = tokenizer
        self.head = _load_head(folder).to(next(policy.parameters()).device)
        self.pad_id = tokenizer.pad_token_id
        logger.info("reward model: adapter %s on the policy's base (one copy of the weights)", folder)

    @torch.no_grad()
    def score(self, texts: Sequence[str], *, batch_size: int = 8) -> list[float]:
        """One score per already rendered text (tokenized as is, no special tokens added)."""
        device = next(self.policy.parameters()).device
        was_training = self.policy.training
        self.policy.eval()  # peft refuses adapter_names in training mode
        side = self.tokenizer.padding_side
        self.tokenizer.padding_side = "right"
        out: list[float] = []
        try:
            for start in range(0, len(texts), batch_size):
                chunk = list(texts[start : start + batch_size])
                enc = self.tokenizer(chunk, add_special_tokens=False, padding=True, return_tensors="pt").to(
                    device
                )
                hidden = self.policy(
                    input_ids=enc["input_ids"],
                    attention_mask=enc["attention_mask"],
                    output_hidden_states=True,
                    adapter_names=[REWARD_ADAPTER] * len(chunk),
                ).hidden_states[-1]
                last = _last_non_pad(enc["input_ids"], self.pad_id)
                pooled = hidden[torch.arange(len(chunk), device=device), last]
                out.extend(float(x) for x in self.head(pooled.to(self.head.weight.dtype)).squeeze(-1).cpu())
        finally:
            self.tokenizer.padding_side = side
            self.policy.train(was_training)
        return out


def _last_non_pad(input_ids: torch.Tensor, pad_id: int | None) -> torch.Tensor:
    """The last position that is not the pad token, per row (transformers' sequence-classification
    pooling; the last position when there is no pad token)."""
    width = input_ids.shape[-1]
    if pad_id is None:
        return torch.full((input_ids.shape[0],), width - 1, dtype=torch.long, device=input_ids.device)
    positions = torch.arange(width, device=input_ids.device)
    return (positions * (input_ids != pad_id)).argmax(-1)


def _load_head(folder: Path) -> torch.nn.Linear:
    """The scalar head saved with a reward adapter (peft's ``modules_to_save``: ``score`` or ``classifier``)."""
    from safetensors.torch import load_file

    weights_file = folder / "adapter_model.safetensors"
    if not weights_file.is_file():
        raise ValueError(f"reward_model {folder}: no adapter_model.safetensors")
    weights = load_file(str(weights_file))
    from tunesmith.train.reward import HEAD_NAMES

    for name in HEAD_NAMES:
        found = {k.rsplit(".", 1)[1]: v for k, v in weights.items() if k.rsplit(".", 2)[-2] == name}
        if "weight" in found:
            weight = found["weight"]
            head = torch.nn.Linear(weight.shape[1], weight.shape[0], bias="bias" in found)
            head.weight.data.copy_(weight)
            if "bias" in found:
                head.bias.data.copy_(found["bias"])
            return head.eval().requires_grad_(False)
    raise ValueError(
        f"reward_model {folder}: the adapter holds no scalar head ({' or '.join(HEAD_NAMES)}); "
        "train it with stage rm"
    )


def api_scores(url: str, texts: Sequence[str], *, timeout: float = 300.0) -> list[float]:
    """Scores of ``texts`` from the ``/v1/score`` endpoint under ``url`` (module docstring)."""
    base = url.rstrip("/")
    if base.endswith("/score"):
        base = base[: -len("/score")]
    headers = {"Content-Type": "application/json"}
    key = os.environ.get(API_KEY_ENV)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    models = _call(f"{base}/models", None, headers, timeout)
    try:
        model = models["data"][0]["id"]
    except (KeyError, IndexError, TypeError):
        raise RuntimeError(f"reward API {base}/models lists no model") from None
    body = _call(f"{base}/score", {"model": model, "input": list(texts)}, headers, timeout)
    try:
        scores = {int(d["index"]): float(d["score"]) for d in body["data"]}
        return [scores[i] for i in range(len(texts))]
    except (KeyError, TypeError, ValueError):
        raise RuntimeError(f"reward API {base}/score answered without one score per input") from None


def _call(url: str, payload: Any, headers: dict[str, str], timeout: float) -> Any:
    data = None if payload is None else json.dumps(payload).encode("utf-8")
    request = urllib.request.Request(
        url, data=data, headers=headers, method="GET" if data is None else "POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the configured URL
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:500]
        hint = f" (set {API_KEY_ENV})" if exc.code == 401 else ""
        raise RuntimeError(f"reward API {url}: HTTP {exc.code}{hint}: {detail}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise RuntimeError(f"reward API {url}: {exc}") from None
