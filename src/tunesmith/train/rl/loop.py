"""The optimisation plumbing GRPO and PPO share: settings from the config, optimizer and schedule,
reference log-probs, the vLLM guard, and the step loop (:class:`StepLoop`)."""

from __future__ import annotations

import contextlib
import logging
import math
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from tunesmith.config import RunConfig
    from tunesmith.train.rl.rollout import PromptItem


@dataclass(frozen=True)
class LoopSettings:
    """The training-loop part of an RL run (TrainConfig names)."""

    max_steps: int = 10
    """Rollout steps (each: sample, score, optimise)."""
    prompts_per_step: int = 1
    micro_batch_size: int = 8
    """Rows (completions) per forward/backward pass."""
    learning_rate: float = 1e-5
    weight_decay: float = 0.0
    lr_scheduler_type: str = "constant"
    warmup_steps: int = 0
    max_grad_norm: float = 1.0
    logging_steps: int = 1
    seed: int = 42


def loop_settings(cfg: RunConfig, *, completions_per_prompt: int, num_prompts: int) -> LoopSettings:
    """Settings from the config. A step samples ``per_device_train_batch_size *
    gradient_accumulation_steps`` completions (trl's convention), i.e. that many divided by
    ``completions_per_prompt`` prompts; ``max_steps`` (else ``num_train_epochs`` passes over the prompts)
    sets the number of steps."""
    t = cfg.train
    rows = t.per_device_train_batch_size * t.gradient_accumulation_steps
    if rows % completions_per_prompt:
        raise ValueError(
            f"per_device_train_batch_size x gradient_accumulation_steps = {rows} completions per step must be "
            f"a multiple of grpo_num_generations ({completions_per_prompt})"
        )
    prompts = rows // completions_per_prompt
    steps = t.max_steps if t.max_steps > 0 else max(1, math.ceil(t.num_train_epochs * num_prompts / prompts))
    logging = t.logging_steps
    if isinstance(logging, float) and logging < 1:
        logging = max(1, int(steps * logging))
    return LoopSettings(
        max_steps=steps,
        prompts_per_step=prompts,
        micro_batch_size=t.per_device_train_batch_size,
        learning_rate=t.learning_rate,
        weight_decay=t.weight_decay,
        lr_scheduler_type=t.lr_scheduler_type,
        warmup_steps=t.warmup_steps or int(t.warmup_ratio * steps),
        max_grad_norm=float(cfg.training_args.get("max_grad_norm", 1.0)),
        logging_steps=max(1, int(logging)),
        seed=t.seed,
    )


def build_optimizer(
    params: Sequence[torch.nn.Parameter], settings: LoopSettings, total_updates: int
) -> tuple[Any, Any]:
    """AdamW over ``params`` and the learning-rate schedule ``settings`` names."""
    import torch
    from transformers import get_scheduler

    if not params:
        raise ValueError("nothing to train: the model has no trainable parameters")
    optimizer = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=settings.weight_decay)
    scheduler = get_scheduler(
        settings.lr_scheduler_type,
        optimizer,
        num_warmup_steps=settings.warmup_steps,
        num_training_steps=max(1, total_updates),
    )
    return optimizer, scheduler


def optimizer_step(
    params: Sequence[torch.nn.Parameter], optimizer: Any, scheduler: Any, max_grad_norm: float
) -> None:
    """Clip the gradients of ``params`` to ``max_grad_norm`` (when > 0), step optimizer and schedule, clear
    the gradients."""
    import torch

    if max_grad_norm > 0:
        torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)


def average_logs(pending: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Each metric averaged over the steps that reported it (keys in order of first appearance)."""
    return {
        k: sum(m[k] for m in pending if k in m) / sum(1 for m in pending if k in m)
        for k in dict.fromkeys(k for m in pending for k in m)
    }


class StepLoop:
    """The step loop GRPO and PPO share: prompts drawn in reshuffled passes (seeded by ``loop.seed``) and
    :meth:`train`, which runs ``loop.max_steps`` calls of :meth:`step` and logs their averages. A subclass
    calls :meth:`_start_loop` in its ``__init__`` and implements :meth:`step`."""

    algorithm: str = "rl"
    """Name in the log lines."""
    loop: LoopSettings
    prompts: list[PromptItem]

    def _start_loop(self, prompts: Sequence[PromptItem], loop: LoopSettings) -> None:
        self.prompts = list(prompts)
        self.loop = loop
        self._order: list[int] = []
        self._rng = random.Random(loop.seed)
        self.global_step = 0
        self.log_history: list[dict[str, Any]] = []

    def _next_prompts(self) -> list[PromptItem]:
        picked = []
        for _ in range(self.loop.prompts_per_step):
            if not self._order:
                self._order = list(range(len(self.prompts)))
                self._rng.shuffle(self._order)
            picked.append(self.prompts[self._order.pop()])
        return picked

    def step(self) -> dict[str, float]:
        raise NotImplementedError

    def train(self) -> list[dict[str, Any]]:
        """Run ``loop.max_steps`` steps, logging every ``loop.logging_steps`` (averaged over them)."""
        pending: list[dict[str, float]] = []
        started = time.perf_counter()
        for _ in range(self.loop.max_steps):
            pending.append(self.step())
            self.global_step += 1
            if self.global_step % self.loop.logging_steps == 0 or self.global_step == self.loop.max_steps:
                entry: dict[str, Any] = average_logs(pending)
                entry["step"] = self.global_step
                self.log_history.append(entry)
                logging.getLogger(type(self).__module__).info(  # the trainer's module logger
                    "%s step %d/%d: reward %.4f, loss %.4f",
                    self.algorithm,
                    self.global_step,
                    self.loop.max_steps,
                    entry["reward"],
                    entry["loss"],
                )
                pending = []
        self.train_seconds = time.perf_counter() - started
        return self.log_history


def is_peft(model: Any) -> bool:
    return callable(getattr(model, "disable_adapter", None)) and hasattr(model, "peft_config")


@contextlib.contextmanager
def reference(model: Any, ref_model: Any | None) -> Iterator[Any]:
    """The reference policy: ``ref_model`` when given, else ``model`` with its LoRA adapter disabled."""
    if ref_model is not None:
        yield ref_model
    elif is_peft(model):
        with model.disable_adapter():
            yield model
    else:
        raise ValueError(
            "a reference model is needed (KL penalty): train a LoRA adapter (the reference is the model with "
            "the adapter disabled) or pass a frozen copy of the initial model"
        )


def chunks(n: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def check_generation_backend(cfg: RunConfig) -> None:
    """Rollouts run on transformers' generate; asking for vLLM is a clear error."""
    wants_vllm = cfg.rlhf.use_vllm or cfg.infer.infer_backend == "vllm"
    if not wants_vllm:
        return
    import importlib.util

    import torch

    if importlib.util.find_spec("vllm") is None or not torch.cuda.is_available():
        raise NotImplementedError(
            "vLLM generation for GRPO/PPO rollouts: install tunesmith[vllm] and use a CUDA GPU "
            "(or set use_vllm: false to sample with transformers)"
        )
    raise NotImplementedError(
        "vLLM rollouts are not available in this version; set use_vllm: false (and infer_backend: huggingface)"
    )
