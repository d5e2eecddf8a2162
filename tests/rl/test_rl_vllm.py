"""vLLM rollouts: the pure parts on CPU (sampling parameters, names, merged LoRA weights, the error),
the generator hook of the GRPO loop with a stand-in, and an end-to-end run on a GPU with vllm."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from tests.rl.conftest import load
from tests.rl.test_rl_training import PROMPTS, _config, has_e
from tunesmith.infer.sampling import SamplingParams
from tunesmith.train.rl.vllm_rollout import (
    VLLMUnavailableError,
    check_vllm,
    llm_kwargs,
    missing_for_vllm,
    policy_weights,
    vllm_sampling_kwargs,
    vllm_weight_name,
)

HAS_VLLM = importlib.util.find_spec("vllm") is not None and torch.cuda.is_available()


def test_sampling_kwargs_follow_our_params() -> None:
    params = SamplingParams(max_new_tokens=16, do_sample=True, temperature=0.7, top_p=0.9, top_k=0, seed=3)
    kwargs = vllm_sampling_kwargs(params, 4, stop_token_ids=[7, 2, 7], stop=["</s>"])
    assert kwargs == {
        "n": 4,
        "temperature": 0.7,
        "top_p": 0.9,
        "top_k": -1,
        "repetition_penalty": 1.0,
        "max_tokens": 16,
        "seed": 3,
        "stop_token_ids": [7, 2],
        "stop": ["</s>"],
        "skip_special_tokens": False,
    }
    greedy = vllm_sampling_kwargs(SamplingParams(max_new_tokens=4, top_k=5), 1, stop_token_ids=[2])
    assert (greedy["temperature"], greedy["top_k"], greedy["top_p"]) == (0.0, -1, 1.0)
    assert vllm_sampling_kwargs(SamplingParams(do_sample=True, top_k=5), 1, stop_token_ids=[])["top_k"] == 5
    with pytest.raises(ValueError, match="n must be >= 1"):
        vllm_sampling_kwargs(params, 0, stop_token_ids=[])
    with pytest.raises(ValueError, match="num_beams"):
        vllm_sampling_kwargs(SamplingParams(num_beams=2), 1, stop_token_ids=[])


def test_missing_pieces_are_named() -> None:
    assert missing_for_vllm(has_vllm=True, has_cuda=True) == []
    assert missing_for_vllm(has_vllm=False, has_cuda=False) == [
        "the vllm package (pip install 'tunesmith[vllm]')",
        "a CUDA GPU",
    ]
    if HAS_VLLM:
        check_vllm()
    else:
        with pytest.raises(VLLMUnavailableError, match="set use_vllm: false"):
            check_vllm()


def test_llm_kwargs_from_the_config(tmp_path) -> None:
    cfg = _config("m", tmp_path, tmp_path / "out", vllm_gpu_util=0.3, vllm_maxlen=4096, cutoff_len=1024)
    kwargs = llm_kwargs(cfg, "m", "bfloat16")
    assert kwargs["gpu_memory_utilization"] == 0.3 and kwargs["max_model_len"] == 4096
    assert kwargs["distributed_executor_backend"] == "external_launcher" and kwargs["dtype"] == "bfloat16"
    short = _config("m", tmp_path, tmp_path / "out", vllm_maxlen=512, cutoff_len=1024)
    with pytest.raises(ValueError, match="raise vllm_maxlen"):
        llm_kwargs(short, "m", "float32")


def test_weight_names_are_the_base_models() -> None:
    assert vllm_weight_name("base_model.model.model.layers.0.self_attn.q_proj.base_layer.weight") == (
        "model.layers.0.self_attn.q_proj.weight"
    )
    assert vllm_weight_name("base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight") is None
    assert vllm_weight_name("base_model.model.lm_head.modules_to_save.default.weight") == "lm_head.weight"
    assert vllm_weight_name("base_model.model.lm_head.original_module.weight") is None
    assert vllm_weight_name("model.norm.weight") == "model.norm.weight"


def test_lora_weights_are_merged_in_a_copy(rl_model_dir) -> None:
    import copy

    model, _, _ = load(rl_model_dir, "lora")
    with torch.no_grad():  # a trained-looking adapter (B is zero at init)
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(std=0.1)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    merged = dict(policy_weights(model))
    expected = copy.deepcopy(model).merge_and_unload().state_dict()
    for name, tensor in merged.items():
        torch.testing.assert_close(tensor, expected[name], atol=1e-6, rtol=1e-5, msg=name)
    assert set(merged) == {n for n, _ in copy.deepcopy(model).merge_and_unload().named_parameters()}
    for name, p in model.named_parameters():  # the policy itself was not merged
        assert torch.equal(p, before[name]), name


class StandIn:
    """A CompletionGenerator that answers every prompt with fixed ids and counts weight syncs."""

    def __init__(self, stop_id: int) -> None:
        self.stop_id, self.syncs, self.calls = stop_id, 0, []

    def sync_weights(self, model) -> None:
        self.syncs += 1

    def generate(self, prompts, n, params):
        self.calls.append((len(prompts), n, params.seed))
        return [[101, 102, self.stop_id] for _ in prompts for _ in range(n)]


def test_grpo_samples_through_the_generator_and_syncs_before_each_step(rl_model_dir) -> None:
    from tunesmith.train.rl.grpo import GRPOSettings, GRPOTrainer
    from tunesmith.train.rl.loop import LoopSettings
    from tunesmith.train.rl.rewards import NamedReward

    model, tokenizer, template = load(rl_model_dir, "lora")
    stand_in = StandIn(tokenizer.convert_tokens_to_ids("<|im_end|>"))
    trainer = GRPOTrainer(
        model,
        tokenizer,
        template,
        PROMPTS,
        [NamedReward("has_e", has_e)],
        GRPOSettings(num_generations=2, beta=0.0, max_completion_length=4),
        LoopSettings(max_steps=3, prompts_per_step=2, micro_batch_size=4, seed=5),
        generator=stand_in,
    )
    history = trainer.train()
    assert stand_in.syncs == 3 and stand_in.calls == [(2, 2, 5), (2, 2, 6), (2, 2, 7)]
    assert all(h["completion_length"] == 3 for h in history)  # the stand-in's ids, stop token included


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_VLLM, reason="needs the vllm package and a CUDA GPU")
def test_vllm_greedy_matches_transformers_and_a_grpo_run_completes(rl_model_dir, tmp_path) -> None:
    """One vllm.LLM per process: the same rollout engine serves the comparison and the run."""
    from tunesmith.infer.engine import TransformersEngine
    from tunesmith.train.rl.grpo import GRPOSettings, GRPOTrainer
    from tunesmith.train.rl.loop import LoopSettings
    from tunesmith.train.rl.rewards import NamedReward
    from tunesmith.train.rl.vllm_rollout import VLLMRollout, engine_stops

    cfg = _config(rl_model_dir, tmp_path, tmp_path / "out", use_vllm=True, vllm_gpu_util=0.3, cutoff_len=256)
    model, tokenizer, template = load(rl_model_dir, "lora")
    model = model.to("cuda")
    greedy = SamplingParams(max_new_tokens=8)
    engine = TransformersEngine(model, tokenizer, template)
    stop_ids, stops = engine_stops(engine.stop_plan(greedy))
    rollout = VLLMRollout(cfg, model, stop_token_ids=stop_ids, stop=stops)
    rollout.sync_weights(model)
    prompt = list(engine.render(PROMPTS[0].prompt).ids)
    model.eval()
    assert rollout.generate([prompt], 1, greedy) == engine.generate_ids([prompt], greedy)  # before training

    trainer = GRPOTrainer(
        model,
        tokenizer,
        template,
        PROMPTS,
        [NamedReward("has_e", has_e)],
        GRPOSettings(num_generations=4, beta=0.04, max_completion_length=8),
        LoopSettings(max_steps=2, prompts_per_step=2, micro_batch_size=8, learning_rate=1e-2),
        generator=rollout,
    )
    history = trainer.train()
    assert len(history) == 2 and all(h["completion_length"] > 0 for h in history)
    # after the updates, vLLM holds the trained (merged) weights: greedy agrees with transformers again
    model.eval()
    rollout.sync_weights(model)
    assert rollout.generate([prompt], 1, greedy) == engine.generate_ids([prompt], greedy)
