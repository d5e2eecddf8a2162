"""Reward modelling (stage rm): a causal LM backbone with a scalar head, trained on preference pairs.

The model is transformers' ``AutoModelForSequenceClassification`` with ``num_labels=1`` (the
``score`` head of the llama/qwen/mistral/gemma/phi families, newly initialised on top of a causal
LM checkpoint). Its score for a sequence is the head's output at the last token that is not the
pad token (transformers' own pooling); ``config.pad_token_id`` is set from the tokenizer so batches
pool correctly, and training, :func:`load_reward_model` and plain transformers all score the same
way. With LoRA the head is trained fully and saved with the adapter (peft's ``modules_to_save``).

Loss: Bradley–Terry on the pair's scores (:func:`~tunesmith.train.objectives.pairwise_reward_loss`),
summed over the pairs and divided by the pairs of the global batch (as
:class:`~tunesmith.train.preference.PreferenceTrainer`). Logged: ``rewards/chosen``,
``rewards/rejected``, ``rewards/margins`` and ``rewards/accuracies`` (``eval_`` prefixed at evaluation).

Reloading for scoring (PPO, an API score endpoint): :func:`load_reward_model` on the output_dir of
a LoRA run (base from ``adapter_config.json``) or of a full run, then :meth:`RewardModel.score`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from transformers import Trainer

from tunesmith.train.metrics_log import StoredMetrics
from tunesmith.train.objectives import pairwise_accuracy, pairwise_reward_loss
from tunesmith.train.preference import GlobalItemCount

logger = logging.getLogger(__name__)

__all__ = [
    "RewardModel",
    "RewardTrainer",
    "load_reward_model",
    "load_reward_model_for_training",
    "value_head_name",
]

HEAD_NAMES: tuple[str, ...] = ("score", "classifier")
"""Attribute names transformers gives the head of a ``*ForSequenceClassification`` model."""


def value_head_name(model: torch.nn.Module) -> str:
    """The attribute name of a sequence-classification model's scalar head."""
    for name in HEAD_NAMES:
        if isinstance(getattr(model, name, None), torch.nn.Module):
            return name
    raise ValueError(f"{type(model).__name__} has no scalar head ({' or '.join(HEAD_NAMES)})")


def _load_sequence_classifier(source: str, *, pad_token_id: int | None, **kwargs: Any) -> Any:
    from transformers import AutoModelForSequenceClassification

    try:
        model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=1, **kwargs)
    except ValueError as exc:  # an architecture without a *ForSequenceClassification class
        raise ValueError(f"stage rm: cannot load {source} with a scalar head: {exc}") from exc
    if pad_token_id is not None:
        model.config.pad_token_id = pad_token_id
    return model


def load_reward_model_for_training(cfg: Any, tokenizer: Any) -> torch.nn.Module:
    """The reward model to train: the base with a scalar head, prepared for ``finetuning_type``
    (LoRA: the adapter on the backbone's linear layers, the head in ``modules_to_save``)."""
    from peft import TaskType, get_peft_model

    from tunesmith.model.adapters import lora_config
    from tunesmith.model.dtype import default_device, resolve_dtype
    from tunesmith.model.finetune import apply_finetuning, log_parameter_counts, upcast_trainable
    from tunesmith.model.hub import hub_kwargs, resolve_source
    from tunesmith.model.loader import prepare_for_training

    model_cfg, finetune_cfg = cfg.model, cfg.finetune
    if model_cfg.quantization_bit is not None:
        raise ValueError(
            "stage rm: quantized (QLoRA) reward models are not supported yet; unset quantization_bit"
        )
    source = resolve_source(model_cfg.model_name_or_path, model_cfg)
    dtype = resolve_dtype(model_cfg.infer_dtype, device=default_device())
    kwargs: dict[str, Any] = {**hub_kwargs(model_cfg), "dtype": dtype, **dict(model_cfg.model_init_kwargs)}
    if model_cfg.attn_implementation:
        kwargs["attn_implementation"] = model_cfg.attn_implementation
    model = _load_sequence_classifier(source, pad_token_id=tokenizer.pad_token_id, **kwargs)
    head = value_head_name(model)
    prepare_for_training(model, gradient_checkpointing=cfg.train.gradient_checkpointing)
    if finetune_cfg.finetuning_type == "lora" and not model_cfg.adapter_name_or_path:
        config = lora_config(model, finetune_cfg, modules_to_save=[head])
        targets = config.target_modules
        if not isinstance(targets, str):
            targets = sorted(set(targets) - {head})  # the head trains fully, not through LoRA
        config = replace(config, task_type=TaskType.SEQ_CLS, target_modules=targets)
        model = get_peft_model(model, config)
        upcast_trainable(model)
        log_parameter_counts(model)
        return model
    model = apply_finetuning(model, finetune_cfg, model_cfg, is_trainable=True)
    if finetune_cfg.finetuning_type == "freeze":
        getattr(model, head).requires_grad_(True)
        upcast_trainable(model)
    return model


