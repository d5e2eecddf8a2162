"""The grpo / ppo workflow: config → tokenizer + template → prompts → policy (+ reference) → RL loop
→ artefacts.

Prompts come from the data layer (:func:`tunesmith.data.prompts.build_prompts`: any dataset with a
prompt, rendered and tokenized by the run's template, extra columns kept for reward functions).

Reference policy (KL; PPO always, GRPO when ``grpo_beta`` > 0): ``ref_model`` (with
``ref_model_adapters``) loaded as the dpo/kto stages load theirs
(:func:`tunesmith.train.stages.reference_model`), frozen, in eval mode, on the policy's device and
dtype; else, for LoRA, the policy with its adapter disabled (no second copy); else (full/freeze) a
frozen copy of the initial model.

Rollouts: transformers' ``generate``, or vLLM colocated on the GPU with ``use_vllm: true``
(:mod:`tunesmith.train.rl.vllm_rollout`).

output_dir ends up holding, as the pt/sft workflow's: the adapter (LoRA) or the full model, the
tokenizer with the training template as ``chat_template``, ``trainer_state.json`` (with
``log_history``: reward, per-function rewards, loss, kl, ...), ``tunesmith_config.yaml`` and
``run_summary.json``; PPO adds ``value_head.safetensors``. Every ``save_steps`` a ``checkpoint-N``
(:mod:`tunesmith.train.rl.checkpoint`); ``resume_from_checkpoint`` (a path, or ``true`` for the last
one; by default the last one in output_dir unless ``overwrite_output_dir``) continues from it.

Reward (PPO): the reward model at ``reward_model`` as ``reward_model_type`` says (a LoRA reward
adapter on the policy's own base, a separate model, or a ``/v1/score`` API:
:mod:`tunesmith.train.rl.reward_model`), else the ``grpo_reward_funcs``.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

from tunesmith.config import RunConfig
from tunesmith.train.workflow import (
    TrainResult,
    _bad_records,
    _plain,
    peak_memory_mb,
    save_tokenizer_with_template,
)

logger = logging.getLogger(__name__)

__all__ = ["run_rl"]


def _reference(cfg: RunConfig, model: Any, tokenizer: Any) -> tuple[Any, str]:
    """The reference policy (module docstring) and how it was chosen; (None, ...) when the policy with
    its adapter disabled is the reference, or when no KL term needs one."""
    from tunesmith.train.rl.loop import is_peft
    from tunesmith.train.stages import reference_model

    r = cfg.rlhf
    if cfg.finetune.stage == "grpo" and r.grpo_beta == 0.0:
        if r.ref_model:
            logger.warning("ref_model is not used: grpo_beta is 0 (no KL term)")
        return None, "none (grpo_beta 0)"
    if r.ref_model:
        ref, how = reference_model(cfg, tokenizer)
        policy = next(model.parameters())
        dtype = getattr(model, "dtype", policy.dtype)
        return ref.to(device=policy.device, dtype=dtype).eval().requires_grad_(False), how
    if is_peft(model):
        return None, "policy with the LoRA adapter disabled"
    # full / freeze tuning: the initial weights, frozen
    return copy.deepcopy(model).eval().requires_grad_(False), "frozen copy of the initial model"


def _check_stage(cfg: RunConfig, rewards: list[Any]) -> None:
    stage, r = cfg.finetune.stage, cfg.rlhf
    if stage not in ("grpo", "ppo"):
        raise ValueError(f"run_rl runs stage grpo or ppo, not {stage!r}")
    if not cfg.train.output_dir:
        raise ValueError("output_dir: required for training (where the model, logs and checkpoints go)")
    if stage == "grpo" and not rewards:
        raise ValueError(
            "stage grpo needs grpo_reward_funcs (builtins: exact_match, contains, regex_match, format, length)"
        )
    if stage == "ppo" and not rewards and not r.reward_model:
        raise ValueError("stage ppo needs reward_model or grpo_reward_funcs")


def run_rl(cfg: RunConfig) -> TrainResult:
    """Run stage grpo or ppo as the config says (module docstring)."""
    import torch
    import yaml
    from transformers import set_seed

    from tunesmith.data.prompts import build_prompts
    from tunesmith.families import build_catalog
    from tunesmith.families.resolve import choose_template
    from tunesmith.infer.build import render_options
    from tunesmith.infer.engine import TransformersEngine
    from tunesmith.model import load_model, load_tokenizer
    from tunesmith.train.plot import plot_loss
    from tunesmith.train.resume import resume_checkpoint
    from tunesmith.train.rl.checkpoint import load_checkpoint, save_checkpoint
    from tunesmith.train.rl.loop import loop_settings, save_policy, wants_vllm
    from tunesmith.train.rl.rewards import load_reward_funcs
    from tunesmith.train.rl.rollout import PromptItem, rollout_params

    r = cfg.rlhf
    stage = cfg.finetune.stage
    rewards = load_reward_funcs(r.grpo_reward_funcs, r.grpo_reward_weights)
    _check_stage(cfg, rewards)
    use_vllm = wants_vllm(cfg)
    if use_vllm:  # before anything loads: say what is missing
        from tunesmith.train.rl.vllm_rollout import check_vllm

        check_vllm()
    out = Path(str(cfg.train.output_dir))
    resume = resume_checkpoint(str(out), cfg.train.resume_from_checkpoint, cfg.train.overwrite_output_dir)

    set_seed(cfg.train.seed)
    loaded = load_tokenizer(cfg.model)
    tokenizer = getattr(loaded, "tokenizer", loaded)
    choice = choose_template(
        build_catalog(cfg.misc.plugins),
        tokenizer,
        name=cfg.template.template,
        model_dir=cfg.model.model_name_or_path,
    )
    logger.info("template: %s (%s)", choice.name, choice.reason)
    prompt_set = build_prompts(cfg, tokenizer, choice.template)
    if prompt_set.report.total:
        logger.warning("skipped records:\n%s", prompt_set.report.summary())
    prompts = [PromptItem.from_encoded(p) for p in prompt_set.prompts]
    model = load_model(
        cfg.model,
        tokenizer,
        finetune_cfg=cfg.finetune,
        for_training=True,
        gradient_checkpointing=cfg.train.gradient_checkpointing,
    )
    ref_model, reference_how = _reference(cfg, model, tokenizer)

    out.mkdir(parents=True, exist_ok=True)
    (out / "tunesmith_config.yaml").write_text(
        yaml.safe_dump(cfg.to_dict(), sort_keys=False, allow_unicode=True)
    )
    params = rollout_params(cfg)
    options = render_options(cfg)
    generator = None
    if use_vllm:
        from tunesmith.train.rl.vllm_rollout import VLLMRollout, engine_stops

        plan = TransformersEngine(model, tokenizer, choice.template, render_options=options).stop_plan(params)
        stop_ids, stop_strings = engine_stops(plan)
        generator = VLLMRollout(cfg, model, stop_token_ids=stop_ids, stop=stop_strings)
    common = {
        "ref_model": ref_model,
        "render_options": options,
        "sampling": params,
        "generator": generator,
    }
    trainer: Any
    if stage == "grpo":
        from tunesmith.train.rl.grpo import GRPOSettings, GRPOTrainer

        settings = GRPOSettings.from_config(cfg)
        loop = loop_settings(cfg, completions_per_prompt=settings.num_generations, num_prompts=len(prompts))
        trainer = GRPOTrainer(model, tokenizer, choice.template, prompts, rewards, settings, loop, **common)
    else:
        from tunesmith.train.rl.ppo import PPOSettings, PPOTrainer, reward_func_scorer
        from tunesmith.train.rl.reward_model import reward_model_scorer

        scorer = (
            reward_model_scorer(cfg, choice.template, model, tokenizer)
            if r.reward_model
            else reward_func_scorer(rewards)
        )
        loop = loop_settings(cfg, completions_per_prompt=1, num_prompts=len(prompts))
        trainer = PPOTrainer(
            model, tokenizer, choice.template, prompts, scorer, PPOSettings.from_config(cfg), loop, **common
        )
    if resume:
        load_checkpoint(trainer, resume)

    summary: dict[str, Any] = {
        "stage": stage,
        "template": choice.name,
        "template_reason": choice.reason,
        "reference": reference_how,
        "rollouts": "vllm" if use_vllm else "transformers",
        "prompts": len(prompts),
        "data": {"train": _plain(prompt_set.stats)},
        "bad_records": _bad_records(prompt_set.report),
    }
    if cfg.train.do_train:

        def on_save(step: int) -> None:
            save_checkpoint(
                trainer,
                out,
                save_total_limit=cfg.train.save_total_limit,
                write_extra=lambda folder: save_tokenizer_with_template(tokenizer, choice.template, folder),
            )

        history = trainer.train(on_save=on_save)
        save_policy(model, out)
        save_tokenizer_with_template(tokenizer, choice.template, out)
        if stage == "ppo":
            from safetensors.torch import save_file

            save_file(
                {k: v.detach().cpu().contiguous() for k, v in trainer.value_head.state_dict().items()},
                str(out / "value_head.safetensors"),
            )
        state = {"global_step": trainer.global_step, "max_steps": loop.max_steps, "log_history": history}
        (out / "trainer_state.json").write_text(json.dumps(state, indent=2))
        last = history[-1] if history else {}
        summary.update(
            {
                "global_step": trainer.global_step,
                "resumed_from": resume,
                "train_seconds": round(trainer.train_seconds, 3),
                "final_reward": last.get("reward"),
                "final_loss": last.get("loss"),
                "reward_funcs": [rw.name for rw in rewards],
            }
        )
        if cfg.train.plot_loss:
            plot_loss(out)
    summary["peak_memory_mb"] = round(peak_memory_mb(), 1)
    summary["device"] = "cuda" if torch.cuda.is_available() else "cpu"
    (out / "run_summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False, default=str))
    logger.info("run summary written to %s", out / "run_summary.json")
    return TrainResult(out, summary)
