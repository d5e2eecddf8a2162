"""Streamed ``/v1/completions`` through the official openai client: chunks join to the non-streamed
greedy text (echo, n, several prompts, stop strings), the usage chunk, and the wire format."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.serve.conftest import API_KEY

openai = pytest.importorskip("openai")

MODEL = "tiny-qwen3"
PROMPTS = ["hello world", "Once upon a time", "你好，世界", "1, 2, 3,"]


def streamed(client: Any, **kwargs: Any) -> tuple[dict[int, str], dict[int, str | None], Any]:
    """(joined text per choice, finish reason per choice, usage) of a streamed completion."""
    kwargs.setdefault("temperature", 0)
    kwargs.setdefault("max_tokens", 12)
    texts: dict[int, str] = {}
    reasons: dict[int, str | None] = {}
    usage = None
    for chunk in client.completions.create(
        model=MODEL, stream=True, stream_options={"include_usage": True}, **kwargs
    ):
        assert chunk.object == "text_completion"
        if chunk.usage is not None:
            assert chunk.choices == []
            usage = chunk.usage
        for choice in chunk.choices:
            texts[choice.index] = texts.get(choice.index, "") + choice.text
            reasons[choice.index] = choice.finish_reason or reasons.get(choice.index)
    return texts, reasons, usage


@pytest.mark.parametrize("prompt", PROMPTS)
def test_streamed_completion_equals_the_greedy_text(client, prompt: str) -> None:
    whole = client.completions.create(model=MODEL, prompt=prompt, max_tokens=12, temperature=0)
    texts, reasons, usage = streamed(client, prompt=prompt)
    assert texts == {0: whole.choices[0].text}
    assert reasons == {0: whole.choices[0].finish_reason}
    assert usage is not None and usage.model_dump() == whole.usage.model_dump()


def test_streamed_batch_with_echo_and_n(client) -> None:
    kwargs: dict[str, Any] = {"prompt": PROMPTS[:2], "n": 2, "echo": True, "max_tokens": 6}
    whole = client.completions.create(model=MODEL, temperature=0, **kwargs)
    texts, reasons, usage = streamed(client, **kwargs)
    assert texts == {c.index: c.text for c in whole.choices}
    assert texts[0].startswith("hello world") and texts[2].startswith("Once upon a time")
    assert reasons == {c.index: c.finish_reason for c in whole.choices}
    assert usage.completion_tokens == whole.usage.completion_tokens
    assert usage.prompt_tokens == whole.usage.prompt_tokens


def test_streamed_completion_stops_at_a_stop_string(client) -> None:
    full = client.completions.create(model=MODEL, prompt=PROMPTS[1], max_tokens=16, temperature=0)
    text = full.choices[0].text
    if len(text) < 4:
        pytest.skip("the tiny model's continuation is too short to cut")
    stop = text[2:4]
    texts, reasons, _ = streamed(client, prompt=PROMPTS[1], max_tokens=16, stop=[stop])
    assert texts[0] == text[: text.find(stop)] and reasons[0] == "stop"


def test_streamed_completion_of_token_ids(client, engine) -> None:
    ids = engine.tokenizer("hello world", add_special_tokens=True)["input_ids"]
    whole = client.completions.create(model=MODEL, prompt=ids, max_tokens=8, temperature=0)
    texts, _, _ = streamed(client, prompt=ids, max_tokens=8)
    assert texts[0] == whole.choices[0].text


def test_completion_sse_wire_format(server) -> None:
    body = {"model": MODEL, "prompt": "hi", "stream": True, "max_tokens": 4}
    with httpx.stream(
        "POST", f"{server.base_url}/completions", json=body, headers={"Authorization": f"Bearer {API_KEY}"}
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = r.read().decode()
    events = raw.split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-2]]
    assert all(c["object"] == "text_completion" and len({c["id"] for c in chunks}) == 1 for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])


def test_streamed_completion_errors_before_the_stream_are_400(server) -> None:
    body = {"model": MODEL, "prompt": [10**8], "stream": True}
    r = httpx.post(
        f"{server.base_url}/completions", json=body, headers={"Authorization": f"Bearer {API_KEY}"}
    )
    assert r.status_code == 400 and r.json()["error"]["param"] == "prompt"
