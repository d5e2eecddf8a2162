"""Generation jobs, and batching concurrent requests for the transformers engine.

A :class:`Job` is the rows one call wants generated with one :class:`SamplingParams` (a request's
prompt, or its ``n`` choices), optionally read token by token through a :class:`RowFeed`
(streaming). The engine runs jobs as batches (see ``TransformersEngine``): alone, in the caller's
thread, when batching is off; through a :class:`BatchScheduler` when it is on.

The scheduler runs one batch at a time in a worker thread that lives only while there is work.
A job that arrives when nothing runs starts at once (batching adds no wait); jobs that arrive while
a batch runs queue up, and the next batch takes the oldest one plus every later one that can share
its ``generate`` call, up to ``max_rows`` rows. Jobs can share a call when their sampling parameters
are equal apart from ``max_new_tokens`` (each row keeps its own budget) and none has a seed, beams or
pixel inputs (those change what the others would get, so they run alone). Oldest first, so no job
waits behind later ones for ever.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tunesmith.infer.sampling import SamplingParams

_CLOSED = object()


class RowFeed:
    """The tokens of one streamed row, from the generating thread to its reader."""

    def __init__(self) -> None:
        self._items: queue.Queue[Any] = queue.Queue()

    def put(self, token: int) -> None:
        self._items.put(token)

    def close(self, error: BaseException | None = None) -> None:
        """No more tokens (``error``: generation failed; the reader raises it)."""
        self._items.put(error if error is not None else _CLOSED)

    def tokens(self) -> Any:
        """The tokens as they come, until the feed is closed (re-raising a generation error)."""
        while True:
            item = self._items.get()
            if item is _CLOSED:
                return
            if isinstance(item, BaseException):
                raise item
            yield item


class Job:
    """Rows to generate with ``params``: ``prompts`` (token ids), ``inputs`` (pixel inputs of a single
    prompt with images) and, when streamed, the single row's ``feed``."""

    def __init__(
        self,
        prompts: Sequence[Sequence[int]],
        params: SamplingParams,
        *,
        inputs: Mapping[str, Any] | None = None,
        feed: RowFeed | None = None,
    ) -> None:
        if not prompts:
            raise ValueError("a generation job needs at least one prompt")
        if (inputs or feed is not None) and len(prompts) != 1:
            raise ValueError("pixel inputs and streaming go with a single prompt")
        if any(len(p) == 0 for p in prompts):  # refused here, not in a batch shared with others
            raise ValueError("cannot generate from an empty prompt")
        self.prompts = tuple(tuple(p) for p in prompts)
        self.params = params
        self.inputs = inputs or None
        self.feed = feed
        self.cancel = threading.Event()
        """Set by a caller that no longer wants the result (a stream's reader left, an interrupted
        wait): the job's rows end at the next step, or the job is dropped if it has not started."""
        self._done = threading.Event()
        self._result: list[list[int]] | None = None
        self._error: BaseException | None = None

    @property
    def rows(self) -> int:
        return len(self.prompts)

    @property
    def width(self) -> int:
        """The longest prompt."""
        return max(len(p) for p in self.prompts)

    def batch_key(self) -> SamplingParams | None:
        """What another job's must equal to share a ``generate`` call (None: this job runs alone)."""
        p = self.params
        if self.inputs or p.seed is not None or p.num_beams > 1:
            return None
        return p.replace(max_new_tokens=1)

    @property
    def cancelled(self) -> bool:
        return self.cancel.is_set()

    def finish(self, result: list[list[int]]) -> None:
        self._result = result
        self._done.set()
        if self.feed is not None:
            self.feed.close()

    def fail(self, error: BaseException) -> None:
        if self._done.is_set():
            return
        self._error = error
        self._done.set()
        if self.feed is not None:
            self.feed.close(error)

    def wait(self) -> list[list[int]]:
        """The new token ids of each row, once generated (re-raising a generation error); an
        interrupted wait (KeyboardInterrupt) cancels the job."""
        try:
            self._done.wait()
        except BaseException:
            self.cancel.set()
            raise
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


