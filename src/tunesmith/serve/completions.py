"""Text completions (``POST /v1/completions``): the raw prompt, no chat template.

A text prompt is tokenized as vLLM does (``add_special_tokens=True``: a BOS token is added for
models that have one); token-id prompts are used as given. Generation stops at the end-of-sequence
ids and the template's end-of-turn markers, plus the request's ``stop`` strings. ``stream: true`` is
not supported on this endpoint yet (400); chat completions stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tunesmith.infer.output import finish
from tunesmith.serve.chat import completion_id, max_new_tokens, now, refuse_unsupported, sampling_params
from tunesmith.serve.errors import bad_request
from tunesmith.serve.schemas import Completion, CompletionChoice, CompletionRequest, Usage
from tunesmith.serve.settings import ServeSettings

MAX_PROMPTS = 16
DEFAULT_MAX_TOKENS = 16
"""OpenAI's default ``max_tokens`` for completions."""


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


def complete(engine: Any, req: CompletionRequest, settings: ServeSettings, model: str) -> Completion:
    """Generate the completions of ``req`` (blocking: run it in a worker thread)."""
    refuse_unsupported(req)
    if req.stream:
        raise bad_request(
            "stream is not supported on /v1/completions yet; use /v1/chat/completions to stream",
            param="stream",
            code="unsupported_parameter",
        )
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
    params = sampling_params(req, settings.defaults, budget)
    choices: list[CompletionChoice] = []
    completion_tokens = 0
    for p_index, ids in enumerate(prompts):
        echo = tokenizer.decode(ids, skip_special_tokens=True) if req.echo else ""
        for c_index, p in enumerate(params):
            gen = _generate(engine, ids, p)
            completion_tokens += gen.completion_tokens
            reason = "length" if gen.finish_reason == "length" else "stop"
            choices.append(
                CompletionChoice(
                    index=p_index * len(params) + c_index, text=echo + gen.text, finish_reason=reason
                )
            )
    prompt_tokens = sum(len(p) for p in prompts)
    usage = Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
    )
    return Completion(id=completion_id("cmpl"), created=now(), model=model, choices=choices, usage=usage)


def _generate(engine: Any, ids: Sequence[int], params: Any) -> Any:
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
