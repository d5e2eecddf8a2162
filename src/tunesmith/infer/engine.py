"""The inference engine protocol and its transformers implementation.

Prompts are rendered by OUR template (the one training used) and tokenized once without special
tokens, never by ``tokenizer.apply_chat_template``, so what is served is exactly what was trained.
Generation ends at the template's end-of-turn markers: those that are one token become end-of-sequence
ids, longer ones end a row through a stopping criterion that reads the generated text only (see
:mod:`tunesmith.infer.stopping`); the decoded text is always cut at the first stop string as well, so
streamed and non-streamed output agree.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from tunesmith.infer.batching import BatchScheduler, IncrementalDecoder, Job, RowFeed
from tunesmith.infer.output import FinishReason, Generation, StopCutter, find_stop, finish
from tunesmith.infer.sampling import SamplingParams
from tunesmith.templates.base import ChatTemplate, RenderOptions
from tunesmith.templates.messages import Conversation

if TYPE_CHECKING:
    import torch

    from tunesmith.infer.vision import VisionInputs

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prompt:
    """A rendered prompt and its token ids (image tokens expanded for a vision-language model)."""

    text: str
    ids: tuple[int, ...]
    inputs: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    """Pixel inputs of the prompt's images (``pixel_values``, ...), None without images."""


@runtime_checkable
class InferenceEngine(Protocol):
    """What chat, predict and serve need from an engine."""

    template: ChatTemplate
    tool_format: str | None
    """The tool format replies are read with when a conversation has tools."""

    def render(self, conversation: Conversation) -> Prompt:
        """The prompt the model sees for ``conversation`` (with the generation prompt)."""
        ...

    def generate(self, conversations: Sequence[Conversation], params: SamplingParams) -> list[Generation]:
        """One reply per conversation, in order."""
        ...

    def stream(self, conversation: Conversation, params: SamplingParams) -> Iterator[str]:
        """The reply to one conversation, piece by piece; the pieces join to ``generate``'s text."""
        ...


@dataclass(frozen=True)
class StopPlan:
    """How one request stops: end-of-sequence ids, stop strings handed to ``generate``, and the
    strings the decoded text is cut at."""

    eos_ids: tuple[int, ...]
    generate_strings: tuple[str, ...]
    text_stops: tuple[str, ...]


@dataclass
class StreamEnd:
    """How a stream ended; filled in by the producer once the last piece is out."""

    finish_reason: FinishReason | None = None
    completion_tokens: int = 0


class TextStream:
    """An iterator over the pieces of one streamed reply; once it is exhausted,
    :attr:`finish_reason` and :attr:`completion_tokens` say how it ended (None / 0 before)."""

    def __init__(self, pieces: Iterator[str], end: StreamEnd, prompt_tokens: int) -> None:
        self._pieces = pieces
        self._end = end
        self.prompt_tokens = prompt_tokens

    @property
    def finish_reason(self) -> FinishReason | None:
        return self._end.finish_reason

    @property
    def completion_tokens(self) -> int:
        return self._end.completion_tokens

    def __iter__(self) -> TextStream:
        return self

    def __next__(self) -> str:
        return next(self._pieces)

    def close(self) -> None:
        """Stop generating (also done when the stream is garbage-collected)."""
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()


