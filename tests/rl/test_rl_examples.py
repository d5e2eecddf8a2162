"""The RL example configs resolve and carry what run_rl needs."""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_grpo_example_resolves() -> None:
    from tunesmith.config import load_config
    from tunesmith.train.rl.rewards import load_reward_funcs

    cfg = load_config([str(EXAMPLES / "grpo_lora.yaml")], verb="train")
    assert cfg.finetune.stage == "grpo" and cfg.train.do_train and cfg.data.dataset
    assert cfg.train.per_device_train_batch_size % cfg.rlhf.grpo_num_generations == 0
    assert [r.name for r in load_reward_funcs(cfg.rlhf.grpo_reward_funcs)] == ["contains", "length"]
    assert cfg.train.save_steps == 25 and not cfg.rlhf.use_vllm  # checkpoints to resume from; no vLLM on CPU


def test_ppo_example_resolves() -> None:
    from tunesmith.config import ConfigError, load_config

    cfg = load_config([str(EXAMPLES / "ppo_lora.yaml")], verb="train")
    with pytest.raises(ConfigError, match="reward_model or grpo_reward_funcs"):
        load_config([str(EXAMPLES / "ppo_lora.yaml"), "grpo_reward_funcs=[]"], verb="train")
    assert cfg.finetune.stage == "ppo" and cfg.rlhf.grpo_reward_funcs
