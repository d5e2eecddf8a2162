"""GRPO (Shao et al. 2024, "DeepSeekMath", Algorithm 1) with transformers generation.

Each step: take ``prompts_per_step`` prompts, render them with the run's template, sample
``num_generations`` completions of each (temperature ``rl_temperature``, stopping at the template's
end-of-turn markers), score them with the reward functions (weighted sum), turn the rewards into
group-normalised advantages, record the sampling policy's and the reference's per-token log-probs,
then take ``iterations`` optimizer steps on the clipped surrogate with the k3 KL penalty
(:func:`~tunesmith.train.rl.losses.grpo_loss`). With ``iterations`` = 1 the "old" policy is the
current one (ratio 1, trl's shortcut), so only the KL term and the advantages shape the gradient.

Reference: the model with its LoRA adapter disabled, or a frozen copy of the initial model for full /
freeze tuning (``ref_model``); none when ``beta`` = 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from tunesmith.infer.engine import TransformersEngine
from tunesmith.infer.sampling import SamplingParams
from tunesmith.templates.base import ChatTemplate, RenderOptions
from tunesmith.train.rl.advantages import group_advantages, masked_mean
from tunesmith.train.rl.loop import LoopSettings, StepLoop, build_optimizer, chunks, optimizer_step, reference
from tunesmith.train.rl.losses import GRPOLossType, grpo_loss, reduce_tokens
from tunesmith.train.rl.rewards import NamedReward, score
from tunesmith.train.rl.rollout import (
    CompletionGenerator,
    PromptItem,
    forward_completion,
    reward_columns,
    sample,
)

__all__ = ["GRPOSettings", "GRPOTrainer"]


@dataclass(frozen=True)
class GRPOSettings:
    """The GRPO objective (config names: ``grpo_*``)."""

    num_generations: int = 8
    beta: float = 0.04
    epsilon_low: float = 0.2
    epsilon_high: float | None = None
    iterations: int = 1
    loss_type: GRPOLossType = "grpo"
    scale_rewards: bool = True
    max_completion_length: int = 128
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if self.num_generations < 2:
            raise ValueError(f"grpo_num_generations must be >= 2, got {self.num_generations}")
        if self.iterations < 1:
            raise ValueError(f"grpo_iterations must be >= 1, got {self.iterations}")
        if self.beta < 0:
            raise ValueError(f"grpo_beta must be >= 0, got {self.beta}")

    @classmethod
    def from_config(cls, cfg: Any) -> GRPOSettings:
        r = cfg.rlhf
        return cls(
            num_generations=r.grpo_num_generations,
            beta=r.grpo_beta,
            epsilon_low=r.grpo_epsilon,
            epsilon_high=r.grpo_epsilon_high,
            iterations=r.grpo_iterations,
            loss_type=r.grpo_loss_type,
            scale_rewards=r.grpo_scale_rewards,
            max_completion_length=r.max_completion_length,
            temperature=r.rl_temperature,
        )


class GRPOTrainer(StepLoop):
    """Runs GRPO on ``model`` (a PEFT model, or any causal LM with ``ref_model``); see the module
    docstring. :meth:`train` returns the log history (one dict per logging step)."""

    algorithm = "grpo"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        template: ChatTemplate,
        prompts: Sequence[PromptItem],
        rewards: Sequence[NamedReward],
        settings: GRPOSettings,
        loop: LoopSettings,
        *,
        ref_model: Any | None = None,
        render_options: RenderOptions | None = None,
        sampling: SamplingParams | None = None,
        generator: CompletionGenerator | None = None,
    ) -> None:
        if not prompts:
            raise ValueError("GRPO needs at least one prompt")
        if not rewards:
            raise ValueError("GRPO needs reward functions (grpo_reward_funcs)")
        self._start_loop(prompts, loop)
        self.model = model
        self.tokenizer = tokenizer
        self.rewards = list(rewards)
        self.settings = settings
        self.ref_model = ref_model.eval().requires_grad_(False) if ref_model is not None else None
        self.engine = TransformersEngine(model, tokenizer, template, render_options=render_options)
        self.generator = generator
        self.sampling = sampling or SamplingParams(
            max_new_tokens=settings.max_completion_length, do_sample=True, temperature=settings.temperature
        )
        params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer, self.scheduler = build_optimizer(params, loop, loop.max_steps * settings.iterations)
        self._params = params

    def _logps(self, model: Any, rows: slice, rollout: Any) -> torch.Tensor:
        return forward_completion(
            model,
            rollout.input_ids[rows],
            rollout.attention_mask[rows],
            rollout.completion_ids.shape[1],
            temperature=self.sampling.temperature,
        )[0]

    def step(self) -> dict[str, float]:
        """One GRPO step (module docstring); returns its metrics."""
        s, micro = self.settings, self.loop.micro_batch_size
        items = self._next_prompts()
        self._sync_generator()
        rollout = sample(self.engine, items, s.num_generations, self._step_sampling(), self.generator)
        per_func = score(
            self.rewards,
            rollout.prompt_texts,
            rollout.completion_texts,
            reward_columns(items, s.num_generations),
        )
        device = rollout.completion_ids.device
        table = torch.tensor([per_func[r.name] for r in self.rewards], dtype=torch.float32, device=device)
        weights = torch.tensor([r.weight for r in self.rewards], dtype=torch.float32, device=device)
        rewards = (table * weights.unsqueeze(1)).sum(0)
        advantages = group_advantages(rewards, s.num_generations, scale=s.scale_rewards)
        mask = rollout.completion_mask
        rows = mask.shape[0]
        parts = chunks(rows, micro)

        old_logps = ref_logps = None
        with torch.no_grad():
            if s.iterations > 1:
                old_logps = torch.cat([self._logps(self.model, p, rollout) for p in parts])
            if s.beta != 0.0:
                with reference(self.model, self.ref_model) as ref:
                    ref_logps = torch.cat([self._logps(ref, p, rollout) for p in parts])

        self.model.train()
        losses, kls, clips = [], [], []
        tokens = int(mask.sum())
        for _ in range(s.iterations):
            total = 0.0
            for p in parts:
                logps = self._logps(self.model, p, rollout)
                out = grpo_loss(
                    logps,
                    logps.detach() if old_logps is None else old_logps[p],
                    advantages[p],
                    ref_logps=None if ref_logps is None else ref_logps[p],
                    beta=s.beta,
                    epsilon_low=s.epsilon_low,
                    epsilon_high=s.epsilon_high,
                )
                loss = reduce_tokens(
                    out.per_token,
                    mask[p],
                    s.loss_type,
                    max_completion_length=s.max_completion_length,
                    num_sequences=rows,
                    num_tokens=tokens,
                )
                loss.backward()
                total += loss.item()
                if out.kl is not None:
                    kls.append(masked_mean(out.kl.detach(), mask[p]).item())
                clips.append(masked_mean(out.clipped.float(), mask[p]).item())
            optimizer_step(self._params, self.optimizer, self.scheduler, self.loop.max_grad_norm)
            losses.append(total)
        grouped = rewards.view(-1, s.num_generations)
        metrics = {
            "loss": sum(losses) / len(losses),
            "reward": rewards.mean().item(),
            "reward_std": grouped.std(dim=1).mean().item(),
            "frac_reward_zero_std": (grouped.std(dim=1) == 0).float().mean().item(),
            **{f"rewards/{name}": sum(v) / len(v) for name, v in per_func.items()},
            "completion_length": mask.sum(-1).float().mean().item(),
            "clip_ratio": sum(clips) / len(clips),
            "learning_rate": self.scheduler.get_last_lr()[0],
        }
        if kls:
            metrics["kl"] = sum(kls) / len(kls)
        return metrics
