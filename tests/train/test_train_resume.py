"""A run resumed from a mid-run checkpoint ends with the uninterrupted run's weights; output_dir
rules: an existing checkpoint is resumed automatically, a non-empty folder without one is refused."""

from __future__ import annotations

import shutil

import pytest
import torch

from tests.train.conftest import read_tensors, train

LORA_RUN = {
    "finetuning_type": "lora",
    "lora_rank": 8,
    "learning_rate": 5e-3,
    "max_steps": 6,
    "save_strategy": "steps",
    "save_steps": 3,
}


def _assert_same_tensors(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys() and a
    for name in a:
        diff = (a[name].float() - b[name].float()).abs().max().item()
        assert diff <= 1e-6, f"{name}: max |difference| {diff:g}"


@pytest.fixture(scope="module")
def uninterrupted(tiny_model, tmp_path_factory):
    """Six LoRA steps with checkpoints at steps 3 and 6."""
    out = tmp_path_factory.mktemp("uninterrupted")
    result = train(tiny_model("qwen3"), out, **LORA_RUN)
    assert (out / "checkpoint-3").is_dir() and result.summary["global_step"] == 6
    return out


def test_explicit_resume_ends_with_the_same_adapter(tiny_model, uninterrupted, tmp_path) -> None:
    start = uninterrupted / "checkpoint-3"
    before = read_tensors(uninterrupted / "adapter_model.safetensors")
    assert any(
        (before[k] - read_tensors(start / "adapter_model.safetensors")[k]).abs().max() > 0 for k in before
    )
    result = train(tiny_model("qwen3"), tmp_path / "resumed", resume_from_checkpoint=str(start), **LORA_RUN)
    assert result.summary["resumed_from"] == str(start)
    assert result.summary["global_step"] == 6
    _assert_same_tensors(before, read_tensors(tmp_path / "resumed" / "adapter_model.safetensors"))


def test_a_checkpoint_in_output_dir_is_resumed_automatically(tiny_model, uninterrupted, tmp_path) -> None:
    out = tmp_path / "interrupted"
    out.mkdir()
    shutil.copytree(uninterrupted / "checkpoint-3", out / "checkpoint-3")  # a run stopped after step 3
    result = train(tiny_model("qwen3"), out, overwrite_output_dir=False, **LORA_RUN)
    assert result.summary["resumed_from"] == str(out / "checkpoint-3")
    _assert_same_tensors(
        read_tensors(uninterrupted / "adapter_model.safetensors"),
        read_tensors(out / "adapter_model.safetensors"),
    )


def test_a_finished_run_is_resumed_not_restarted(tiny_model, uninterrupted, tmp_path) -> None:
    out = tmp_path / "again"
    shutil.copytree(uninterrupted, out)
    result = train(tiny_model("qwen3"), out, overwrite_output_dir=False, **LORA_RUN)
    assert result.summary["resumed_from"] == str(out / "checkpoint-6")
    # transformers' Trainer checks max_steps after a step, so resuming at the end takes at most one more
    assert result.summary["global_step"] in (6, 7)


def test_overwrite_output_dir_starts_from_scratch(tiny_model, uninterrupted, tmp_path) -> None:
    out = tmp_path / "overwritten"
    shutil.copytree(uninterrupted, out)
    result = train(tiny_model("qwen3"), out, overwrite_output_dir=True, **{**LORA_RUN, "max_steps": 1})
    assert result.summary["resumed_from"] is None and result.summary["global_step"] == 1


def test_non_empty_output_dir_without_checkpoint_is_refused(tiny_model, tmp_path) -> None:
    from tunesmith.train.resume import OutputDirError

    out = tmp_path / "occupied"
    out.mkdir()
    (out / "notes.txt").write_text("someone else's files")
    with pytest.raises(OutputDirError, match=r"not empty.*overwrite_output_dir: true"):
        train(tiny_model("qwen3"), out, overwrite_output_dir=False, max_steps=1)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_missing_resume_checkpoint_is_a_clear_error(tiny_model, tmp_path) -> None:
    from tunesmith.train.resume import OutputDirError

    with pytest.raises(OutputDirError, match="resume_from_checkpoint: .*nowhere is not a directory"):
        train(
            tiny_model("qwen3"),
            tmp_path / "out",
            resume_from_checkpoint=str(tmp_path / "nowhere"),
            max_steps=1,
        )
