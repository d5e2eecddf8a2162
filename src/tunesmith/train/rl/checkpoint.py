"""RL checkpoints (``save_steps``) and resuming from them (``resume_from_checkpoint``).

``output_dir/checkpoint-N`` holds, in transformers' layout where one exists:

* the policy: ``adapter_model.safetensors`` + ``adapter_config.json`` (LoRA) or the full model
  (``save_pretrained``), and PPO's ``value_head.safetensors``;
* ``optimizer.pt``, ``scheduler.pt`` and ``rng_state.pth`` (python, torch CPU and CUDA generators);
* ``rl_state.json``: the RL step counter, the log history, logs not yet averaged, the prompt order and
  its generator (and PPO's adaptive KL coefficient) — :meth:`~tunesmith.train.rl.loop.StepLoop.loop_state`;
* ``trainer_state.json`` (``global_step``, ``log_history``), the tokenizer with the training template.

A checkpoint is written to ``checkpoint-N.tmp`` and renamed when complete, so an interrupted save never
looks like a checkpoint. ``save_total_limit`` keeps the newest ones. Resuming loads every piece into the
freshly built trainer in place (the optimizer keeps its parameters), restores the RNGs last, and the
loop continues at step N + 1: with the per-step sampling seeds the resumed run equals the
uninterrupted one.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

__all__ = ["CheckpointError", "checkpoints", "load_checkpoint", "save_checkpoint"]

RL_STATE = "rl_state.json"
REQUIRED = ("optimizer.pt", "scheduler.pt", "rng_state.pth", RL_STATE)
_NAME = re.compile(r"^checkpoint-(\d+)$")


class CheckpointError(ValueError):
    """A checkpoint folder that cannot be resumed from; the message names the file and the fix."""


def checkpoints(output_dir: str | Path) -> list[Path]:
    """The ``checkpoint-N`` folders of ``output_dir``, oldest (smallest N) first."""
    out = Path(output_dir)
    if not out.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in out.iterdir() if p.is_dir() and (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def _rng_states() -> dict[str, Any]:
    import random

    import torch

    states: dict[str, Any] = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _restore_rng(states: dict[str, Any]) -> None:
    import random

    import torch

    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_checkpoint(
    trainer: Any,
    output_dir: str | Path,
    *,
    save_total_limit: int | None = None,
    write_extra: Callable[[Path], None] | None = None,
) -> Path:
    """Write ``output_dir/checkpoint-{trainer.global_step}`` (module docstring); ``write_extra(folder)``
    adds files (the tokenizer) before the folder is renamed into place."""
    import torch
    from safetensors.torch import save_file

    step = trainer.global_step
    final = Path(output_dir) / f"checkpoint-{step}"
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    from tunesmith.train.rl.loop import save_policy

    save_policy(trainer.model, tmp)
    value_head = getattr(trainer, "value_head", None)
    if value_head is not None:
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in value_head.state_dict().items()},
            str(tmp / "value_head.safetensors"),
        )
    torch.save(trainer.optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save(trainer.scheduler.state_dict(), tmp / "scheduler.pt")
    torch.save(_rng_states(), tmp / "rng_state.pth")
    state = trainer.loop_state()
    (tmp / RL_STATE).write_text(json.dumps(state, indent=1))
    trainer_state = {
        "global_step": step,
        "max_steps": trainer.loop.max_steps,
        "log_history": state["log_history"],
    }
    (tmp / "trainer_state.json").write_text(json.dumps(trainer_state, indent=2))
    if write_extra is not None:
        write_extra(tmp)
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    logger.info("saved checkpoint %s", final)
    if save_total_limit:
        for old in checkpoints(output_dir)[:-save_total_limit]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def _load_policy(model: Any, folder: Path) -> None:
    """The checkpoint's weights copied into ``model``'s parameters in place."""
    from safetensors.torch import load_file

    from tunesmith.train.rl.loop import is_peft

    if is_peft(model):
        from peft import set_peft_model_state_dict

        file = folder / "adapter_model.safetensors"
        if not file.is_file():
            raise CheckpointError(
                f"{file} is missing: the run trains a LoRA adapter but the checkpoint holds none "
                "(was it written by a full/freeze run? resume with the same finetuning_type)"
            )
        result = set_peft_model_state_dict(model, load_file(str(file)))
        unexpected = list(getattr(result, "unexpected_keys", []) or [])
        if unexpected:
            raise CheckpointError(f"{file}: weights the adapter does not have: {unexpected[:5]}")
        return
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        files = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    elif (folder / "model.safetensors").is_file():
        files = ["model.safetensors"]
    else:
        raise CheckpointError(
            f"{folder} holds no model.safetensors (nor an index of shards); resume with the "
            "finetuning_type that wrote it"
        )
    names = {n for n, _ in model.named_parameters()} | {n for n, _ in model.named_buffers()}
    loaded: set[str] = set()
    for name in files:
        part = load_file(str(folder / name))
        unexpected = [k for k in part if k not in names]
        if unexpected:
            raise CheckpointError(f"{folder / name}: weights the model does not have: {unexpected[:5]}")
        model.load_state_dict(part, strict=False)
        loaded.update(part)
    missing = [n for n, p in model.named_parameters() if p.requires_grad and n not in loaded]
    if missing:
        raise CheckpointError(f"{folder}: trained weights missing from the checkpoint: {missing[:5]}")


def load_checkpoint(trainer: Any, folder: str | Path) -> None:
    """Continue ``trainer`` (a GRPO/PPO trainer built as for a fresh run) from ``folder``."""
    import torch
    from safetensors.torch import load_file

    path = Path(folder)
    missing = [name for name in REQUIRED if not (path / name).is_file()]
    if missing:
        raise CheckpointError(
            f"resume_from_checkpoint: {path} lacks {', '.join(missing)}; it is not a complete grpo/ppo "
            "checkpoint (choose another checkpoint-N, or set overwrite_output_dir: true to start over)"
        )
    _load_policy(trainer.model, path)
    value_head = getattr(trainer, "value_head", None)
    if value_head is not None:
        file = path / "value_head.safetensors"
        if not file.is_file():
            raise CheckpointError(f"{file} is missing: a ppo checkpoint holds the value head")
        value_head.load_state_dict(load_file(str(file), device=str(next(value_head.parameters()).device)))
    device = next(trainer.model.parameters()).device
    trainer.optimizer.load_state_dict(
        torch.load(path / "optimizer.pt", map_location=device, weights_only=True)
    )
    trainer.scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=True))
    trainer.load_loop_state(json.loads((path / RL_STATE).read_text()))
    _restore_rng(torch.load(path / "rng_state.pth", weights_only=True))
    logger.info("resumed from %s at step %d", path, trainer.global_step)
