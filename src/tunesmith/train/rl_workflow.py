"""The grpo / ppo workflow: config → tokenizer + template → prompts → policy (+ reference) → RL loop
→ artefacts.

output_dir ends up holding, as the pt/sft workflow's: the adapter (LoRA) or the full model, the
tokenizer with the training template as ``chat_template``, ``trainer_state.json`` (with
``log_history``: reward, per-function rewards, loss, kl, ...), ``tunesmith_config.yaml`` and
``run_summary.json``; PPO adds ``value_head.safetensors``.

Reward (PPO): the reward model at ``reward_model`` (an rm-stage output, loaded with
:func:`tunesmith.train.reward.load_reward_model`), else the ``grpo_reward_funcs``.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

from tunesmith.config import RunConfig
from tunesmith.train.workflow import TrainResult, peak_memory_mb, save_tokenizer_with_template

logger = logging.getLogger(__name__)

__all__ = ["run_rl"]


def _reward_model_scorer(cfg: RunConfig, template: Any) -> Any:
    """Scores from the reward model at ``reward_model`` (an rm-stage output_dir): each sample is
    scored as the rendered prompt + completion + the template's end-of-turn marker, the text a
    conversation ending with that reply renders to."""
    from tunesmith.model.dtype import default_device
    from tunesmith.train.reward import load_reward_model

    rm = load_reward_model(cfg.rlhf.reward_model, device=default_device())
    end = template.stop_strings[0] if template.stop_strings else ""

    def scorer(prompts: Any, completions: Any, columns: Any) -> dict[str, list[float]]:
        texts = [p + c + end for p, c in zip(prompts, completions, strict=True)]
        return {"reward_model": rm.score(texts, batch_size=cfg.train.per_device_eval_batch_size)}

    return scorer


def run_rl(cfg: RunConfig) -> TrainResult:
    """Run stage grpo or ppo as the config says (module docstring)."""
    import torch
    import yaml
    from transformers import set_seed

    from tunesmith.families import build_catalog
    from tunesmith.families.resolve import choose_template
    from tunesmith.infer.build import render_options
    from tunesmith.model import load_model, load_tokenizer
    from tunesmith.train.plot import plot_loss
    from tunesmith.train.rl.loop import check_generation_backend, is_peft, loop_settings
    from tunesmith.train.rl.rewards import load_reward_funcs
    from tunesmith.train.rl.rollout import load_prompts, rollout_params

    stage = cfg.finetune.stage
    if stage not in ("grpo", "ppo"):
        raise ValueError(f"run_rl runs stage grpo or ppo, not {stage!r}")
    if not cfg.train.output_dir:
        raise ValueError("output_dir: required for training (where the model, logs and checkpoints go)")
    check_generation_backend(cfg)
    r = cfg.rlhf
    rewards = load_reward_funcs(r.grpo_reward_funcs, r.grpo_reward_weights)
    if stage == "grpo" and not rewards:
        raise ValueError(
            "stage grpo needs grpo_reward_funcs (builtins: exact_match, contains, regex_match, format, length)"
        )
    if stage == "ppo" and not rewards and not r.reward_model:
        raise ValueError("stage ppo needs reward_model or grpo_reward_funcs")

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
    prompts = load_prompts(cfg)
    model = load_model(
        cfg.model,
        tokenizer,
        finetune_cfg=cfg.finetune,
        for_training=True,
        gradient_checkpointing=cfg.train.gradient_checkpointing,
    )
    needs_ref = stage == "ppo" or r.grpo_beta != 0.0
    ref_model = None
    if needs_ref and not is_peft(model):
        if r.ref_model:
            raise NotImplementedError(
                "ref_model: a separate reference model is not available yet for grpo/ppo"
            )
        # full / freeze tuning: the initial weights, frozen
        ref_model = copy.deepcopy(model).eval().requires_grad_(False)

    out = Path(cfg.train.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tunesmith_config.yaml").write_text(
        yaml.safe_dump(cfg.to_dict(), sort_keys=False, allow_unicode=True)
    )
    params = rollout_params(cfg)
    common = {"ref_model": ref_model, "render_options": render_options(cfg), "sampling": params}
    trainer: Any
    if stage == "grpo":
        from tunesmith.train.rl.grpo import GRPOSettings, GRPOTrainer

        settings = GRPOSettings.from_config(cfg)
        loop = loop_settings(cfg, completions_per_prompt=settings.num_generations, num_prompts=len(prompts))
        trainer = GRPOTrainer(model, tokenizer, choice.template, prompts, rewards, settings, loop, **common)
    else:
        from tunesmith.train.rl.ppo import PPOSettings, PPOTrainer, reward_func_scorer

        scorer = _reward_model_scorer(cfg, choice.template) if r.reward_model else reward_func_scorer(rewards)
        loop = loop_settings(cfg, completions_per_prompt=1, num_prompts=len(prompts))
        trainer = PPOTrainer(
            model, tokenizer, choice.template, prompts, scorer, PPOSettings.from_config(cfg), loop, **common
        )

    summary: dict[str, Any] = {
        "stage": stage,
        "template": choice.name,
        "template_reason": choice.reason,
        "prompts": len(prompts),
    }
    if cfg.train.do_train:
        history = trainer.train()
        model.save_pretrained(str(out))
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
