"""Batching concurrent calls: the scheduler's merge rules, incremental decoding, and the transformers
engine with ``max_batch_size`` > 1 giving every caller exactly what it gets alone (greedy), with
fewer ``generate`` calls, own token budgets, streams and cancellation inside a shared batch."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest

from tunesmith.infer import SamplingParams, TransformersEngine
from tunesmith.infer.batching import BatchScheduler, IncrementalDecoder, Job, RowFeed
from tunesmith.templates import Conversation, Message

GREEDY = SamplingParams(max_new_tokens=12)


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)


# ------------------------------------------------------------------------------ the scheduler


class Recorder:
    """An ``execute`` that records its batches; the first one waits for ``release``."""

    def __init__(self) -> None:
        self.batches: list[list[Job]] = []
        self.release = threading.Event()

    def __call__(self, jobs: Sequence[Job]) -> None:
        self.batches.append(list(jobs))
        if len(self.batches) == 1:
            self.release.wait(10)
        for job in jobs:
            job.finish([[len(self.batches)]] * job.rows)


def test_jobs_waiting_behind_a_batch_are_merged_by_key_and_row_limit() -> None:
    rec = Recorder()
    scheduler = BatchScheduler(rec, max_rows=4)
    first = Job([[1]], GREEDY)
    scheduler.submit(first)
    wait_until(lambda: len(rec.batches) == 1)
    a = Job([[2], [3]], GREEDY)
    b = Job([[4]], GREEDY.replace(max_new_tokens=99))  # another budget: same batch
    c = Job([[5]], GREEDY.replace(temperature=0.5, do_sample=True))  # other sampling: not
    d = Job([[6], [7]], GREEDY)  # would exceed 4 rows with a and b
    e = Job([[8]], GREEDY.replace(seed=3))  # seeded: alone
    f = Job([[9]], GREEDY)
    for job in (a, b, c, d, e, f):
        scheduler.submit(job)
    assert scheduler.waiting == 6
    rec.release.set()
    for job in (first, a, b, c, d, e, f):
        job.wait()
    wait_until(lambda: scheduler.waiting == 0 and not scheduler._working)
    groups = [[[p[0] for p in j.prompts] for j in batch] for batch in rec.batches]
    assert groups == [[[1]], [[2, 3], [4], [9]], [[5]], [[6, 7]], [[8]]]
    assert scheduler.batches == 5
    assert f.wait() == [[2]] and c.wait() == [[3]]


def test_a_cancelled_stream_is_dropped_before_it_runs_and_errors_reach_every_job() -> None:
    rec = Recorder()
    scheduler = BatchScheduler(rec, max_rows=8)
    scheduler.submit(Job([[1]], GREEDY))
    wait_until(lambda: len(rec.batches) == 1)
    feed = RowFeed()
    gone = Job([[2]], GREEDY, feed=feed)
    scheduler.submit(gone)
    gone.cancel.set()
    rec.release.set()
    assert gone.wait() == [[]] and list(feed.tokens()) == []
    assert len(rec.batches) == 1

    def broken(jobs: Sequence[Job]) -> None:
        raise RuntimeError("device on fire")

    failing = BatchScheduler(broken, max_rows=8)
    streamed = Job([[1]], GREEDY, feed=RowFeed())
    plain = Job([[1]], GREEDY)
    failing.submit(streamed)
    failing.submit(plain)
    with pytest.raises(RuntimeError, match="on fire"):
        plain.wait()
    with pytest.raises(RuntimeError, match="on fire"):
        list(streamed.feed.tokens())  # type: ignore[union-attr]


def test_jobs_refuse_what_cannot_be_one_row() -> None:
    with pytest.raises(ValueError, match="at least one prompt"):
        Job([], GREEDY)
    with pytest.raises(ValueError, match="single prompt"):
        Job([[1], [2]], GREEDY, feed=RowFeed())
    with pytest.raises(ValueError, match=">= 1"):
        BatchScheduler(lambda jobs: None, max_rows=0)
    with pytest.raises(ValueError, match="empty prompt"):  # before it could share a batch
        Job([[1], []], GREEDY)


def test_batches_stay_within_the_models_context() -> None:
    rec = Recorder()
    scheduler = BatchScheduler(rec, max_rows=8, max_positions=20)
    scheduler.submit(Job([[0]], GREEDY))
    wait_until(lambda: len(rec.batches) == 1)
    long_prompt = Job([[1] * 15], GREEDY.replace(max_new_tokens=4))  # 19 positions
    long_reply = Job([[2]], GREEDY.replace(max_new_tokens=10))  # with the long prompt: 25
    short = Job([[3] * 5], GREEDY.replace(max_new_tokens=4))  # 15 + 4: fits with the first
    for job in (long_prompt, long_reply, short):
        scheduler.submit(job)
    rec.release.set()
    for job in (long_prompt, long_reply, short):
        job.wait()
    firsts = [[j.prompts[0][0] for j in batch] for batch in rec.batches]
    assert firsts == [[0], [1, 3], [2]]


# ------------------------------------------------------------------------------ decoding


@pytest.mark.parametrize(
    "text", ["plain words here", "你好，世界！很高兴认识你", "emoji 🎉🧪 and\n new lines  "]
)
def test_incremental_pieces_join_to_the_whole_decode(tiny_parts, text: str) -> None:
    _, tokenizer, _ = tiny_parts
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    decoder = IncrementalDecoder(tokenizer, skip_special_tokens=True)
    pieces = [decoder.push(t) for t in ids]
    pieces.append(decoder.flush())
    assert "".join(pieces) == tokenizer.decode(ids, skip_special_tokens=True) == text
    assert all("\ufffd" not in p for p in pieces)


# ------------------------------------------------------------------------------ the engine


PROMPTS = ["hi", "tell me about rivers", "你好", "a b c d e f g", "what is music?", "cats", "rain and bread"]


def conv(text: str) -> Conversation:
    return Conversation((Message("user", text),))


@pytest.fixture(scope="module")
def batching(tiny_parts) -> TransformersEngine:
    model, tokenizer, template = tiny_parts
    return TransformersEngine(model, tokenizer, template, max_batch_size=8)


@pytest.fixture(scope="module")
def alone(engine: TransformersEngine) -> dict[str, Any]:
    """What each prompt gets generated alone (the plain engine, no batching)."""
    return {p: engine.generate([conv(p)], GREEDY)[0] for p in PROMPTS}


@contextmanager
def held(engine: TransformersEngine, waiting: int) -> Iterator[None]:
    """Keep ``engine`` busy (a batch stuck at the model's lock) until ``waiting`` jobs have queued
    behind it, so that they merge into the next batch; the block submits them."""
    scheduler = engine.scheduler
    assert scheduler is not None
    before = scheduler.batches
    with ThreadPoolExecutor(max_workers=1) as pool:
        with engine._lock:
            busy = pool.submit(engine.generate, [conv("busy")], SamplingParams(max_new_tokens=2))
            wait_until(lambda: scheduler.batches > before)
            yield
            wait_until(lambda: scheduler.waiting >= waiting)
        busy.result()


def test_concurrent_calls_share_batches_and_get_what_they_get_alone(batching, alone) -> None:
    scheduler = batching.scheduler
    with ThreadPoolExecutor(max_workers=len(PROMPTS)) as pool:
        with held(batching, len(PROMPTS)):
            start = scheduler.batches
            futures = [pool.submit(batching.generate, [conv(p)], GREEDY) for p in PROMPTS]
        results = [f.result()[0] for f in futures]
    assert scheduler.batches - start == 1  # seven requests, one generate call (they all waited)
    assert results == [alone[p] for p in PROMPTS]


def test_each_row_keeps_its_own_budget(batching, engine) -> None:
    budgets = [2, 12, 5]
    prompts = PROMPTS[: len(budgets)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        with held(batching, 3):
            start = batching.scheduler.batches
            futures = [
                pool.submit(batching.generate, [conv(p)], GREEDY.replace(max_new_tokens=b))
                for p, b in zip(prompts, budgets, strict=True)
            ]
        got = [f.result()[0] for f in futures]
    assert batching.scheduler.batches - start == 1
    for gen, prompt, budget in zip(got, prompts, budgets, strict=True):
        (expected,) = engine.generate([conv(prompt)], GREEDY.replace(max_new_tokens=budget))
        assert gen == expected
        assert gen.completion_tokens <= budget


def test_streams_in_a_shared_batch_join_to_their_text_and_one_can_leave(batching, alone) -> None:
    streams = {p: batching.stream(conv(p), GREEDY) for p in PROMPTS[:4]}
    leaving = PROMPTS[1]
    with ThreadPoolExecutor(max_workers=5) as pool:
        with held(batching, 5):
            start = batching.scheduler.batches
            # a stream starts generating on first use: take the first piece of each in a thread
            firsts_f = {p: pool.submit(next, s, "") for p, s in streams.items()}
            other = pool.submit(batching.generate, [conv(PROMPTS[4])], GREEDY)
        firsts = {p: f.result() for p, f in firsts_f.items()}
        streams[leaving].close()  # its row ends at the next step; the others go on
        joined = {p: firsts[p] + "".join(s) for p, s in streams.items() if p != leaving}
        assert other.result()[0] == alone[PROMPTS[4]]
    assert batching.scheduler.batches - start == 1
    for p, text in joined.items():
        assert text == alone[p].text
        assert streams[p].finish_reason == alone[p].finish_reason
        assert streams[p].completion_tokens == alone[p].completion_tokens
    assert alone[leaving].text.startswith(firsts[leaving])


def test_seeded_sampling_is_reproducible_under_batching(batching) -> None:
    params = SamplingParams(max_new_tokens=8, do_sample=True, temperature=1.0, top_p=1.0, top_k=0, seed=7)
    first = batching.generate([conv("cats")], params)
    with ThreadPoolExecutor(max_workers=3) as pool:
        with held(batching, 3):
            start = batching.scheduler.batches
            futures = [pool.submit(batching.generate, [conv("cats")], params) for _ in range(2)]
            futures.append(pool.submit(batching.generate, [conv("rain")], GREEDY))
        results = [f.result() for f in futures[:2]]
    assert results == [first, first]
    assert batching.scheduler.batches - start == 3  # seeded jobs run alone
