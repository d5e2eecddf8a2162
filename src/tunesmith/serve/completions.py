"""Text completions (``POST /v1/completions``): the raw prompt, no chat template.

A text prompt is tokenized as vLLM does (``add_special_tokens=True``: a BOS token is added for
models that have one); token-id prompts are used as given. Generation stops at the end-of-sequence
ids and the template's end-of-turn markers, plus the request's ``stop`` strings. With ``stream: true``
the choices are sent as ``text_completion`` chunks (one prompt and one choice after the other),
joining to exactly the non-streamed text under greedy decoding.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from tunesmith.infer.output import Generation, finish
from tunesmith.infer.sampling import SamplingParams
from tunesmith.serve.chat import completion_id, max_new_tokens, now, refuse_unsupported, sampling_params
from tunesmith.serve.errors import bad_request
from tunesmith.serve.schemas import Completion, CompletionChoice, CompletionRequest, Usage
from tunesmith.serve.settings import ServeSettings

MAX_PROMPTS = 16
DEFAULT_MAX_TOKENS = 16
"""OpenAI's default ``max_tokens`` for completions."""


@dataclass(frozen=True)
class CompletionPlan:
    """How one completions request is answered: choice ``p * len(params) + c`` continues prompt ``p``
    with ``params[c]``."""

    prompts: tuple[tuple[int, ...], ...]
    params: tuple[SamplingParams, ...]
    echoes: tuple[str, ...]
    """Per prompt, the text put before each of its choices (the decoded prompt with ``echo``, else "")."""
    include_usage: bool

    @property
    def prompt_tokens(self) -> int:
        return sum(len(p) for p in self.prompts)

    def choices(self) -> list[tuple[int, tuple[int, ...], SamplingParams, str]]:
        """(choice index, prompt ids, params, echo) of every choice, in order."""
        out = []
        for p_index, (ids, echo) in enumerate(zip(self.prompts, self.echoes, strict=True)):
            for c_index, params in enumerate(self.params):
                out.append((p_index * len(self.params) + c_index, ids, params, echo))
        return out


def prompt_ids(prompt: str | list[str] | list[int] | list[list[int]], tokenizer: Any) -> list[list[int]]:
    """The token ids of each prompt of a request."""
    if isinstance(prompt, str):
        prompts: list[Any] = [prompt]
    elif prompt and all(isinstance(p, int) for p in prompt):
        prompts = [prompt]
    else:
        prompts = list(prompt)
    if not prompts:
        raise bad_request("prompt: must not be empty", param="prompt")
    if len(prompts) > MAX_PROMPTS:
        raise bad_request(
            f"prompt: at most {MAX_PROMPTS} prompts per request, got {len(prompts)}", param="prompt"
        )
    vocab = len(tokenizer)
    out: list[list[int]] = []
    for i, p in enumerate(prompts):
        ids = tokenizer(p, add_special_tokens=True)["input_ids"] if isinstance(p, str) else list(p)
        if not ids:
            raise bad_request(f"prompt[{i}]: empty prompt", param="prompt")
        if any(not 0 <= t < vocab for t in ids):
            raise bad_request(f"prompt[{i}]: token ids must be in [0, {vocab})", param="prompt")
        out.append(ids)
    return out


def completion_plan(engine: Any, req: CompletionRequest, settings: ServeSettings) -> CompletionPlan:
    """Validate ``req`` and tokenize its prompts (400 for what cannot be served)."""
    refuse_unsupported(req, engine)
    if req.suffix:
        raise bad_request("suffix is not supported", param="suffix", code="unsupported_parameter")
    if req.best_of is not None and req.best_of != req.n:
        raise bad_request(
            "best_of other than n is not supported", param="best_of", code="unsupported_parameter"
        )
    tokenizer = engine.tokenizer
    prompts = prompt_ids(req.prompt, tokenizer)
    longest = max(len(p) for p in prompts)
    budget = max_new_tokens(
        req.max_tokens, longest, engine, settings, "max_tokens", default=DEFAULT_MAX_TOKENS
    )
    echoes = tuple(tokenizer.decode(p, skip_special_tokens=True) if req.echo else "" for p in prompts)
    return CompletionPlan(
        prompts=tuple(tuple(p) for p in prompts),
        params=sampling_params(req, settings.defaults, budget),
        echoes=echoes,
        include_usage=bool(req.stream and req.stream_options and req.stream_options.include_usage),
    )


def complete(engine: Any, plan: CompletionPlan, model: str) -> Completion:
    """Generate the completions of ``plan`` (blocking: run it in a worker thread)."""
    choices: list[CompletionChoice] = []
    completion_tokens = 0
    for index, ids, params, echo in plan.choices():
        gen = generate_one(engine, ids, params)
        completion_tokens += gen.completion_tokens
        reason = "length" if gen.finish_reason == "length" else "stop"
        choices.append(CompletionChoice(index=index, text=echo + gen.text, finish_reason=reason))
    usage = Usage(
        prompt_tokens=plan.prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=plan.prompt_tokens + completion_tokens,
    )
    return Completion(id=completion_id("cmpl"), created=now(), model=model, choices=choices, usage=usage)


def generate_one(engine: Any, ids: Sequence[int], params: SamplingParams) -> Generation:
    """One continuation of the token ids ``ids``, cut at the stop strings."""
    (new,) = engine.generate_ids([list(ids)], params)
    plan = engine.stop_plan(params)
    stopped = bool(new) and new[-1] in plan.eos_ids
    body = new[:-1] if stopped else new
    text = engine.tokenizer.decode(body, skip_special_tokens=params.skip_special_tokens)
    return finish(
        text,
        stops=plan.text_stops,
        stopped=stopped,
        completion_tokens=len(new),
        max_new_tokens=params.max_new_tokens,
        prompt_tokens=len(ids),
    )


class CompletionChunks:
    """``text_completion`` chunks of one streamed request (one id and timestamp for all)."""

    def __init__(self, model: str) -> None:
        self.id = completion_id("cmpl")
        self.created = now()
        self.model = model

    def _event(self, choices: list[dict[str, Any]], **extra: Any) -> str:
        from tunesmith.serve.streaming import sse

        payload = {
            "id": self.id,
            "object": "text_completion",
            "created": self.created,
            "model": self.model,
            "choices": choices,
            **extra,
        }
        return sse(payload)

    def text(self, index: int, text: str, finish_reason: str | None = None) -> str:
        return self._event([{"index": index, "text": text, "logprobs": None, "finish_reason": finish_reason}])

    def usage(self, prompt_tokens: int, completion_tokens: int) -> str:
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        return self._event([], usage=usage)


async def completion_events(engine: Any, plan: CompletionPlan, model: str) -> AsyncIterator[str]:
    """The SSE events of one streamed completions request, ending with ``data: [DONE]``."""
    from tunesmith.serve.streaming import DONE, StreamWorker, error_event

    chunks = CompletionChunks(model)
    completion_total = 0
    try:
        for index, ids, params, echo in plan.choices():
            worker = StreamWorker(lambda i=ids, p=params: engine.stream_ids(i, p))
            worker.start()
            try:
                if echo:
                    yield chunks.text(index, echo)
                async for piece in worker.pieces():
                    if piece:
                        yield chunks.text(index, piece)
            finally:
                await worker.join()
            completion_total += worker.completion_tokens
            yield chunks.text(index, "", "length" if worker.finish_reason == "length" else "stop")
        if plan.include_usage:
            yield chunks.usage(plan.prompt_tokens, completion_total)
    except Exception as exc:
        yield error_event(exc, "a completion")
    yield DONE
