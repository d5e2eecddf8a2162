"""The API through the official openai client against the real server: models, chat, streaming equal
to non-streamed greedy output, usage counts, auth, n, stop, json_object, completions, errors."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.serve.conftest import API_KEY

openai = pytest.importorskip("openai")

MODEL = "tiny-qwen3"
PROMPTS = ["hi", "tell me a story about cats", "你好，世界", "what is 2+2?"]


def chat(client: Any, text: str, **kwargs: Any) -> Any:
    kwargs.setdefault("temperature", 0)
    kwargs.setdefault("max_tokens", 12)
    return client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": text}], **kwargs)


def streamed(client: Any, text: str, **kwargs: Any) -> tuple[str, str | None, Any]:
    """(joined content, finish reason, usage) of a streamed chat completion."""
    kwargs.setdefault("temperature", 0)
    kwargs.setdefault("max_tokens", 12)
    pieces, reason, usage = [], None, None
    for chunk in client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": text}],
        stream=True,
        stream_options={"include_usage": True},
        **kwargs,
    ):
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            reason = choice.finish_reason or reason
    return "".join(pieces), reason, usage


def test_models_list(client) -> None:
    models = client.models.list()
    assert [m.id for m in models.data] == [MODEL]
    assert client.models.retrieve(MODEL).id == MODEL


def test_health_needs_no_key(server) -> None:
    body = httpx.get(server.base_url.removesuffix("/v1") + "/health").json()
    assert body["status"] == "ok" and body["model"] == MODEL


def test_chat_matches_the_engine(client, engine) -> None:
    from tunesmith.infer import SamplingParams
    from tunesmith.templates import Conversation, Message

    reply = chat(client, "hi")
    (gen,) = engine.generate([Conversation((Message("user", "hi"),))], SamplingParams(max_new_tokens=12))
    assert reply.object == "chat.completion" and reply.model == MODEL
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content == gen.text
    assert reply.choices[0].finish_reason == gen.finish_reason


@pytest.mark.parametrize("text", PROMPTS)
def test_stream_concatenates_to_the_greedy_reply(client, text: str) -> None:
    reply = chat(client, text)
    joined, reason, usage = streamed(client, text)
    assert joined == reply.choices[0].message.content
    assert reason == reply.choices[0].finish_reason
    assert usage is not None and usage.model_dump() == reply.usage.model_dump()


def test_usage_counts_the_rendered_prompt_and_the_reply(client, engine) -> None:
    from tunesmith.infer import SamplingParams
    from tunesmith.templates import Conversation, Message

    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "hi there"},
        {"role": "user", "content": "and now?"},
    ]
    reply = client.chat.completions.create(model=MODEL, messages=messages, temperature=0, max_tokens=10)
    conv = Conversation(tuple(Message(m["role"], m["content"]) for m in messages))
    rendered = engine.template.render(conv, add_generation_prompt=True).text
    prompt_ids = engine.tokenizer(rendered, add_special_tokens=False)["input_ids"]
    (gen,) = engine.generate([conv], SamplingParams(max_new_tokens=10))
    assert reply.usage.prompt_tokens == len(prompt_ids)
    assert reply.usage.completion_tokens == gen.completion_tokens
    assert reply.usage.total_tokens == len(prompt_ids) + gen.completion_tokens
    assert 1 <= reply.usage.completion_tokens <= 10


def test_max_tokens_gives_length(client) -> None:
    reply = chat(client, "tell me a story about cats", max_completion_tokens=3)
    assert reply.usage.completion_tokens <= 3
    if reply.usage.completion_tokens == 3:
        assert reply.choices[0].finish_reason in ("length", "stop")


def test_wrong_api_key_is_401(server) -> None:
    bad = openai.OpenAI(base_url=server.base_url, api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        bad.models.list()
    assert info.value.status_code == 401
    body = info.value.body
    assert body["type"] == "authentication_error" and body["code"] == "invalid_api_key"
    missing = httpx.post(f"{server.base_url}/chat/completions", json={"model": MODEL, "messages": []})
    assert missing.status_code == 401 and "error" in missing.json()


def test_n_choices_with_seed_are_reproducible(client) -> None:
    kwargs = {"n": 3, "temperature": 1.0, "seed": 7, "max_tokens": 8}
    first = chat(client, "hi", **kwargs)
    second = chat(client, "hi", **kwargs)
    assert [c.index for c in first.choices] == [0, 1, 2]
    assert [c.message.content for c in first.choices] == [c.message.content for c in second.choices]
    joined: dict[int, list[str]] = {}
    usage = None
    for chunk in client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
        **kwargs,
    ):
        usage = chunk.usage or usage
        for choice in chunk.choices:
            joined.setdefault(choice.index, []).append(choice.delta.content or "")
    assert ["".join(joined[i]) for i in range(3)] == [c.message.content for c in first.choices]
    assert usage.completion_tokens == first.usage.completion_tokens


def test_stop_string_cuts_the_reply(client) -> None:
    full = chat(client, "tell me a story about cats", max_tokens=16).choices[0].message.content
    if len(full) < 4:
        pytest.skip("the tiny model's reply is too short to cut")
    stop = full[2:4]
    cut = chat(client, "tell me a story about cats", max_tokens=16, stop=[stop]).choices[0].message.content
    assert cut == full[: full.find(stop)]
    joined, reason, _ = streamed(client, "tell me a story about cats", max_tokens=16, stop=stop)
    assert joined == cut and reason == "stop"


def test_json_object_output_is_checked(client) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as info:
        chat(client, "hi", response_format={"type": "json_object"})
    assert info.value.body["code"] == "invalid_json_output"
    with pytest.raises(openai.BadRequestError):
        chat(
            client, "hi", response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}
        )


def test_completions_use_the_raw_prompt(client, engine) -> None:
    from tunesmith.infer import SamplingParams

    out = client.completions.create(model=MODEL, prompt="hello world", max_tokens=6, temperature=0)
    ids = engine.tokenizer("hello world", add_special_tokens=True)["input_ids"]
    (new,) = engine.generate_ids([ids], SamplingParams(max_new_tokens=6))
    assert out.object == "text_completion"
    assert out.usage.prompt_tokens == len(ids)
    assert out.usage.completion_tokens == len(new)
    assert out.choices[0].text == engine.tokenizer.decode(
        [t for t in new if t not in engine.stop_plan(SamplingParams()).eos_ids], skip_special_tokens=True
    )
    batch = client.completions.create(model=MODEL, prompt=["a", "b"], max_tokens=2, n=2, temperature=0)
    assert [c.index for c in batch.choices] == [0, 1, 2, 3]


def test_score_needs_a_reward_model(server) -> None:
    r = httpx.post(f"{server.base_url}/score", json={}, headers={"Authorization": f"Bearer {API_KEY}"})
    assert r.status_code == 501
    assert r.json()["error"]["code"] == "reward_model_required"


BAD_REQUESTS: list[tuple[str, Any, str | None]] = [
    ("missing messages", {"model": MODEL}, "messages"),
    ("missing model", {"messages": [{"role": "user", "content": "x"}]}, "model"),
    ("empty messages", {"model": MODEL, "messages": []}, "messages"),
    ("unknown role", {"model": MODEL, "messages": [{"role": "wizard", "content": "x"}]}, "messages.0.role"),
    ("messages not a list", {"model": MODEL, "messages": "hello"}, "messages"),
    ("content wrong type", {"model": MODEL, "messages": [{"role": "user", "content": 5}]}, None),
    (
        "temperature wrong type",
        {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "temperature": "hot"},
        "temperature",
    ),
    (
        "temperature out of range",
        {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "temperature": 7},
        "temperature",
    ),
    (
        "max_tokens zero",
        {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "max_tokens": 0},
        "max_tokens",
    ),
    ("n too large", {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "n": 1000}, "n"),
    (
        "too many stops",
        {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "stop": list("abcde")},
        "stop",
    ),
    ("empty stop", {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "stop": [""]}, "stop"),
    (
        "penalty",
        {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "frequency_penalty": 0.5},
        "frequency_penalty",
    ),
    (
        "image for a text model",
        {
            "model": MODEL,
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}],
                }
            ],
        },
        "messages.0.content.0",
    ),
    (
        "unknown part type",
        {"model": MODEL, "messages": [{"role": "user", "content": [{"type": "hologram"}]}]},
        None,
    ),
    (
        "tool_choice required",
        {
            "model": MODEL,
            "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "function", "function": {"name": "f"}}],
            "tool_choice": "required",
        },
        "tool_choice",
    ),
    (
        "bad tool arguments",
        {
            "model": MODEL,
            "messages": [
                {"role": "user", "content": "x"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "1", "type": "function", "function": {"name": "f", "arguments": "{nope"}}
                    ],
                },
            ],
        },
        "messages",
    ),
    (
        "prompt over the context",
        {"model": MODEL, "messages": [{"role": "user", "content": "word " * 5000}]},
        "messages",
    ),
    (
        "max_tokens over the context",
        {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "max_tokens": 10**6},
        "max_tokens",
    ),
    ("suffix on completions", {"model": MODEL, "prompt": "x", "suffix": "y"}, "suffix"),
    ("token id out of range", {"model": MODEL, "prompt": [10**8]}, "prompt"),
]


@pytest.mark.parametrize(
    ("body", "param"), [(b, p) for _, b, p in BAD_REQUESTS], ids=[n for n, _, _ in BAD_REQUESTS]
)
def test_malformed_requests_are_400_with_an_error_body(server, body: Any, param: str | None) -> None:
    path = "completions" if "prompt" in body else "chat/completions"
    r = httpx.post(f"{server.base_url}/{path}", json=body, headers={"Authorization": f"Bearer {API_KEY}"})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["message"]
    if param is not None:
        assert error["param"] == param


def test_other_client_errors_have_error_bodies(server) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    cases = [
        (httpx.post(f"{server.base_url}/chat/completions", content=b"{oops", headers=headers), 400),
        (
            httpx.post(
                f"{server.base_url}/chat/completions",
                json={"model": "gpt-4", "messages": [{"role": "user", "content": "x"}]},
                headers=headers,
            ),
            404,
        ),
        (httpx.get(f"{server.base_url}/nothing-here", headers=headers), 404),
        (httpx.get(f"{server.base_url}/chat/completions", headers=headers), 405),
        (
            httpx.post(f"{server.base_url}/chat/completions", content=b"x" * (33 * 2**20), headers=headers),
            413,
        ),
    ]
    for response, status in cases:
        assert response.status_code == status, response.text
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_32_concurrent_streams_complete(client, engine) -> None:
    expected = {text: chat(client, text, max_tokens=8).choices[0].message.content for text in PROMPTS}
    batches = engine.scheduler.batches

    def one(i: int) -> tuple[str, str]:
        text = PROMPTS[i % len(PROMPTS)]
        joined, reason, usage = streamed(client, text, max_tokens=8)
        assert reason in ("stop", "length") and usage is not None
        return text, joined

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(one, range(32)))
    assert len(results) == 32
    for text, joined in results:
        assert joined == expected[text]
    # 8 admitted at a time (max_concurrency), batched by the engine: far fewer generate calls
    assert engine.scheduler.batches - batches < 32


def test_sse_wire_format(server) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True, "max_tokens": 4}
    with httpx.stream(
        "POST",
        f"{server.base_url}/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {API_KEY}"},
    ) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = r.read().decode()
    events = raw.split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-2]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")
