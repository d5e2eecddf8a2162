"""Admission control: at most ``max_concurrency`` requests generate at once, at most ``queue_size``
wait for a slot; any further request is refused at once (HTTP 503 with ``Retry-After``) instead of
piling up behind a slow model.

One :class:`AdmissionQueue` belongs to one app (made by its factory), used from its event loop only.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


class QueueFull(Exception):
    """Every slot is busy and the waiting line is full."""

    def __init__(self, running: int, waiting: int) -> None:
        super().__init__(f"server busy: {running} request(s) generating and {waiting} waiting")
        self.running = running
        self.waiting = waiting


class Slot:
    """A held generation slot; :meth:`release` is idempotent (a stream may end more than one way)."""

    def __init__(self, queue: AdmissionQueue) -> None:
        self._queue = queue
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._queue._release()


@dataclass(frozen=True)
class QueueStats:
    running: int
    waiting: int


class AdmissionQueue:
    def __init__(self, max_concurrency: int, queue_size: int) -> None:
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {max_concurrency}")
        if queue_size < 0:
            raise ValueError(f"queue_size must be >= 0, got {queue_size}")
        self.max_concurrency = max_concurrency
        self.queue_size = queue_size
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._admitted = 0  # running + waiting
        self._running = 0

    @property
    def stats(self) -> QueueStats:
        return QueueStats(self._running, self._admitted - self._running)

    async def acquire(self) -> Slot:
        """Wait for a slot; raises :class:`QueueFull` at once when the waiting line is full."""
        if self._admitted >= self.max_concurrency + self.queue_size:
            stats = self.stats
            raise QueueFull(stats.running, stats.waiting)
        self._admitted += 1
        try:
            await self._semaphore.acquire()
        except BaseException:  # cancelled while waiting (the client went away)
            self._admitted -= 1
            raise
        self._running += 1
        return Slot(self)

    def _release(self) -> None:
        self._running -= 1
        self._admitted -= 1
        self._semaphore.release()
