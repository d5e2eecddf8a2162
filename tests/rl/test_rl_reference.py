"""grpo/ppo with an explicit ref_model: the KL is measured against that model; dataset columns reach
the reward functions through run_rl."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.rl.test_rl_training import _config, _write_dataset


@pytest.fixture(scope="module")
def other_model_dir(rl_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with different (perturbed) weights, saved as a model folder."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path_factory.mktemp("rl-other")
    model = AutoModelForCausalLM.from_pretrained(str(rl_model_dir))
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=generator) * 0.05)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(str(rl_model_dir)).save_pretrained(out)
    return out


def _kl_history(model_dir: Path, data: Path, out: Path, **extra) -> list[dict]:
    from tunesmith.train.rl_workflow import run_rl

    cfg = _config(model_dir, data, out, grpo_beta=0.1, grpo_reward_funcs=["length:20"], **extra)
    result = run_rl(cfg)
    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    assert result.summary["reference"]
    return history


def test_grpo_kl_is_measured_against_the_explicit_ref_model(rl_model_dir, other_model_dir, tmp_path) -> None:
    data = _write_dataset(tmp_path / "data")
    disabled = _kl_history(rl_model_dir, data, tmp_path / "disabled")
    same = _kl_history(rl_model_dir, data, tmp_path / "same", ref_model=str(rl_model_dir))
    other = _kl_history(rl_model_dir, data, tmp_path / "other", ref_model=str(other_model_dir))
    # the base itself as ref_model: exactly the adapter-disabled reference (same samples, same KL)
    for a, b in zip(disabled, same, strict=True):
        assert a["kl"] == pytest.approx(b["kl"], abs=1e-6) and a["loss"] == pytest.approx(b["loss"], abs=1e-6)
    # step 1: the fresh adapter is the base (KL 0); a reference with other weights is far from it
    assert disabled[0]["kl"] == pytest.approx(0.0, abs=1e-6)
    assert other[0]["kl"] > 1e-3
    summary = json.loads((tmp_path / "other" / "run_summary.json").read_text())
    assert summary["reference"] == f"ref_model {other_model_dir}"


def test_explicit_reference_is_frozen_in_eval_mode_on_the_policys_device_and_dtype(
    rl_model_dir, other_model_dir, tmp_path
) -> None:
    from tests.rl.conftest import load
    from tunesmith.train.rl_workflow import _reference

    model, tokenizer, _ = load(rl_model_dir, "lora")
    cfg = _config(rl_model_dir, tmp_path, tmp_path / "out", ref_model=str(other_model_dir), stage="ppo")
    ref, how = _reference(cfg, model, tokenizer)
    assert how == f"ref_model {other_model_dir}" and not ref.training
    assert all(not p.requires_grad for p in ref.parameters())
    policy = next(model.parameters())
    assert {p.device for p in ref.parameters()} == {policy.device}
    assert {p.dtype for p in ref.parameters()} == {model.dtype}
    # it is the other model's weights, not the policy's
    assert not torch.equal(ref.get_input_embeddings().weight, model.get_input_embeddings().weight)
    no_kl = _config(rl_model_dir, tmp_path, tmp_path / "out", ref_model=str(other_model_dir), grpo_beta=0.0)
    assert _reference(no_kl, model, tokenizer)[0] is None


REWARD_FILE = """
import json, pathlib

def seen(prompts, completions, **columns):
    path = pathlib.Path(__file__).with_name("seen.json")
    calls = json.loads(path.read_text()) if path.exists() else []
    calls.append({"prompts": prompts, "columns": columns})
    path.write_text(json.dumps(calls))
    return [0.0] * len(completions)
"""


def test_extra_columns_reach_the_reward_function(rl_model_dir, tmp_path) -> None:
    from tunesmith.train.rl_workflow import run_rl

    data = tmp_path / "data"
    data.mkdir()
    rows = [
        {"instruction": "What is 2+3?", "answer": "5", "solution": "2+3=5", "difficulty": 1},
        {"instruction": "What is 2*3?", "output": "6", "answer": "6", "solution": "2*3=6", "difficulty": 2},
    ]
    (data / "math.json").write_text(json.dumps(rows))
    (data / "dataset_info.json").write_text(json.dumps({"math": {"file_name": "math.json"}}))
    (tmp_path / "reward.py").write_text(REWARD_FILE)
    cfg = _config(
        rl_model_dir,
        data,
        tmp_path / "out",
        dataset="math",
        grpo_reward_funcs=[f"{tmp_path / 'reward.py'}:seen"],
        max_steps=1,
    )
    run_rl(cfg)
    calls = json.loads((tmp_path / "seen.json").read_text())
    columns = calls[0]["columns"]
    # two prompts x two generations: every column, one value per completion, and the reference as label
    assert sorted(columns["answer"]) == ["5", "5", "6", "6"]
    assert sorted(columns["solution"]) == ["2*3=6", "2*3=6", "2+3=5", "2+3=5"]
    assert sorted(columns["difficulty"]) == [1, 1, 2, 2]
    by_answer = dict(zip(columns["answer"], columns["label"], strict=True))
    assert by_answer == {"5": None, "6": "6"}
    assert all(
        p.startswith("<|im_start|>user\nWhat is") and p.endswith("<|im_start|>assistant\n")
        for p in calls[0]["prompts"]
    )
