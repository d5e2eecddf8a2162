"""The vLLM engine: the sampling and engine-argument mapping, the engine's bridging (batch, stream,
cancel) over a stand-in for vLLM's async engine that decodes with transformers (CPU), the clear error
without vLLM / CUDA, and (marked gpu, skipped without vLLM and CUDA) the real thing end to end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tunesmith.infer import SamplingParams
from tunesmith.infer.engine import StopPlan
from tunesmith.infer.vllm_engine import EventLoopThread, VLLMEngine, engine_kwargs, sampling_kwargs
from tunesmith.templates import Conversation, Message

PLAN = StopPlan(eos_ids=(7, 9), generate_strings=("\n\nUser:",), text_stops=("<|im_end|>", "\n\nUser:"))


def test_greedy_params_map_to_temperature_zero() -> None:
    out = sampling_kwargs(SamplingParams(max_new_tokens=5, temperature=0.7, top_k=20), PLAN)
    assert out["temperature"] == 0.0 and out["top_p"] == 1.0 and out["top_k"] == -1
    assert out["max_tokens"] == 5 and out["n"] == 1
    assert out["stop"] == ["\n\nUser:"] and out["stop_token_ids"] == [7, 9]


def test_sampling_params_map_one_to_one() -> None:
    params = SamplingParams(
        max_new_tokens=9,
        do_sample=True,
        temperature=0.6,
        top_p=0.8,
        top_k=0,
        repetition_penalty=1.1,
        presence_penalty=0.5,
        frequency_penalty=-0.25,
        seed=42,
        skip_special_tokens=False,
    )
    out = sampling_kwargs(params, PLAN, n=3)
    assert out == {
        "n": 3,
        "max_tokens": 9,
        "temperature": 0.6,
        "top_p": 0.8,
        "top_k": -1,  # 0 = no limit here, -1 in vLLM
        "repetition_penalty": 1.1,
        "presence_penalty": 0.5,
        "frequency_penalty": -0.25,
        "seed": 42,
        "stop": ["\n\nUser:"],
        "stop_token_ids": [7, 9],
        "skip_special_tokens": False,
    }
    assert sampling_kwargs(params.replace(top_k=40), PLAN)["top_k"] == 40
    with pytest.raises(ValueError, match="beam search"):
        sampling_kwargs(SamplingParams(num_beams=2), PLAN)


def test_transformers_engine_refuses_additive_penalties() -> None:
    with pytest.raises(ValueError, match="vLLM engine"):
        SamplingParams(presence_penalty=0.5).generate_kwargs()


def test_engine_arguments_from_the_config(tmp_path: Path) -> None:
    from tunesmith.config import load_config

    base = [
        "model_name_or_path=/models/base",
        "infer_backend=vllm",
        "vllm_maxlen=1024",
        "vllm_gpu_util=0.5",
        "vllm_enforce_eager=true",
        "vllm_max_lora_rank=64",
    ]
    plain = engine_kwargs(load_config(base, verb="serve"), "/models/base")
    assert plain["model"] == plain["tokenizer"] == "/models/base"
    assert (plain["max_model_len"], plain["gpu_memory_utilization"], plain["enforce_eager"]) == (
        1024,
        0.5,
        True,
    )
    assert "enable_lora" not in plain
    lora = engine_kwargs(
        load_config(
            [*base, f"adapter_name_or_path={tmp_path}", 'vllm_config={"max_num_seqs": 8}'], verb="serve"
        ),
        "/models/base",
    )
    assert lora["enable_lora"] is True and lora["max_lora_rank"] == 64 and lora["max_num_seqs"] == 8


# ------------------------------------------------------------------ the engine over a stand-in


@dataclass
class FakeOutput:
    text: str
    token_ids: list[int]
    finish_reason: str | None


@dataclass
class FakeRequestOutput:
    outputs: list[FakeOutput]
    finished: bool


@dataclass
class FakeSampling:
    kwargs: dict[str, Any] = field(default_factory=dict)


class FakeAsyncEngine:
    """vLLM's ``generate`` contract on top of transformers greedy decoding: the stop token is part of
    ``token_ids`` but not of ``text``; DELTA outputs carry one new token each."""

    def __init__(self, te: Any) -> None:
        self.te = te
        self.requests: list[tuple[list[int], dict[str, Any], Any]] = []
        self.cancelled = 0

    async def generate(
        self, prompt: dict[str, Any], sampling: FakeSampling, request_id: str, lora_request: Any = None
    ) -> AsyncIterator[FakeRequestOutput]:
        s = sampling.kwargs
        ids = prompt["prompt_token_ids"]
        self.requests.append((ids, s, lora_request))
        new = self.te.generate_ids([ids], SamplingParams(max_new_tokens=s["max_tokens"]))[0]
        stops = set(s["stop_token_ids"])
        reason = "stop" if new and new[-1] in stops else "length"
        tok = self.te.tokenizer
        if s.get("output_kind") == "delta":
            try:
                for i, t in enumerate(new):
                    body = [x for x in new[: i + 1] if x not in stops]
                    before = [x for x in new[:i] if x not in stops]
                    text = tok.decode(body, skip_special_tokens=s["skip_special_tokens"])[
                        len(tok.decode(before, skip_special_tokens=s["skip_special_tokens"])) :
                    ]
                    last = i == len(new) - 1
                    await asyncio.sleep(0.01)  # a real engine takes time per token: closing can overtake it
                    yield FakeRequestOutput([FakeOutput(text, [t], reason if last else None)], last)
            except (asyncio.CancelledError, GeneratorExit):
                self.cancelled += 1
                raise
            return
        body = [x for x in new if x not in stops]
        text = tok.decode(body, skip_special_tokens=s["skip_special_tokens"])
        yield FakeRequestOutput([FakeOutput(text, new, reason)], True)


@pytest.fixture(scope="module")
def loop() -> Any:
    thread = EventLoopThread()
    yield thread
    thread.close()


@pytest.fixture
def fake_vllm(engine, loop) -> tuple[VLLMEngine, FakeAsyncEngine]:
    fake = FakeAsyncEngine(engine)
    configured = engine.model.generation_config.eos_token_id
    ve = VLLMEngine(
        fake,
        engine.tokenizer,
        engine.template,
        sampling_factory=lambda **kw: FakeSampling(kw),
        prompt_factory=lambda ids: {"prompt_token_ids": ids},
        loop=loop,
        lora_request="the-adapter",
        configured_eos=configured,
        delta_kwargs={"output_kind": "delta"},
    )
    return ve, fake


CONVS = [
    Conversation((Message("user", "hi"),)),
    Conversation((Message("user", "tell me a long story about cats and dogs please"),)),
    Conversation((Message("system", "be brief"), Message("user", "你好"))),
]


def test_prompts_and_stops_are_the_transformers_engines(fake_vllm, engine) -> None:
    ve, _ = fake_vllm
    for conv in CONVS:
        assert ve.render(conv) == engine.render(conv)
    params = SamplingParams(stop=("cats",))
    assert ve.stop_plan(params) == engine.stop_plan(params)


def test_batch_equals_the_transformers_engine(fake_vllm, engine) -> None:
    ve, fake = fake_vllm
    params = SamplingParams(max_new_tokens=16)
    assert ve.generate(CONVS, params) == engine.generate(CONVS, params)
    assert [r[0] for r in fake.requests] == [list(engine.render(c).ids) for c in CONVS]
    assert all(r[2] == "the-adapter" for r in fake.requests)  # the LoRA request goes with each


def test_stream_joins_to_the_generated_text(fake_vllm, engine) -> None:
    ve, _ = fake_vllm
    params = SamplingParams(max_new_tokens=16)
    for conv in CONVS:
        stream = ve.stream(conv, params)
        text = "".join(stream)
        (gen,) = engine.generate([conv], params)
        assert text == gen.text
        assert stream.finish_reason == gen.finish_reason
        assert stream.completion_tokens == gen.completion_tokens


def test_closing_a_stream_cancels_the_request(fake_vllm) -> None:
    import time

    ve, fake = fake_vllm
    stream = ve.stream(CONVS[1], SamplingParams(max_new_tokens=64))
    next(stream)
    stream.close()
    deadline = time.monotonic() + 5
    while fake.cancelled == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake.cancelled == 1


def test_images_are_refused_by_the_vllm_engine(fake_vllm) -> None:
    ve, _ = fake_vllm
    conv = Conversation.from_openai(
        [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:,x"}}]}]
    )
    with pytest.raises(ValueError, match="infer_backend=huggingface"):
        ve.render(conv)


# ------------------------------------------------------------------ without vLLM / with a GPU


def test_missing_vllm_or_cuda_is_a_clear_error(tiny_dir) -> None:
    from tunesmith.config import load_config
    from tunesmith.serve.backend import build_serving_engine, vllm_status

    if not vllm_status():
        pytest.skip("vLLM and CUDA are both here")
    cfg = load_config([f"model_name_or_path={tiny_dir}", "infer_backend=vllm"], verb="serve")
    with pytest.raises(NotImplementedError, match=r"install tunesmith\[vllm\] and use a CUDA GPU"):
        build_serving_engine(cfg)


def _needs_vllm_and_cuda() -> None:
    pytest.importorskip("vllm")
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")


@pytest.mark.gpu
def test_vllm_greedy_equals_transformers(tiny_dir) -> None:
    _needs_vllm_and_cuda()
    from tunesmith.config import load_config
    from tunesmith.infer.build import build_engine
    from tunesmith.serve.backend import build_serving_engine

    args = [f"model_name_or_path={tiny_dir}", "vllm_enforce_eager=true", "vllm_gpu_util=0.3"]
    hf = build_engine(load_config(args, verb="serve"))
    ve = build_serving_engine(load_config([*args, "infer_backend=vllm", "infer_dtype=float32"], verb="serve"))
    try:
        params = SamplingParams(max_new_tokens=16)
        assert [g.text for g in ve.generate(CONVS, params)] == [g.text for g in hf.generate(CONVS, params)]
        assert "".join(ve.stream(CONVS[0], params)) == hf.generate([CONVS[0]], params)[0].text
    finally:
        ve.close()


@pytest.mark.gpu
def test_vllm_lora_adapter_changes_the_output(tiny_dir, tmp_path: Path) -> None:
    _needs_vllm_and_cuda()
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from tunesmith.config import load_config
    from tunesmith.serve.backend import build_serving_engine

    model = AutoModelForCausalLM.from_pretrained(tiny_dir)
    peft = get_peft_model(model, LoraConfig(r=8, target_modules=["q_proj", "v_proj"], lora_alpha=16))
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    peft.save_pretrained(tmp_path / "adapter")
    args = [
        f"model_name_or_path={tiny_dir}",
        "infer_backend=vllm",
        "vllm_enforce_eager=true",
        "vllm_gpu_util=0.3",
    ]
    params = SamplingParams(max_new_tokens=16)
    base = build_serving_engine(load_config(args, verb="serve"))
    try:
        plain = [g.text for g in base.generate(CONVS, params)]
    finally:
        base.close()
    adapted = build_serving_engine(
        load_config([*args, f"adapter_name_or_path={tmp_path / 'adapter'}"], verb="serve")
    )
    try:
        assert [g.text for g in adapted.generate(CONVS, params)] != plain
    finally:
        adapted.close()
