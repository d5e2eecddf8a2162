"""GRPO learns a toy verifiable task; PPO runs its loop; run_rl writes its artefacts; prompt loading."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.rl.conftest import load
from tunesmith.templates.messages import Conversation, Message
from tunesmith.train.rl.loop import LoopSettings
from tunesmith.train.rl.rewards import NamedReward
from tunesmith.train.rl.rollout import PromptItem

PROMPTS = [
    PromptItem(Conversation((Message("user", f"Say {w}"),)), columns={"word": w})
    for w in ("hello", "world", "apple", "blue")
]


def has_e(prompts, completions, **kwargs):
    assert len(kwargs["word"]) == len(completions)  # dataset columns arrive, one per completion
    return [float("e" in c) for c in completions]


def test_grpo_mean_reward_rises_on_a_toy_task(rl_model_dir) -> None:
    """Reward 1 when the 3-token completion contains the letter "e" (about 1 in 5 at the start): full
    tuning at a large learning rate drives the mean reward up within 16 steps."""
    from tunesmith.train.rl.grpo import GRPOSettings, GRPOTrainer

    model, tokenizer, template = load(rl_model_dir, "full")
    torch.manual_seed(0)
    trainer = GRPOTrainer(
        model,
        tokenizer,
        template,
        PROMPTS,
        [NamedReward("has_e", has_e)],
        GRPOSettings(num_generations=8, beta=0.0, max_completion_length=3),
        LoopSettings(max_steps=16, prompts_per_step=2, micro_batch_size=16, learning_rate=1e-2, seed=0),
    )
    history = trainer.train()
    rewards = [h["reward"] for h in history]
    assert len(rewards) == 16 and all(math.isfinite(h["loss"]) for h in history)
    assert "rewards/has_e" in history[0] and "completion_length" in history[0]
    first, last = sum(rewards[:4]) / 4, sum(rewards[-4:]) / 4
    assert last > first + 0.25, rewards


def test_grpo_lora_with_kl_and_iterations_logs_kl(rl_model_dir) -> None:
    from tunesmith.train.rl.grpo import GRPOSettings, GRPOTrainer

    model, tokenizer, template = load(rl_model_dir, "lora")
    trainer = GRPOTrainer(
        model,
        tokenizer,
        template,
        PROMPTS,
        [NamedReward("has_e", has_e)],
        GRPOSettings(num_generations=4, beta=0.1, iterations=2, max_completion_length=4),
        LoopSettings(max_steps=2, prompts_per_step=2, micro_batch_size=3, learning_rate=1e-2),
    )
    history = trainer.train()
    assert len(history) == 2
    # first update: policy == reference, so KL 0; the second update moved the adapter
    assert history[0]["kl"] >= 0 and all(math.isfinite(h["loss"]) for h in history)
    assert 0.0 <= history[-1]["clip_ratio"] <= 1.0


def test_ppo_completes_its_loop_with_finite_losses(rl_model_dir) -> None:
    from tunesmith.train.rl.ppo import PPOSettings, PPOTrainer, reward_func_scorer

    model, tokenizer, template = load(rl_model_dir, "lora")
    trainer = PPOTrainer(
        model,
        tokenizer,
        template,
        PROMPTS,
        reward_func_scorer([NamedReward("has_e", has_e)]),
        PPOSettings(epochs=2, max_completion_length=4),
        LoopSettings(max_steps=3, prompts_per_step=4, micro_batch_size=2, learning_rate=1e-3),
    )
    history = trainer.train()
    assert len(history) == 3
    for h in history:
        for key in ("loss", "policy_loss", "value_loss", "reward", "rewards/has_e", "kl", "kl_coef"):
            assert math.isfinite(h[key]), (key, h)
    assert history[0]["kl"] == pytest.approx(0.0, abs=1e-5)  # rollout policy == reference at first


def _write_dataset(tmp_path):
    tmp_path.mkdir(parents=True, exist_ok=True)
    rows = [
        {"instruction": "Say hello", "answer": "hello"},
        {"instruction": "Say blue", "output": "blue", "answer": "blue"},
    ]
    chat = [{"conversations": [{"from": "human", "value": "Say apple"}], "answer": "apple"}]
    (tmp_path / "prompts.json").write_text(json.dumps(rows))
    (tmp_path / "chat.json").write_text(json.dumps(chat))
    info = {
        "prompts": {"file_name": "prompts.json"},
        "chat": {"file_name": "chat.json", "formatting": "sharegpt"},
    }
    (tmp_path / "dataset_info.json").write_text(json.dumps(info))
    return tmp_path


def _config(model_dir, data_dir, out, **extra):
    from tunesmith.config import load_config

    base = {
        "model_name_or_path": str(model_dir),
        "stage": "grpo",
        "do_train": True,
        "finetuning_type": "lora",
        "dataset": "prompts,chat",
        "dataset_dir": str(data_dir),
        "output_dir": str(out),
        "grpo_reward_funcs": ["contains", "length:20"],
        "grpo_num_generations": 2,
        "per_device_train_batch_size": 4,
        "max_completion_length": 4,
        "max_steps": 2,
        "logging_steps": 1,
        "learning_rate": 1e-3,
        "report_to": "none",
    }
    base.update(extra)
    return load_config([], verb="train", base=base)


def test_build_prompts_takes_prompt_only_records(rl_model_dir, tmp_path) -> None:
    from tests.rl.conftest import load
    from tunesmith.data.prompts import build_prompts

    _, tokenizer, template = load(rl_model_dir, "lora")
    cfg = _config(str(rl_model_dir), _write_dataset(tmp_path), tmp_path / "out")
    items = build_prompts(cfg, tokenizer, template).prompts
    assert [i.text.split("user\n")[1].split("<")[0] for i in items] == ["Say hello", "Say blue", "Say apple"]
    assert [i.reference for i in items] == [None, "blue", None]
    assert [i.columns["answer"] for i in items] == ["hello", "blue", "apple"]


def test_run_rl_grpo_writes_adapter_template_and_logs(rl_model_dir, tmp_path) -> None:
    from tunesmith.train.rl_workflow import run_rl

    out = tmp_path / "out"
    result = run_rl(_config(rl_model_dir, _write_dataset(tmp_path / "data"), out))
    assert (out / "adapter_model.safetensors").exists() and (out / "adapter_config.json").exists()
    assert (
        "chat_template" in json.loads((out / "tokenizer_config.json").read_text())
        or (out / "chat_template.jinja").exists()
    )
    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    assert len(history) == 2 and {"reward", "rewards/contains", "rewards/length", "kl"} <= set(history[0])
    summary = json.loads((out / "run_summary.json").read_text())
    assert summary["stage"] == "grpo" and summary["global_step"] == 2 and result.summary["prompts"] == 3


def test_run_rl_refuses_vllm_clearly(rl_model_dir, tmp_path) -> None:
    from tunesmith.train.rl_workflow import run_rl

    cfg = _config(rl_model_dir, _write_dataset(tmp_path / "data"), tmp_path / "out", use_vllm=True)
    from tunesmith.train.rl.vllm_rollout import VLLMUnavailableError

    if importlib.util.find_spec("vllm") is not None and torch.cuda.is_available():
        pytest.skip("vLLM and CUDA are available here")
    with pytest.raises(VLLMUnavailableError, match=r"install tunesmith\[vllm\] and use a CUDA GPU"):
        run_rl(cfg)
    assert not (tmp_path / "out").exists()  # refused before anything loaded or was written


def test_run_rl_batch_must_hold_whole_groups(rl_model_dir, tmp_path) -> None:
    from tunesmith.train.rl_workflow import run_rl

    cfg = _config(
        rl_model_dir, _write_dataset(tmp_path / "data"), tmp_path / "out", per_device_train_batch_size=3
    )
    with pytest.raises(ValueError, match="multiple of grpo_num_generations"):
        run_rl(cfg)


def test_run_rl_ppo_with_a_reward_model(rl_model_dir, tmp_path) -> None:
    """PPO scored by a (random) sequence-classification reward model saved like an rm-stage output."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    rm_dir = tmp_path / "rm"
    tokenizer = AutoTokenizer.from_pretrained(str(rl_model_dir))
    rm = AutoModelForSequenceClassification.from_pretrained(
        str(rl_model_dir), num_labels=1, pad_token_id=tokenizer.pad_token_id
    )
    rm.save_pretrained(rm_dir)
    tokenizer.save_pretrained(rm_dir)
    out, history, result = run_ppo(rl_model_dir, tmp_path, reward_model=str(rm_dir), reward_model_type="full")
    assert len(history) == 2 and all(math.isfinite(h["rewards/reward_model"]) for h in history)
    assert (out / "value_head.safetensors").exists() and result.summary["stage"] == "ppo"


