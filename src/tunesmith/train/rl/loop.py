"""The optimisation plumbing GRPO and PPO share: settings from the config, optimizer and schedule,
reference log-probs, and the step loop (:class:`StepLoop`: prompt order, per-step sampling seeds,
logging, checkpoints every ``save_steps`` and the state a resumed run continues from)."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from tunesmith.config import RunConfig
    from tunesmith.infer.sampling import SamplingParams
    from tunesmith.train.rl.rollout import CompletionGenerator, PromptItem


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
    """Seeds the prompt order, and (``seed + step``) each step's sampling."""
    save_steps: int = 0
    """Checkpoint every this many steps (0: never)."""


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
    save = t.save_steps
    if isinstance(save, float) and save < 1:
        save = max(1, math.ceil(steps * save))
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
        save_steps=int(save),
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
    """The step loop GRPO and PPO share: prompts drawn in reshuffled passes (seeded by ``loop.seed``),
    each step's sampling seeded with ``loop.seed + step`` (so a resumed run samples what the
    uninterrupted one did), and :meth:`train`, which runs :meth:`step` up to ``loop.max_steps``, logs
    averages and calls ``on_save`` every ``loop.save_steps``. A subclass calls :meth:`_start_loop` in
    its ``__init__`` and implements :meth:`step`; before sampling it calls :meth:`_sync_generator`."""

    algorithm: str = "rl"
    """Name in the log lines."""
    loop: LoopSettings
    prompts: list[PromptItem]
    sampling: SamplingParams
    generator: CompletionGenerator | None = None
    model: Any

    def _start_loop(self, prompts: Sequence[PromptItem], loop: LoopSettings) -> None:
        self.prompts = list(prompts)
        self.loop = loop
        self._order: list[int] = []
        self._rng = random.Random(loop.seed)
        self.global_step = 0
        self.log_history: list[dict[str, Any]] = []
        self._pending: list[dict[str, float]] = []
        self.train_seconds = 0.0

    def _next_prompts(self) -> list[PromptItem]:
        picked = []
        for _ in range(self.loop.prompts_per_step):
            if not self._order:
                self._order = list(range(len(self.prompts)))
                self._rng.shuffle(self._order)
            picked.append(self.prompts[self._order.pop()])
        return picked

    def _step_sampling(self) -> SamplingParams:
        """This step's sampling parameters: the run's, seeded with ``loop.seed + global_step``."""
        return dataclasses.replace(self.sampling, seed=self.loop.seed + self.global_step)

    def _sync_generator(self) -> None:
        """Push the policy's current weights to the rollout generator (vLLM) before it samples: the
        weights changed with every optimizer step since the last sync (or came from a checkpoint)."""
        if self.generator is not None:
            self.generator.sync_weights(self.model)

    def step(self) -> dict[str, float]:
        raise NotImplementedError

    def loop_state(self) -> dict[str, Any]:
        """What a resumed run needs besides weights, optimizer, schedule and RNGs (JSON-ready)."""
        version, internal, gauss = self._rng.getstate()
        return {
            "global_step": self.global_step,
            "log_history": self.log_history,
            "pending_logs": self._pending,
            "prompt_order": self._order,
            "prompt_rng": [version, list(internal), gauss],
            "num_prompts": len(self.prompts),
        }

    def load_loop_state(self, state: Mapping[str, Any]) -> None:
        """Continue from :meth:`loop_state` of an earlier run (same prompts)."""
        if int(state["num_prompts"]) != len(self.prompts):
            raise ValueError(
                f"the checkpoint was taken with {state['num_prompts']} prompts, this run has {len(self.prompts)}; "
                "resume with the same dataset, max_samples and cutoff_len"
            )
        self.global_step = int(state["global_step"])
        self.log_history = [dict(h) for h in state["log_history"]]
        self._pending = [dict(p) for p in state["pending_logs"]]
        self._order = [int(i) for i in state["prompt_order"]]
        version, internal, gauss = state["prompt_rng"]
        self._rng.setstate((version, tuple(internal), gauss))

    def train(self, on_save: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
        """Run steps from ``global_step`` up to ``loop.max_steps``, logging every ``loop.logging_steps``
        (averaged over them) and calling ``on_save(step)`` every ``loop.save_steps``."""
        started = time.perf_counter()
        while self.global_step < self.loop.max_steps:
            self._pending.append(self.step())
            self.global_step += 1
            if self.global_step % self.loop.logging_steps == 0 or self.global_step == self.loop.max_steps:
                entry: dict[str, Any] = average_logs(self._pending)
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
                self._pending = []
            if on_save is not None and self.loop.save_steps and self.global_step % self.loop.save_steps == 0:
                on_save(self.global_step)
        self.train_seconds = time.perf_counter() - started
        return self.log_history


def is_peft(model: Any) -> bool:
    return callable(getattr(model, "disable_adapter", None)) and hasattr(model, "peft_config")


def save_policy(model: Any, folder: str | Path) -> None:
    """Save the policy: its trained adapter only (not a reward adapter loaded beside it), or the model."""
    if is_peft(model):
        active = model.active_adapter
        model.save_pretrained(
            str(folder), selected_adapters=[active] if isinstance(active, str) else list(active)
        )
    else:
        model.save_pretrained(str(folder))


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


def wants_vllm(cfg: RunConfig) -> bool:
    """Rollouts through vLLM: ``use_vllm: true`` (or ``infer_backend: vllm``)."""
    return bool(cfg.rlhf.use_vllm or cfg.infer.infer_backend == "vllm")
