"""The transformers engine: our template's prompt, greedy equality with plain generate, stops,
left-padded batches, streaming, thread safety."""

from __future__ import annotations

import threading

import pytest

from tunesmith.infer import Generation, SamplingParams, TextStream, TransformersEngine
from tunesmith.templates import Conversation, Message

GREEDY = SamplingParams(max_new_tokens=16)


def conv(*texts: str, system: str | None = None) -> Conversation:
    msgs = [Message("system", system)] if system else []
    roles = ("user", "assistant")
    msgs += [Message(roles[i % 2], t) for i, t in enumerate(texts)]  # type: ignore[arg-type]
    return Conversation(tuple(msgs))


CONVS = [
    conv("hi"),
    conv("tell me a long story about cats and dogs please"),
    conv("你好", "很高兴认识你！", "what next?", system="be brief"),
]


def test_prompt_is_our_template_tokenized_once(engine: TransformersEngine, tiny_parts) -> None:
    _, tokenizer, template = tiny_parts
    for c in CONVS:
        prompt = engine.render(c)
        expected = template.render(c, add_generation_prompt=True).text
        assert prompt.text == expected
        assert list(prompt.ids) == tokenizer(expected, add_special_tokens=False)["input_ids"]


def test_greedy_equals_plain_generate(engine: TransformersEngine, tiny_parts) -> None:
    import torch

    model, tokenizer, _ = tiny_parts
    for c in CONVS:
        ids = list(engine.render(c).ids)
        plain = model.generate(
            torch.tensor([ids]),
            attention_mask=torch.ones(1, len(ids), dtype=torch.long),
            max_new_tokens=16,
            do_sample=False,
            eos_token_id=model.generation_config.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )[0, len(ids) :].tolist()
        ours = engine.generate_ids([ids], GREEDY)[0]
        assert ours == plain[: len(ours)]
        (gen,) = engine.generate([c], GREEDY)
        assert gen.prompt_tokens == len(ids)
        assert gen.completion_tokens == len(ours)
        assert gen.text == tokenizer.decode(
            [t for t in ours if t not in engine.stop_plan(GREEDY).eos_ids], skip_special_tokens=True
        )


def test_stop_plan_maps_single_token_markers_to_eos(engine: TransformersEngine, tiny_parts) -> None:
    _, tokenizer, _ = tiny_parts
    plan = engine.stop_plan(SamplingParams(stop=("hello world, again",)))
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") in plan.eos_ids
    assert plan.generate_strings == ("hello world, again",)
    assert "<|im_end|>" in plan.text_stops and "hello world, again" in plan.text_stops


def test_batched_left_padded_equals_one_by_one(engine: TransformersEngine) -> None:
    batched = engine.generate(CONVS, GREEDY)
    single = [engine.generate([c], GREEDY)[0] for c in CONVS]
    assert batched == single
    assert len({g.text for g in batched}) == len(batched)  # the outputs are not degenerate


def test_multi_token_stop_string_ends_generation(engine: TransformersEngine) -> None:
    c = CONVS[1]
    full = engine.generate([c], GREEDY)[0]
    assert full.finish_reason == "length"
    # a stop string from the middle of the reply that is several tokens long
    tokenizer = engine.tokenizer
    stop = next(
        full.text[i : i + 4]
        for i in range(2, len(full.text) - 4)
        if len(tokenizer.encode(full.text[i : i + 4], add_special_tokens=False)) > 1
        and full.text[i : i + 4].strip()
    )
    params = GREEDY.replace(stop=(stop,))
    assert stop in engine.stop_plan(params).generate_strings
    got = engine.generate([c], params)[0]
    assert got.text == full.text[: full.text.index(stop)]
    assert got.finish_reason == "stop"
    assert got.completion_tokens < full.completion_tokens  # generate stopped, not only the text