def run_ppo(rl_model_dir, tmp_path, **extra) -> tuple[Path, list[dict[str, Any]], Any]:
    """Two PPO steps scored by ``extra``'s reward model (no reward functions): output_dir, log
    history and the run's result."""
    from tunesmith.train.rl_workflow import run_rl

    out = tmp_path / "out"
    cfg = _config(
        rl_model_dir,
        _write_dataset(tmp_path / "data"),
        out,
        stage="ppo",
        grpo_reward_funcs=[],
        per_device_train_batch_size=2,
        ppo_epochs=1,
        **extra,
    )
    result = run_rl(cfg)
    return out, json.loads((out / "trainer_state.json").read_text())["log_history"], result


def test_grpo_policy_reloads_with_plain_transformers_and_peft(rl_model_dir, tmp_path) -> None:
    """The saved adapter loads with peft on the base and equals the trained policy; the saved
    tokenizer's chat template renders the prompt the policy was trained on."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunesmith.train.rl_workflow import run_rl

    out = tmp_path / "out"
    run_rl(_config(rl_model_dir, _write_dataset(tmp_path / "data"), out, learning_rate=5e-2))
    base = AutoModelForCausalLM.from_pretrained(str(rl_model_dir))
    policy = PeftModel.from_pretrained(base, str(out)).eval()
    ids = torch.tensor([[5, 17, 42, 99, 7]])
    with torch.no_grad():
        trained = policy(ids).logits
        with policy.disable_adapter():
            untouched = policy(ids).logits
    assert not torch.allclose(trained, untouched, atol=1e-5)  # the adapter moved the policy
    tok = AutoTokenizer.from_pretrained(str(out))
    text = tok.apply_chat_template(
        [{"role": "user", "content": "Say hello"}], add_generation_prompt=True, tokenize=False
    )
    assert text == "<|im_start|>user\nSay hello<|im_end|>\n<|im_start|>assistant\n"
