"""Admission control: a full queue answers 503 with Retry-After; slots come back however a request ends."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import httpx
import pytest

from tests.serve.conftest import serving

BODY = {"model": "tiny-qwen3", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}


class HeldEngine:
    """The real engine, whose generations wait until ``release`` is set (to hold a slot for sure)."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self.entered = threading.Event()
        self.release = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        self.entered.set()
        assert self.release.wait(60)
        return self._engine.generate(*args, **kwargs)


def test_queue_full_is_503_with_retry_after(engine) -> None:
    held = HeldEngine(engine)
    with serving(held, max_concurrency=1, queue_size=0, retry_after_s=3) as running:
        url = f"{running.base_url}/chat/completions"
        first: list[httpx.Response] = []
        worker = threading.Thread(target=lambda: first.append(httpx.post(url, json=BODY, timeout=60)))
        worker.start()
        assert held.entered.wait(30)
        busy = httpx.post(url, json=BODY)
        stream_busy = httpx.post(url, json={**BODY, "stream": True})
        held.release.set()
        worker.join(60)
        after = httpx.post(url, json=BODY, timeout=60)
    assert busy.status_code == 503 and stream_busy.status_code == 503
    assert busy.headers["retry-after"] == "3"
    assert busy.json()["error"]["code"] == "server_busy"
    assert first[0].status_code == 200 and after.status_code == 200


def test_openai_client_sees_503(engine) -> None:
    openai = pytest.importorskip("openai")
    held = HeldEngine(engine)
    with serving(held, max_concurrency=1, queue_size=0) as running:
        worker = threading.Thread(
            target=lambda: httpx.post(f"{running.base_url}/chat/completions", json=BODY, timeout=60)
        )
        worker.start()
        assert held.entered.wait(30)
        client = openai.OpenAI(base_url=running.base_url, api_key="x", max_retries=0)
        with pytest.raises(openai.InternalServerError) as info:
            client.chat.completions.create(**BODY)
        held.release.set()
        worker.join(60)
    assert info.value.status_code == 503


def test_abandoned_stream_gives_its_slot_back(engine) -> None:
    with serving(engine, max_concurrency=1, queue_size=0) as running:
        url = f"{running.base_url}/chat/completions"
        with httpx.stream("POST", url, json={**BODY, "stream": True, "max_tokens": 200}) as r:
            assert r.status_code == 200
            next(r.iter_lines())  # read one event, then hang up
        deadline = time.monotonic() + 30
        while True:  # the slot is released once the worker has noticed and stopped generating
            health = httpx.get(running.base_url.removesuffix("/v1") + "/health").json()
            if health["running"] == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert health["running"] == 0 and health["waiting"] == 0
        assert httpx.post(url, json=BODY, timeout=60).status_code == 200


def test_admission_queue_counts() -> None:
    from tunesmith.serve.queue import AdmissionQueue, QueueFull

    async def scenario() -> None:
        queue = AdmissionQueue(max_concurrency=1, queue_size=1)
        first = await queue.acquire()
        waiter = asyncio.ensure_future(queue.acquire())
        await asyncio.sleep(0)
        assert (queue.stats.running, queue.stats.waiting) == (1, 1)
        with pytest.raises(QueueFull):
            await queue.acquire()
        first.release()
        first.release()  # idempotent
        second = await waiter
        assert (queue.stats.running, queue.stats.waiting) == (1, 0)
        second.release()
        assert (queue.stats.running, queue.stats.waiting) == (0, 0)
        # a waiter cancelled while waiting leaves the line
        held = await queue.acquire()
        cancelled = asyncio.ensure_future(queue.acquire())
        await asyncio.sleep(0)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        assert (queue.stats.running, queue.stats.waiting) == (1, 0)
        held.release()

    asyncio.run(scenario())
    with pytest.raises(ValueError):
        AdmissionQueue(0, 1)