def test_single_token_stop_string_becomes_eos(engine: TransformersEngine) -> None:
    c = CONVS[0]
    ids = engine.generate_ids([engine.render(c).ids], GREEDY)[0]
    tokenizer = engine.tokenizer
    j = next(
        j
        for j in range(1, len(ids))
        if (s := tokenizer.decode([ids[j]])).strip()
        and tokenizer.encode(s, add_special_tokens=False) == [ids[j]]
        and ids[j] not in ids[:j]
    )
    stop = tokenizer.decode([ids[j]])
    params = GREEDY.replace(stop=(stop,))
    assert ids[j] in engine.stop_plan(params).eos_ids
    full = engine.generate([c], GREEDY)[0].text
    got = engine.generate([c], params)[0]
    assert got.completion_tokens == j + 1
    assert got.text == full[: full.index(stop)]
    assert got.finish_reason == "stop"


@pytest.mark.parametrize("index", range(len(CONVS)))
def test_stream_joins_to_generated_text(engine: TransformersEngine, index: int) -> None:
    c = CONVS[index]
    full = engine.generate([c], GREEDY)[0]
    stream = engine.stream(c, GREEDY)
    assert isinstance(stream, TextStream)
    pieces = list(stream)
    assert "".join(pieces) == full.text
    assert stream.finish_reason == full.finish_reason
    assert stream.completion_tokens == full.completion_tokens


def test_stream_respects_stop_strings_and_closes_early(engine: TransformersEngine) -> None:
    c = CONVS[1]
    full = engine.generate([c], GREEDY)[0].text
    stop = full[5:8]
    params = GREEDY.replace(stop=(stop,))
    stream = engine.stream(c, params)
    assert "".join(stream) == engine.generate([c], params)[0].text == full[: full.index(stop)]
    assert stream.finish_reason == "stop"
    early = engine.stream(c, GREEDY)
    next(early)
    early.close()  # releases the lock and stops the generating thread
    assert engine.generate([c], GREEDY)[0].text == full


def test_concurrent_callers_get_their_own_answers(engine: TransformersEngine) -> None:
    expected = [engine.generate([c], GREEDY)[0] for c in CONVS]
    results: dict[int, Generation | str] = {}

    def call(i: int) -> None:
        if i % 2:
            results[i] = "".join(engine.stream(CONVS[i % 3], GREEDY))
        else:
            results[i] = engine.generate([CONVS[i % 3]], GREEDY)[0]

    threads = [threading.Thread(target=call, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, got in results.items():
        want = expected[i % 3]
        assert got == (want.text if i % 2 else want)


def test_seeded_sampling_is_reproducible(engine: TransformersEngine) -> None:
    params = SamplingParams(max_new_tokens=12, do_sample=True, temperature=1.0, top_k=50, seed=7)
    a = engine.generate(CONVS[:2], params)
    b = engine.generate(CONVS[:2], params)
    assert a == b


def test_sampling_params_validation_and_config() -> None:
    from tunesmith.config import GenerateConfig

    with pytest.raises(ValueError, match="top_p"):
        SamplingParams(top_p=0)
    with pytest.raises(ValueError, match="max_new_tokens"):
        SamplingParams(max_new_tokens=0)
    p = SamplingParams.from_config(GenerateConfig(do_sample=False, max_new_tokens=9), stop="X")
    assert p.stop == ("X",) and p.greedy and p.max_new_tokens == 9
    assert p.generate_kwargs() == {
        "max_new_tokens": 9,
        "num_beams": 1,
        "repetition_penalty": 1.0,
        "do_sample": False,
    }
    s = SamplingParams(do_sample=True, temperature=0.5, top_p=0.9, top_k=5).generate_kwargs()
    assert s["do_sample"] and s["temperature"] == 0.5 and s["top_k"] == 5
    assert SamplingParams(do_sample=True, temperature=0).greedy


def test_batch_with_stop_string_equals_one_by_one(engine: TransformersEngine) -> None:
    full = engine.generate([CONVS[1]], GREEDY)[0].text
    stop = next(full[i : i + 3] for i in range(len(full) - 3) if full[i : i + 3].strip())
    params = GREEDY.replace(stop=(stop,))
    batched = engine.generate(CONVS, params)
    assert batched == [engine.generate([c], params)[0] for c in CONVS]
    assert batched[1].finish_reason == "stop" and stop not in batched[1].text