class RewardTrainer(GlobalItemCount, StoredMetrics, Trainer):
    """Pairwise reward-model training on :class:`~tunesmith.data.pref_collator.PairwiseCollator`
    batches (``2n`` rows: chosen then rejected); see the module docstring."""

    loss_is_scaled_for_ga = True
    rows_per_item = 2

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        scores = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits
        chosen, rejected = scores.squeeze(-1).float().chunk(2)
        losses = pairwise_reward_loss(chosen, rejected)
        stored = self._stored["train" if model.training else "eval"]
        stored["rewards/chosen"].append(chosen.detach().mean().item())
        stored["rewards/rejected"].append(rejected.detach().mean().item())
        stored["rewards/margins"].append((chosen - rejected).detach().mean().item())
        stored["rewards/accuracies"].append(
            pairwise_accuracy(chosen.detach(), rejected.detach()).mean().item()
        )
        loss = self.reduce_losses(losses, num_items_in_batch)
        return (loss, {"chosen_scores": chosen, "rejected_scores": rejected}) if return_outputs else loss


@dataclass
class RewardModel:
    """A loaded reward model and its tokenizer (with the chat template the model was trained with)."""

    model: torch.nn.Module
    tokenizer: Any

    def _text(self, item: str | Sequence[Mapping[str, Any]] | Any) -> str:
        if isinstance(item, str):
            return item
        messages = getattr(item, "messages", item)
        rows = [m if isinstance(m, Mapping) else {"role": m.role, "content": m.content} for m in messages]
        return self.tokenizer.apply_chat_template(rows, tokenize=False)

    @torch.no_grad()
    def score(
        self,
        items: Sequence[str | Sequence[Mapping[str, Any]]],
        *,
        batch_size: int = 8,
        max_length: int | None = None,
    ) -> list[float]:
        """One score per item: an already formatted text (tokenized as is, no special tokens added)
        or a conversation (a list of ``{"role", "content"}`` messages, rendered with the saved
        chat template)."""
        texts = [self._text(item) for item in items]
        device = next(self.model.parameters()).device
        out: list[float] = []
        for start in range(0, len(texts), batch_size):
            enc = self.tokenizer(
                texts[start : start + batch_size],
                add_special_tokens=False,
                padding=True,
                truncation=max_length is not None,
                max_length=max_length,
                return_tensors="pt",
            ).to(device)
            logits = self.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
            out.extend(float(x) for x in logits.squeeze(-1).float().cpu())
        return out


def load_reward_model(
    path: str | Path, *, dtype: torch.dtype | None = None, device: str | None = None
) -> RewardModel:
    """A trained reward model from its output_dir: a LoRA adapter (its base named in
    ``adapter_config.json``; the adapter is merged) or a full model; tokenizer from ``path``."""
    from transformers import AutoTokenizer

    path = Path(path)
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    kwargs: dict[str, Any] = {"dtype": dtype} if dtype is not None else {}
    adapter_config = path / "adapter_config.json"
    if adapter_config.is_file():
        from peft import PeftModel

        base = json.loads(adapter_config.read_text(encoding="utf-8"))["base_model_name_or_path"]
        model = _load_sequence_classifier(base, pad_token_id=tokenizer.pad_token_id, **kwargs)
        model = PeftModel.from_pretrained(model, str(path)).merge_and_unload()
    else:
        model = _load_sequence_classifier(str(path), pad_token_id=tokenizer.pad_token_id, **kwargs)
    if device is not None:
        model.to(device)
    model.eval().requires_grad_(False)
    return RewardModel(model, tokenizer)
