"""PPO's reward model, as ``reward_model_type`` says: a LoRA reward adapter on the policy's own base
(scores equal to the reward model loaded alone; the policy untouched; one copy of the weights), a
separate model, or a ``/v1/score`` API served by ``tunesmith serve``; and the clear refusals."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from tests.rl.test_rl_training import _config, _write_dataset, run_ppo

TEXTS = [
    "<|im_start|>user\nSay hello<|im_end|>\n<|im_start|>assistant\nhello<|im_end|>\n",
    "a longer text about rivers, stars and music",
    "x",
]


def make_reward_adapter(base: Path, out: Path, *, seed: int = 0) -> Path:
    """A LoRA reward adapter saved as stage rm saves one (SEQ_CLS, the score head in modules_to_save),
    with random non-zero LoRA weights so that it differs from the base."""
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=1, pad_token_id=tokenizer.pad_token_id
    )
    config = LoraConfig(
        r=4,
        lora_alpha=8,
        target_modules=["q_proj", "v_proj"],
        task_type=TaskType.SEQ_CLS,
        modules_to_save=["score"],
    )
    peft = get_peft_model(model, config)
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.3)
    peft.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def reward_dir(rl_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_reward_adapter(rl_model_dir, tmp_path_factory.mktemp("reward") / "rm")


def alone(reward_dir: Path) -> list[float]:
    from tunesmith.train.reward import load_reward_model

    return load_reward_model(reward_dir).score(TEXTS)


def test_the_reward_adapter_scores_on_the_policys_base_as_it_does_alone(rl_model_dir, reward_dir) -> None:
    from tests.rl.conftest import load
    from tunesmith.train.rl.reward_model import REWARD_ADAPTER, SharedBaseReward

    policy, tokenizer, _ = load(rl_model_dir, "lora")
    with torch.no_grad():  # a policy adapter that differs from the reward's
        for name, p in policy.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.3)
    policy.train()
    ids = torch.tensor([[5, 17, 42, 99, 7]])
    trainable = {n for n, p in policy.named_parameters() if p.requires_grad}
    with torch.no_grad():
        before = policy(ids).logits
    params_before = sum(p.numel() for p in policy.parameters())

    shared = SharedBaseReward(policy, tokenizer, str(reward_dir), base=str(rl_model_dir))
    scores = shared.score(TEXTS, batch_size=2)
    assert scores == pytest.approx(alone(reward_dir), abs=1e-5)
    assert len(set(scores)) == 3

    # the policy: same trainable parameters, same outputs, still training; no second base
    assert {n for n, p in policy.named_parameters() if p.requires_grad} == trainable
    assert policy.training and policy.active_adapter == "default"
    with torch.no_grad():
        assert torch.allclose(policy(ids).logits, before, atol=1e-6)
    added = sum(p.numel() for n, p in policy.named_parameters() if f".{REWARD_ADAPTER}." in n)
    assert sum(p.numel() for p in policy.parameters()) - params_before == added  # LoRA weights only
    assert added < params_before / 10


def test_what_a_shared_reward_adapter_cannot_be(rl_model_dir, reward_dir, tmp_path) -> None:
    from transformers import AutoModelForSequenceClassification

    from tests.rl.conftest import load
    from tunesmith.config import ConfigError
    from tunesmith.testing import build_tiny_model
    from tunesmith.train.rl.reward_model import SharedBaseReward

    policy, tokenizer, _ = load(rl_model_dir, "lora")
    full = tmp_path / "full-rm"
    AutoModelForSequenceClassification.from_pretrained(rl_model_dir, num_labels=1).save_pretrained(full)
    with pytest.raises(ValueError, match="reward_model_type: full"):
        SharedBaseReward(policy, tokenizer, str(full), base=str(rl_model_dir))
    other = build_tiny_model("qwen3", tmp_path / "other-base", seed=5)
    with pytest.raises(ValueError, match="trained on .* the policy is"):
        SharedBaseReward(policy, tokenizer, str(reward_dir), base=str(other))
    frozen, _, _ = load(rl_model_dir, "full")
    with pytest.raises(ValueError, match="needs finetuning_type lora"):
        SharedBaseReward(frozen, tokenizer, str(reward_dir), base=str(rl_model_dir))

    data = _write_dataset(tmp_path / "data")
    with pytest.raises(ConfigError, match="reward_model_type lora .* needs finetuning_type"):
        _config(
            rl_model_dir,
            data,
            tmp_path / "o",
            stage="ppo",
            reward_model=str(reward_dir),
            finetuning_type="full",
        )
    with pytest.raises(ConfigError, match="http"):
        _config(rl_model_dir, data, tmp_path / "o", stage="ppo", reward_model="rm", reward_model_type="api")


def test_ppo_with_a_lora_reward_adapter_saves_only_the_policy(rl_model_dir, reward_dir, tmp_path) -> None:
    out, history, _ = run_ppo(rl_model_dir, tmp_path, reward_model=str(reward_dir), save_steps=1)
    assert len(history) == 2 and all(math.isfinite(h["rewards/reward_model"]) for h in history)
    for folder in (out, out / "checkpoint-2"):
        assert (folder / "adapter_model.safetensors").is_file()
        assert not (folder / "reward").exists()  # the reward adapter is not part of the policy
        assert json.loads((folder / "adapter_config.json").read_text())["task_type"] == "CAUSAL_LM"


def test_ppo_scored_by_a_score_api(rl_model_dir, reward_dir, tmp_path, monkeypatch) -> None:
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    from tests.serve.conftest import serving
    from tunesmith.config import load_config
    from tunesmith.serve.score import build_scorer
    from tunesmith.train.rl.reward_model import API_KEY_ENV, api_scores

    scorer = build_scorer(str(reward_dir), load_config([f"model_name_or_path={reward_dir}"], verb="serve"))
    with serving(None, scorer=scorer, model_name="rm", api_key="sk-rm") as running:
        monkeypatch.delenv(API_KEY_ENV, raising=False)
        with pytest.raises(RuntimeError, match=f"HTTP 401 \\(set {API_KEY_ENV}\\)"):
            api_scores(running.base_url, TEXTS)
        monkeypatch.setenv(API_KEY_ENV, "sk-rm")
        assert api_scores(running.base_url, TEXTS) == pytest.approx(alone(reward_dir), abs=1e-4)
        _, history, _ = run_ppo(
            rl_model_dir, tmp_path, reward_model=running.base_url, reward_model_type="api"
        )
    assert len(history) == 2 and all(math.isfinite(h["rewards/reward_model"]) for h in history)
    with pytest.raises(RuntimeError, match="reward API"):
        api_scores("http://127.0.0.1:9/v1", TEXTS, timeout=2)