class BatchScheduler:
    """Runs jobs through ``execute`` (which finishes or fails every job it is given), merging the
    jobs that wait into batches of up to ``max_rows`` rows (see the module docstring) and, with
    ``max_positions`` (the model's context), only where the longest prompt plus the largest token
    budget of the batch fits in it: every row of a batch runs that many positions."""

    def __init__(
        self, execute: Callable[[Sequence[Job]], None], max_rows: int, *, max_positions: int | None = None
    ) -> None:
        if max_rows < 1:
            raise ValueError(f"max_rows must be >= 1, got {max_rows}")
        self._execute = execute
        self.max_rows = max_rows
        self.max_positions = max_positions
        self._cond = threading.Condition()
        self._pending: list[Job] = []
        self._working = False
        self.batches = 0
        """Batches run so far (``generate`` calls)."""

    @property
    def waiting(self) -> int:
        """Jobs queued for a later batch."""
        with self._cond:
            return len(self._pending)

    def submit(self, job: Job) -> None:
        """Queue ``job`` (returns at once; :meth:`Job.wait` or its feed gives the result)."""
        with self._cond:
            self._pending.append(job)
            if not self._working:
                self._working = True
                # not a daemon: at interpreter exit the batch running is finished (its cancelled rows
                # end at the next step) instead of the thread dying inside generate
                threading.Thread(target=self._work, name="tunesmith-batches").start()

    def _work(self) -> None:
        while True:
            with self._cond:
                batch = self._take()
                if not batch:
                    self._working = False
                    return
                self.batches += 1
            try:
                self._execute(batch)
            except BaseException as exc:  # execute should not raise; never leave a job waiting
                for job in batch:
                    job.fail(exc)

    def _take(self) -> list[Job]:
        """The next batch: the oldest job and the later ones that can share its call."""
        for job in [j for j in self._pending if j.cancelled]:  # nobody waits for it any more
            self._pending.remove(job)
            job.finish([[]])
        if not self._pending:
            return []
        first = self._pending.pop(0)
        key = first.batch_key()
        if key is None:
            return [first]
        batch, rows, rest = [first], first.rows, []
        width, budget = first.width, first.params.max_new_tokens
        for job in self._pending:
            fits = self.max_positions is None or (
                max(width, job.width) + max(budget, job.params.max_new_tokens) <= self.max_positions
            )
            if fits and rows + job.rows <= self.max_rows and job.batch_key() == key:
                batch.append(job)
                rows += job.rows
                width, budget = max(width, job.width), max(budget, job.params.max_new_tokens)
            else:
                rest.append(job)
        self._pending = rest
        return batch


class IncrementalDecoder:
    """Turns a row's tokens into text pieces as they come, decoding a short window of recent tokens
    (as TGI and vLLM do) so that a piece is never a partial UTF-8 character and leading-space rules
    of the tokenizer see the same context as a decode of the whole reply."""

    def __init__(self, tokenizer: Any, *, skip_special_tokens: bool) -> None:
        self.tokenizer = tokenizer
        self.skip = skip_special_tokens
        self.tokens: list[int] = []
        self._prefix = 0
        self._read = 0

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=self.skip)

    def push(self, token: int) -> str:
        """The text ``token`` completes ("" while it ends inside a character or is skipped)."""
        self.tokens.append(token)
        before = self._decode(self.tokens[self._prefix : self._read])
        now = self._decode(self.tokens[self._prefix :])
        if len(now) > len(before) and not now.endswith("\ufffd"):
            self._prefix, self._read = self._read, len(self.tokens)
            return now[len(before) :]
        return ""

    def flush(self) -> str:
        """Whatever is left undecoded (a trailing partial character decodes as U+FFFD)."""
        before = self._decode(self.tokens[self._prefix : self._read])
        now = self._decode(self.tokens[self._prefix :])
        self._prefix = self._read = len(self.tokens)
        return now[len(before) :]
