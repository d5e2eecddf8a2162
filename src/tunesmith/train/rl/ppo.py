"""PPO for language models (Ouyang et al. 2022, "Training language models to follow instructions
with human feedback"; Ziegler et al. 2019, "Fine-Tuning Language Models from Human Preferences"),
as trl's classic PPOTrainer and LLaMA-Factory run it, on transformers generation.

Each step: sample one completion per prompt (template rendering and stop tokens as for GRPO), score
it (reward functions, or a reward model), record the rollout policy's per-token log-probs and values
and the reference's log-probs. The per-token reward is ``-kl_coef * (logp - ref_logp)`` with the
score added at the last completion token; GAE gives advantages (whitened) and returns; then
``ppo_epochs`` passes over the rollout in micro-batches, each an optimizer step on
``policy_loss + vf_coef * value_loss`` (:mod:`tunesmith.train.rl.losses`). The KL coefficient adapts
towards ``ppo_target`` (Ziegler et al. 2019, §2.2) unless ``ppo_adaptive_kl`` is false.

The value head is a linear layer on the policy's last hidden state (shared backbone, as trl's
``AutoModelForCausalLMWithValueHead``); it is trained with the adapter and saved next to it as
``value_head.safetensors``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from tunesmith.infer.engine import TransformersEngine
from tunesmith.infer.sampling import SamplingParams
from tunesmith.templates.base import ChatTemplate, RenderOptions
from tunesmith.train.rl.advantages import gae, masked_mean, whiten
from tunesmith.train.rl.loop import LoopSettings, StepLoop, build_optimizer, chunks, optimizer_step, reference
from tunesmith.train.rl.losses import ppo_policy_loss, ppo_value_loss
from tunesmith.train.rl.rewards import NamedReward, score
from tunesmith.train.rl.rollout import (
    CompletionGenerator,
    PromptItem,
    forward_completion,
    reward_columns,
    sample,
)

__all__ = ["PPOSettings", "PPOTrainer", "Scorer", "ValueHead", "adaptive_kl_coef", "reward_func_scorer"]

Scorer = Callable[[Sequence[str], Sequence[str], Mapping[str, Sequence[Any]]], dict[str, list[float]]]
"""``(prompts, completions, columns) → {name: scores}``; the sequence score is the sum of the entries."""


def reward_func_scorer(rewards: Sequence[NamedReward]) -> Scorer:
    """A scorer from reward functions, each weighted (the weights are applied here)."""

    def scorer(prompts: Sequence[str], completions: Sequence[str], columns: Mapping[str, Sequence[Any]]):
        scores = score(rewards, prompts, completions, columns)
        return {r.name: [r.weight * v for v in scores[r.name]] for r in rewards}

    return scorer


def adaptive_kl_coef(coef: float, kl: float, target: float, n_steps: int, horizon: int = 10000) -> float:
    r"""Ziegler et al. 2019 (§2.2): :math:`\beta \leftarrow \beta(1 + \mathrm{clip}(KL/KL_{target} - 1,
    -0.2, 0.2)\,n/H)`, with ``n`` the samples of the step and ``H`` the horizon."""
    error = min(max(kl / target - 1.0, -0.2), 0.2)
    return coef * (1.0 + error * n_steps / horizon)


class ValueHead(nn.Module):
    """``hidden → 1`` value estimate per position (float32)."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.summary = nn.Linear(hidden_size, 1)
        nn.init.normal_(self.summary.weight, std=1.0 / (hidden_size + 1))
        nn.init.zeros_(self.summary.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.summary(hidden.float()).squeeze(-1)


@dataclass(frozen=True)
class PPOSettings:
    """The PPO objective (config names: ``ppo_*``)."""

    epochs: int = 4
    kl_coef: float = 0.2
    adaptive_kl: bool = True
    target_kl: float = 6.0
    kl_horizon: int = 10000
    cliprange: float = 0.2
    cliprange_value: float = 0.2
    vf_coef: float = 0.1
    gamma: float = 1.0
    lam: float = 0.95
    whiten_rewards: bool = False
    max_completion_length: int = 128
    temperature: float = 1.0

    @classmethod
    def from_config(cls, cfg: Any) -> PPOSettings:
        r = cfg.rlhf
        return cls(
            epochs=r.ppo_epochs,
            kl_coef=r.ppo_kl_coef,
            adaptive_kl=r.ppo_adaptive_kl,
            target_kl=r.ppo_target,
            cliprange=r.ppo_cliprange,
            cliprange_value=r.ppo_cliprange_value,
            vf_coef=r.ppo_vf_coef,
            gamma=r.ppo_gamma,
            lam=r.ppo_lam,
            whiten_rewards=r.ppo_whiten_rewards,
            max_completion_length=r.max_completion_length,
            temperature=r.rl_temperature,
        )


def _hidden_size(model: Any) -> int:
    config = model.config
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    return int(text.hidden_size)


class PPOTrainer(StepLoop):
    """Runs PPO (module docstring); :meth:`train` returns the log history."""

    algorithm = "ppo"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        template: ChatTemplate,
        prompts: Sequence[PromptItem],
        scorer: Scorer,
        settings: PPOSettings,
        loop: LoopSettings,
        *,
        ref_model: Any | None = None,
        value_head: ValueHead | None = None,
        render_options: RenderOptions | None = None,
        sampling: SamplingParams | None = None,
        generator: CompletionGenerator | None = None,
    ) -> None:
        if not prompts:
            raise ValueError("PPO needs at least one prompt")
        self._start_loop(prompts, loop)
        self.model = model
        self.tokenizer = tokenizer
        self.scorer = scorer
        self.settings = settings
        self.ref_model = ref_model.eval().requires_grad_(False) if ref_model is not None else None
        device = next(model.parameters()).device
        self.value_head = (value_head or ValueHead(_hidden_size(model))).to(device)
        self.engine = TransformersEngine(model, tokenizer, template, render_options=render_options)
        self.generator = generator
        self.sampling = sampling or SamplingParams(
            max_new_tokens=settings.max_completion_length, do_sample=True, temperature=settings.temperature
        )
        params = [p for p in model.parameters() if p.requires_grad] + list(self.value_head.parameters())
        updates = loop.max_steps * settings.epochs * -(-loop.prompts_per_step // loop.micro_batch_size)
        self.optimizer, self.scheduler = build_optimizer(params, loop, updates)
        self._params = params
        self.kl_coef = settings.kl_coef

    def loop_state(self) -> dict[str, Any]:
        return {**super().loop_state(), "kl_coef": self.kl_coef}

    def load_loop_state(self, state: Mapping[str, Any]) -> None:
        super().load_loop_state(state)
        self.kl_coef = float(state["kl_coef"])

    def _forward(
        self, model: Any, rows: slice, rollout: Any, *, values: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        logps, hidden = forward_completion(
            model,
            rollout.input_ids[rows],
            rollout.attention_mask[rows],
            rollout.completion_ids.shape[1],
            hidden_states=values,
            temperature=self.sampling.temperature,
        )
        return logps, self.value_head(hidden) if hidden is not None else None

    def step(self) -> dict[str, float]:
        """One PPO step (module docstring); returns its metrics."""
        s = self.settings
        items = self._next_prompts()
        self._sync_generator()
        rollout = sample(self.engine, items, 1, self._step_sampling(), self.generator)
        per_func = self.scorer(rollout.prompt_texts, rollout.completion_texts, reward_columns(items, 1))
        mask = rollout.completion_mask
        rows = mask.shape[0]
        parts = chunks(rows, self.loop.micro_batch_size)
        scores = torch.tensor(
            [sum(v[i] for v in per_func.values()) for i in range(rows)],
            dtype=torch.float32,
            device=mask.device,
        )
        with torch.no_grad():
            self.model.eval()
            old = [self._forward(self.model, p, rollout, values=True) for p in parts]
            old_logps = torch.cat([o[0] for o in old])
            old_values = torch.cat([o[1] for o in old])
            with reference(self.model, self.ref_model) as ref:
                ref_logps = torch.cat([self._forward(ref, p, rollout, values=False)[0] for p in parts])
            kl = (old_logps - ref_logps) * mask
            token_rewards = -self.kl_coef * kl
            last = (mask.sum(-1) - 1).clamp(min=0)
            token_rewards[torch.arange(rows, device=mask.device), last] += scores
            if s.whiten_rewards:
                token_rewards = whiten(token_rewards, mask, shift_mean=False)
            advantages, returns = gae(token_rewards, old_values, mask, gamma=s.gamma, lam=s.lam)
            advantages = whiten(advantages, mask)
        self.model.train()
        policy_losses, value_losses, clip_fracs = [], [], []
        for _ in range(s.epochs):
            for p in parts:
                logps, values = self._forward(self.model, p, rollout, values=True)
                pl = ppo_policy_loss(logps, old_logps[p], advantages[p], mask[p], cliprange=s.cliprange)
                vl = ppo_value_loss(
                    values, old_values[p], returns[p], mask[p], cliprange_value=s.cliprange_value
                )
                (pl.loss + s.vf_coef * vl.loss).backward()
                optimizer_step(self._params, self.optimizer, self.scheduler, self.loop.max_grad_norm)
                policy_losses.append(pl.loss.item())
                value_losses.append(vl.loss.item())
                clip_fracs.append(pl.clip_fraction.item())
        mean_kl = kl.sum(-1).mean().item()
        metrics = {
            "loss": sum(policy_losses) / len(policy_losses)
            + s.vf_coef * sum(value_losses) / len(value_losses),
            "policy_loss": sum(policy_losses) / len(policy_losses),
            "value_loss": sum(value_losses) / len(value_losses),
            "reward": scores.mean().item(),
            **{f"rewards/{name}": sum(v) / len(v) for name, v in per_func.items()},
            "kl": mean_kl,
            "kl_coef": self.kl_coef,
            "clip_fraction": sum(clip_fracs) / len(clip_fracs),
            "completion_length": mask.sum(-1).float().mean().item(),
            "values": masked_mean(old_values, mask).item(),
            "learning_rate": self.scheduler.get_last_lr()[0],
        }
        if s.adaptive_kl:
            self.kl_coef = adaptive_kl_coef(self.kl_coef, mean_kl, s.target_kl, rows, s.kl_horizon)
        return metrics