class TransformersEngine:
    """Runs ``model.generate`` on prompts rendered by ``template``; safe to share between threads
    (one ``generate`` call at a time). With ``max_batch_size`` above 1, calls from several threads
    (server requests) that wait while a batch runs are merged into the next one, streams included
    (see :mod:`tunesmith.infer.batching`). With ``vision`` (a vision-language model), image parts of
    user messages become image tokens and pixel inputs (see :mod:`tunesmith.infer.vision`)."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        template: ChatTemplate,
        *,
        tool_format: str | None = None,
        render_options: RenderOptions | None = None,
        vision: VisionInputs | None = None,
        max_batch_size: int = 1,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.template = template
        self.tool_format = tool_format or template.tool_format
        """Format tool calls are read with (the template's unless overridden)."""
        self.render_options = render_options
        self.vision = vision
        self._lock = threading.Lock()
        context = getattr(getattr(model, "config", None), "max_position_embeddings", None)
        self.scheduler: BatchScheduler | None = (
            BatchScheduler(
                self._execute, max_batch_size, max_positions=context if isinstance(context, int) else None
            )
            if max_batch_size > 1
            else None
        )
        """Merges concurrent calls into batches (None: ``max_batch_size`` 1, each call runs alone in
        the caller's thread)."""
        self.pad_id = _pad_id(tokenizer, model)
        """Token id prompts are padded with: the tokenizer's pad token, else the generation config's, else EOS."""

    @property
    def accepts_images(self) -> bool:
        """Whether image parts can be sent (a vision-language model with its processor)."""
        return self.vision is not None

    # -- prompts -------------------------------------------------------------------------------
    def render(self, conversation: Conversation) -> Prompt:
        """The prompt text (with the generation prompt) and its ids, tokenized once without special
        tokens; images (``data:`` URLs or local paths) are read and their placeholders expanded."""
        media = [p for m in conversation.messages for p in m.media]
        for part in media:
            if part.type != "image" or self.vision is None:
                need = "a vision-language model" if part.type == "image" else "a model for it"
                raise ValueError(f"this model takes text only: {part.type} inputs need {need}")
        text = self.template.render(
            conversation, add_generation_prompt=True, options=self.render_options
        ).text
        if media and self.vision is not None:
            from tunesmith.infer.vision import open_image

            prepared = self.vision.prepare(text, [open_image(p.source) for p in media])
            return Prompt(text, prepared.ids, prepared.inputs)
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return Prompt(text, tuple(ids))

    def stop_plan(self, params: SamplingParams) -> StopPlan:
        configured = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        return build_stop_plan(self.tokenizer, self.template.stop_strings, params, configured)

    def _tool_format_for(self, conversation: Conversation) -> str | None:
        return self.tool_format if conversation.tools else None

    def _skip_special(self, params: SamplingParams, conversation: Conversation) -> bool:
        """Whether special tokens are dropped from the reply. Not when tool calls are to be read: some
        tokenizers mark the call markup (``<tool_call>``, ``[TOOL_CALLS]``) special (as vLLM does for
        Mistral); the end-of-turn token is cut off either way."""
        return params.skip_special_tokens and self._tool_format_for(conversation) is None

    # -- generation ----------------------------------------------------------------------------
    def generate(self, conversations: Sequence[Conversation], params: SamplingParams) -> list[Generation]:
        """Replies to ``conversations``, generated as one left-padded batch."""
        if not conversations:
            return []
        prompts = [self.render(c) for c in conversations]
        if any(p.inputs for p in prompts):  # rows with images are generated one by one
            jobs = [Job([p.ids], params, inputs=p.inputs) for p in prompts]
        else:
            jobs = [Job([p.ids for p in prompts], params)]
        for job in jobs:
            self._submit(job)
        outputs = [row for job in jobs for row in job.wait()]
        plan = self.stop_plan(params)
        return [
            self._finish(
                ids,
                len(prompt.ids),
                params,
                plan,
                self._tool_format_for(conv),
                self._skip_special(params, conv),
            )
            for ids, prompt, conv in zip(outputs, prompts, conversations, strict=True)
        ]

    def generate_ids(
        self,
        prompts: Sequence[Sequence[int]],
        params: SamplingParams,
        *,
        inputs: Mapping[str, Any] | None = None,
    ) -> list[list[int]]:
        """The new token ids for each prompt, up to and including its end-of-sequence id;
        ``inputs``: the pixel inputs of a single prompt with images."""
        job = Job(prompts, params, inputs=inputs)
        self._submit(job)
        return job.wait()

    def _submit(self, job: Job) -> None:
        if self.scheduler is not None:
            self.scheduler.submit(job)
        else:
            self._execute([job])

    def _execute(self, jobs: Sequence[Job]) -> None:
        """Generate ``jobs`` as one batch; every job is finished or failed afterwards."""
        try:
            self._run_batch(jobs)
        except BaseException as exc:  # handed to whoever waits on the jobs
            for job in jobs:
                job.fail(exc)

    def _run_batch(self, jobs: Sequence[Job]) -> None:
        """One ``generate`` call for all rows of ``jobs`` (equal batch keys: see :meth:`Job.batch_key`),
        each row cut at its own end; streamed rows get their tokens as they are generated."""
        import torch
        from transformers import StoppingCriteriaList

        from tunesmith.infer.stopping import RowStops, StopOnText, row_streamer

        params = jobs[0].params
        prompts = [p for job in jobs for p in job.prompts]
        budgets = [job.params.max_new_tokens for job in jobs for _ in job.prompts]
        feeds = [job.feed for job in jobs for _ in job.prompts]
        cancels = [job.cancel for job in jobs for _ in job.prompts]
        plan = self.stop_plan(params)
        input_ids, attention_mask = self._left_pad(prompts)
        width = input_ids.shape[1]
        by_text = (
            StopOnText(
                self.tokenizer, plan.generate_strings, width, skip_special_tokens=params.skip_special_tokens
            )
            if plan.generate_strings
            else None
        )
        kwargs = params.replace(max_new_tokens=max(budgets)).generate_kwargs()
        kwargs["eos_token_id"] = list(plan.eos_ids)
        kwargs["pad_token_id"] = self.pad_id
        stops = None
        if params.num_beams > 1:  # beams are rows of their own: only the text criterion applies
            if by_text is not None:
                kwargs["stopping_criteria"] = StoppingCriteriaList([by_text])
        else:
            stops = RowStops(width, budgets, plan.eos_ids, cancels=cancels, text=by_text)
            kwargs["stopping_criteria"] = StoppingCriteriaList([stops])
            if any(f is not None for f in feeds):
                kwargs["streamer"] = row_streamer(stops, feeds)
        kwargs.update(self._media_kwargs(jobs[0].inputs if len(jobs) == 1 else None, len(prompts)))
        with self._lock, torch.inference_mode():
            if params.seed is not None:
                torch.manual_seed(params.seed)
            out = self.model.generate(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        new = out[:, width:].tolist()
        rows = (
            [stops.cut(i, row) for i, row in enumerate(new)]
            if stops is not None
            else [_strip_after_stop(row, plan.eos_ids, self.pad_id) for row in new]
        )
        start = 0
        for job in jobs:
            job.finish(rows[start : start + job.rows])
            start += job.rows

    def _finish(
        self,
        ids: list[int],
        prompt_len: int,
        params: SamplingParams,
        plan: StopPlan,
        tool_format: str | None,
        skip: bool,
    ) -> Generation:
        stopped = bool(ids) and ids[-1] in plan.eos_ids
        body = ids[:-1] if stopped else ids
        text = self.tokenizer.decode(body, skip_special_tokens=skip)
        completion = len(ids)
        if plan.generate_strings and find_stop(text, plan.generate_strings) >= 0:
            # The row ended on a stop string; in a batch, padding (which may be an eos id) follows.
            # Count the tokens up to the one completing it, as a generation of this row alone would.
            def has_stop(n: int) -> bool:
                prefix = self.tokenizer.decode(body[:n], skip_special_tokens=skip)
                return find_stop(prefix, plan.generate_strings) >= 0

            completion = _shortest_prefix(body, has_stop)
            text, stopped = self.tokenizer.decode(body[:completion], skip_special_tokens=skip), True
        return finish(
            text,
            stops=plan.text_stops,
            stopped=stopped,
            completion_tokens=completion,
            max_new_tokens=params.max_new_tokens,
            prompt_tokens=prompt_len,
            tool_format=tool_format,
        )

    def _media_kwargs(self, inputs: Mapping[str, Any] | None, rows: int) -> dict[str, Any]:
        if not inputs:
            return {}
        if rows != 1:
            raise ValueError("pixel inputs go with a single prompt")
        device = getattr(self.model, "device", None)
        dtype = getattr(self.model, "dtype", None)
        out = {}
        for key, value in inputs.items():
            if hasattr(value, "to") and device is not None:
                value = (
                    value.to(device=device, dtype=dtype) if value.is_floating_point() else value.to(device)
                )
            out[key] = value
        return out

    def _left_pad(self, prompts: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        width = max(len(p) for p in prompts)
        if width == 0:
            raise ValueError("cannot generate from an empty prompt")
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, prompt in enumerate(prompts):
            if prompt:
                ids[row, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
                mask[row, width - len(prompt) :] = 1
        device = getattr(self.model, "device", None)
        return (ids.to(device), mask.to(device)) if device is not None else (ids, mask)

    # -- streaming -----------------------------------------------------------------------------
    def stream(self, conversation: Conversation, params: SamplingParams) -> TextStream:
        """The reply, piece by piece as tokens are generated; text that may begin a stop string is held
        back until it is known not to. Closing the stream early stops the generation."""
        prompt = self.render(conversation)
        skip = self._skip_special(params, conversation)
        return self.stream_ids(prompt.ids, params, skip_special_tokens=skip, inputs=prompt.inputs)

    def stream_ids(
        self,
        prompt_ids: Sequence[int],
        params: SamplingParams,
        *,
        skip_special_tokens: bool | None = None,
        inputs: Mapping[str, Any] | None = None,
    ) -> TextStream:
        """The reply to a tokenized prompt, piece by piece (see :meth:`stream`); special tokens are
        dropped as ``params`` says unless ``skip_special_tokens`` is given; ``inputs``: pixel inputs."""
        if params.num_beams > 1:
            raise ValueError("streaming needs num_beams == 1 (beam search decides the text only at the end)")
        skip = params.skip_special_tokens if skip_special_tokens is None else skip_special_tokens
        end = StreamEnd()
        job = Job([prompt_ids], params, inputs=inputs, feed=RowFeed())
        return TextStream(self._stream_pieces(job, end, skip), end, len(prompt_ids))

    def _stream_pieces(self, job: Job, end: StreamEnd, skip: bool) -> Iterator[str]:
        """Start ``job`` (on first use) and turn its tokens into text pieces, cut at the stop strings."""
        assert job.feed is not None
        params = job.params
        plan = self.stop_plan(params)
        thread = None
        if self.scheduler is not None:
            self.scheduler.submit(job)
        else:
            thread = threading.Thread(
                target=self._execute, args=([job],), name="tunesmith-generate", daemon=True
            )
            thread.start()
        decoder = IncrementalDecoder(self.tokenizer, skip_special_tokens=skip)
        cutter = StopCutter(plan.text_stops)
        eos = set(plan.eos_ids)
        count, last = 0, None
        try:
            for token in job.feed.tokens():
                count, last = count + 1, token
                if token in eos:  # the end-of-turn token ends the reply and is not part of its text
                    break
                piece = cutter.push(decoder.push(token))
                if piece:
                    yield piece
                if cutter.stopped:
                    break
            rest = cutter.push(decoder.flush())
            rest += "" if cutter.stopped else cutter.flush()
            if rest:
                yield rest
        finally:
            job.cancel.set()
            if thread is not None:
                thread.join()
        end.completion_tokens = count
        stopped = cutter.stopped or last in eos
        end.finish_reason = "stop" if stopped or count < params.max_new_tokens else "length"


def build_stop_plan(
    tokenizer: Any, template_stops: Sequence[str], params: SamplingParams, configured_eos: Any = None
) -> StopPlan:
    """How a request stops: the template's end-of-turn markers and ``params.stop``; those that are one
    token become end-of-sequence ids (with ``configured_eos``, the generation config's, and the
    tokenizer's eos), the others stop strings. Shared by the engines so they stop alike."""
    strings = tuple(dict.fromkeys((*template_stops, *params.stop)))
    eos: list[int] = []
    multi: list[str] = []
    for s in strings:
        ids = tokenizer.encode(s, add_special_tokens=False)
        if len(ids) == 1 and tokenizer.decode(ids) == s:
            eos.append(ids[0])
        else:
            multi.append(s)
    for extra in (configured_eos, tokenizer.eos_token_id):
        if isinstance(extra, int):
            eos.append(extra)
        elif extra is not None:
            eos.extend(int(i) for i in extra)
    eos_ids = tuple(dict.fromkeys(eos))
    # An eos id that is not a special token decodes to text; cut the text there too.
    decoded = (tokenizer.decode([i]) for i in eos_ids)
    text_stops = tuple(dict.fromkeys((*strings, *(d for d in decoded if d))))
    return StopPlan(eos_ids, tuple(multi), text_stops)


def _pad_id(tokenizer: Any, model: Any) -> int:
    for candidate in (
        tokenizer.pad_token_id,
        getattr(getattr(model, "generation_config", None), "pad_token_id", None),
        tokenizer.eos_token_id,
    ):
        if isinstance(candidate, int):
            return candidate
        if isinstance(candidate, (list, tuple)) and candidate:
            return int(candidate[0])
    return 0


def _shortest_prefix(ids: Sequence[int], holds: Callable[[int], bool]) -> int:
    """The least ``n`` with ``holds(n)``, for a property that stays true as ``n`` grows (``holds(len(ids))``)."""
    lo, hi = 1, len(ids)
    while lo < hi:
        mid = (lo + hi) // 2
        if holds(mid):
            hi = mid
        else:
            lo = mid + 1
    return hi


def _strip_after_stop(row: list[int], eos_ids: Sequence[int], pad_id: int) -> list[int]:
    """Tokens up to and including the first end-of-sequence id; rows that stopped otherwise lose the
    padding ``generate`` appends once a row is done."""
    stops = set(eos_ids)
    for i, token in enumerate(row):
        if token in stops:
            return row[: i + 1]
    end = len(row)
    while end and row[end - 1] == pad_id:
        end -= 1
    return row[:end]
