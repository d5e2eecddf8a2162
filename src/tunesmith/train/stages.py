"""The preference stages' model, reference model, collator and Trainer (rm, dpo, kto).

* rm — :mod:`tunesmith.train.reward`: the base with a scalar head; pairwise Bradley–Terry loss.
* dpo — :class:`~tunesmith.train.preference.PreferenceTrainer` with ``pref_loss`` sigmoid, ipo,
  hinge, orpo or simpo (LLaMA-Factory's names; ``kto_pair`` is the kto stage here).
* kto — :class:`~tunesmith.train.kto.KTOTrainer` (``kto_chosen_weight``/``kto_rejected_weight``).

Reference model (dpo losses that need one, and kto), as LLaMA-Factory: ``ref_model`` (with
``ref_model_adapters``) when given; else, for LoRA, the policy with its adapter disabled (one copy
of the weights in memory); else (full/freeze) a second, frozen copy of the initial model. grpo/ppo
load an explicit ``ref_model`` with the same :func:`reference_model`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from tunesmith.config import FinetuneConfig, RunConfig

logger = logging.getLogger(__name__)

__all__ = [
    "PREFERENCE_STAGES",
    "StageTrainer",
    "build_preference_trainer",
    "parameters_in_memory",
    "reference_model",
]

PREFERENCE_STAGES: tuple[str, ...] = ("rm", "dpo", "kto")
_LF_LOSSES = {
    "sigmoid": "sigmoid",
    "hinge": "hinge",
    "ipo": "ipo",
    "robust": "robust",
    "orpo": "orpo",
    "simpo": "simpo",
    "cpo": "cpo",
}


@dataclass(frozen=True)
class StageTrainer:
    trainer: Any
    summary: dict[str, Any]
    """Stage-specific entries for run_summary.json (objective, reference, parameters in memory)."""


def parameters_in_memory(*models: Any) -> int:
    """Distinct parameter elements held by ``models`` (shared tensors counted once)."""
    seen: set[int] = set()
    total = 0
    for model in models:
        if model is None:
            continue
        for param in model.parameters():
            if param.data_ptr() not in seen:
                seen.add(param.data_ptr())
                total += param.numel()
    return total


def reference_model(cfg: RunConfig, tokenizer: Any) -> tuple[Any, str]:
    """The explicit reference model and how it was chosen (None: the adapter-disabled policy)."""
    from tunesmith.model import load_model

    rlhf = cfg.rlhf
    if rlhf.ref_model:
        ref_cfg = replace(
            cfg.model, model_name_or_path=rlhf.ref_model, adapter_name_or_path=tuple(rlhf.ref_model_adapters)
        )
        how = f"ref_model {rlhf.ref_model}"
    elif cfg.finetune.finetuning_type == "lora":
        return None, "policy with the LoRA adapter disabled"
    else:
        ref_cfg = cfg.model
        how = f"frozen copy of the initial model ({cfg.finetune.finetuning_type} fine-tuning)"
    logger.info("reference model: %s", how)
    ref = load_model(ref_cfg, tokenizer, finetune_cfg=FinetuneConfig(), for_training=False)
    return ref, how


def _preference_config(cfg: RunConfig) -> Any:
    from tunesmith.train.preference import PreferenceConfig

    rlhf = cfg.rlhf
    if rlhf.pref_loss not in _LF_LOSSES:
        raise ValueError(
            f"pref_loss: {rlhf.pref_loss!r} is not a stage dpo loss here; for KTO use stage: kto "
            f"(dpo takes {', '.join(_LF_LOSSES)})"
        )
    return PreferenceConfig(
        loss=_LF_LOSSES[rlhf.pref_loss],
        beta=rlhf.pref_beta,
        label_smoothing=rlhf.dpo_label_smoothing,
        simpo_gamma=rlhf.simpo_gamma,
        ftx=rlhf.pref_ftx,
        cpo_alpha=rlhf.cpo_alpha,
    )


def build_preference_trainer(
    cfg: RunConfig, stage: str, args: Any, tokenizer: Any, data: Any
) -> StageTrainer:
    """Model, reference, collator and Trainer of preference ``stage`` (module docstring)."""
    from tunesmith.data.pref_collator import FeedbackCollator, PairwiseCollator
    from tunesmith.model import load_model

    common = {
        "args": args,
        "train_dataset": data.train,
        "eval_dataset": data.eval,
        "processing_class": tokenizer,
    }
    if stage == "rm":
        from tunesmith.train.reward import RewardTrainer, load_reward_model_for_training

        model = load_reward_model_for_training(cfg, tokenizer)
        trainer = RewardTrainer(model=model, data_collator=PairwiseCollator(tokenizer), **common)
        return StageTrainer(
            trainer,
            {"objective": "pairwise (Bradley-Terry)", "parameters_in_memory": parameters_in_memory(model)},
        )
    if stage not in ("dpo", "kto"):
        raise ValueError(f"stage: {stage!r} is not a preference stage ({', '.join(PREFERENCE_STAGES)})")
    model = load_model(
        cfg.model,
        tokenizer,
        finetune_cfg=cfg.finetune,
        for_training=True,
        gradient_checkpointing=cfg.train.gradient_checkpointing,
    )
    if stage == "dpo":
        from tunesmith.train.preference import PreferenceTrainer

        preference = _preference_config(cfg)
        ref, how = reference_model(cfg, tokenizer) if preference.needs_reference else (None, "none")
        trainer = PreferenceTrainer(
            model=model,
            data_collator=PairwiseCollator(tokenizer),
            preference=preference,
            ref_model=ref,
            **common,
        )
        objective = preference.loss
        if cfg.rlhf.precompute_ref_log_probs and preference.needs_reference:
            size = args.per_device_eval_batch_size
            trainer.train_dataset = trainer.precompute_reference(data.train, size)
            if data.eval is not None:
                trainer.eval_dataset = trainer.precompute_reference(data.eval, size)
            how += "; log-probs precomputed before training"
            if ref is not None:  # no longer needed in memory
                trainer.ref_model = ref = None
            logger.info("reference log-probs precomputed for %d pairs", len(trainer.train_dataset))
    else:
        from tunesmith.train.kto import KTOConfig, KTOTrainer

        if args.per_device_train_batch_size < 2:
            logger.warning(
                "kto: with per_device_train_batch_size 1 the KL term has no mismatched completion; "
                "use a batch of at least 2"
            )
        ref, how = reference_model(cfg, tokenizer)
        kto = KTOConfig(
            beta=cfg.rlhf.pref_beta,
            desirable_weight=cfg.rlhf.kto_chosen_weight,
            undesirable_weight=cfg.rlhf.kto_rejected_weight,
            ftx=cfg.rlhf.pref_ftx,
        )
        collator = FeedbackCollator(tokenizer, kl_max_length=cfg.data.cutoff_len)
        trainer = KTOTrainer(model=model, data_collator=collator, kto=kto, ref_model=ref, **common)
        objective = "kto"
    return StageTrainer(
        trainer,
        {"objective": objective, "reference": how, "parameters_in_memory": parameters_in_memory(model, ref)},
    )
