"""grpo/ppo checkpoints: 2 steps + resume for 2 more equals 4 uninterrupted steps (weights and logs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.rl.test_rl_training import _config, _write_dataset

RUN = {"save_steps": 2, "lr_scheduler_type": "constant", "learning_rate": 5e-2, "grpo_beta": 0.1}


def _run(model_dir: Path, data: Path, out: Path, **extra) -> list[dict]:
    from tunesmith.train.rl_workflow import run_rl

    run_rl(_config(model_dir, data, out, **{**RUN, **extra}))
    return json.loads((out / "trainer_state.json").read_text())["log_history"]


def _same_weights(a: Path, b: Path, name: str) -> None:
    wa, wb = load_file(str(a / name)), load_file(str(b / name))
    assert wa.keys() == wb.keys()
    for key in wa:
        torch.testing.assert_close(wa[key], wb[key], atol=1e-6, rtol=0, msg=key)


def _same_logs(resumed: list[dict], uninterrupted: list[dict]) -> None:
    assert [h["step"] for h in resumed] == [1, 2, 3, 4]
    for a, b in zip(resumed[2:], uninterrupted[2:], strict=True):
        assert a.keys() == b.keys()
        for key in a:
            assert a[key] == pytest.approx(b[key], abs=1e-6), key


@pytest.mark.parametrize(
    ("extra", "weights"),
    [
        ({"finetuning_type": "lora"}, "adapter_model.safetensors"),
        ({"stage": "ppo", "finetuning_type": "full", "per_device_train_batch_size": 2}, "model.safetensors"),
    ],
    ids=["grpo-lora", "ppo-full"],
)
def test_resumed_run_equals_the_uninterrupted_one(rl_model_dir, tmp_path, extra, weights) -> None:
    data = _write_dataset(tmp_path / "data")
    whole = _run(rl_model_dir, data, tmp_path / "whole", max_steps=4, **extra)
    assert (tmp_path / "whole" / "checkpoint-2").is_dir() and (tmp_path / "whole" / "checkpoint-4").is_dir()

    part = tmp_path / "part"
    _run(rl_model_dir, data, part, max_steps=2, **extra)
    checkpoint = part / "checkpoint-2"
    for name in (
        "optimizer.pt",
        "scheduler.pt",
        "rng_state.pth",
        "rl_state.json",
        weights,
        "tokenizer_config.json",
    ):
        assert (checkpoint / name).is_file(), name
    assert json.loads((checkpoint / "rl_state.json").read_text())["global_step"] == 2
    resumed = _run(rl_model_dir, data, part, max_steps=4, resume_from_checkpoint=True, **extra)

    _same_weights(part, tmp_path / "whole", weights)
    _same_logs(resumed, whole)
    if extra.get("stage") == "ppo":
        _same_weights(part, tmp_path / "whole", "value_head.safetensors")
    summary = json.loads((part / "run_summary.json").read_text())
    assert summary["resumed_from"] == str(checkpoint) and summary["global_step"] == 4


def test_without_resume_the_steps_after_2_differ(rl_model_dir, tmp_path) -> None:
    """Guards the test above: a fresh 2-step run ends elsewhere than 2 + 2 resumed steps."""
    data = _write_dataset(tmp_path / "data")
    _run(rl_model_dir, data, tmp_path / "two", max_steps=2)
    _run(rl_model_dir, data, tmp_path / "four", max_steps=4)
    a = load_file(str(tmp_path / "two" / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "four" / "adapter_model.safetensors"))
    assert any(not torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_save_total_limit_and_bad_checkpoints(rl_model_dir, tmp_path) -> None:
    from tunesmith.train.resume import OutputDirError
    from tunesmith.train.rl.checkpoint import CheckpointError

    data = _write_dataset(tmp_path / "data")
    out = tmp_path / "out"
    _run(rl_model_dir, data, out, max_steps=4, save_steps=1, save_total_limit=2)
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-3", "checkpoint-4"]
    (out / "checkpoint-4" / "optimizer.pt").unlink()
    with pytest.raises(CheckpointError, match=r"checkpoint-4 lacks optimizer\.pt"):
        _run(rl_model_dir, data, out, max_steps=6)  # the last checkpoint is resumed by default
    with pytest.raises(OutputDirError, match="holds no checkpoint-N"):
        _run(rl_model_dir, data, tmp_path / "empty", max_steps=2, resume_from_checkpoint=True)
