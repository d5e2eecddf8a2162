"""Chat completions: a validated request → a conversation and sampling parameters (a :class:`ChatPlan`),
and generations → the response.

What is refused with a 400, rather than silently ignored: non-zero ``presence_penalty`` /
``frequency_penalty`` (transformers has no additive penalties; use the ``repetition_penalty``
extension), ``logprobs`` / ``top_logprobs`` / ``logit_bias``, ``tool_choice`` ``"required"`` or a
named function (no constrained decoding), ``response_format`` ``json_schema``, media parts for a
text-only model (images are accepted by a vision-language model, read under the server's media
policy), and prompts that do not fit the model's context.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tunesmith.infer.engine import InferenceEngine
from tunesmith.infer.output import Generation
from tunesmith.infer.sampling import SamplingParams
from tunesmith.serve.errors import APIError, bad_request
from tunesmith.serve.schemas import (
    AssistantMessage,
    ChatChoice,
    ChatCompletion,
    ChatCompletionRequest,
    ChatMessage,
    SamplingFields,
    Usage,
)
from tunesmith.serve.settings import ServeSettings
from tunesmith.serve.toolcalls import tool_call_out
from tunesmith.templates.messages import Conversation, ConversationError


@dataclass(frozen=True)
class ChatPlan:
    """How one chat request is answered."""

    conversation: Conversation
    params: tuple[SamplingParams, ...]
    """One per choice (seeds differ by choice index when a seed is given)."""
    prompt_tokens: int
    read_tools: bool
    """Read tool calls out of the replies (tools given and ``tool_choice`` is not ``"none"``)."""
    json_output: bool
    """``response_format`` ``json_object``: the content must parse as JSON."""
    include_usage: bool
    """Streaming: send a final chunk with the usage."""


def completion_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def now() -> int:
    return int(time.time())


def check_model(requested: str, settings: ServeSettings) -> None:
    if requested != settings.model_name:
        raise APIError(
            404,
            f"the model {requested!r} does not exist; this server serves {settings.model_name!r}",
            param="model",
            code="model_not_found",
        )


def refuse_unsupported(req: SamplingFields, engine: Any = None) -> None:
    """400 for what the server cannot honour; additive penalties only where the engine has them (vLLM)."""
    additive = bool(getattr(engine, "additive_penalties", False))
    for name in ("presence_penalty", "frequency_penalty"):
        value = getattr(req, name)
        if value and not additive:
            raise bad_request(
                f"{name} is not supported (only 0); use the repetition_penalty extension "
                "(multiplicative, 1.0 = none) instead",
                param=name,
                code="unsupported_parameter",
            )
    if req.logprobs:
        raise bad_request(
            "logprobs are not supported by this server", param="logprobs", code="unsupported_parameter"
        )
    if req.logit_bias:
        raise bad_request(
            "logit_bias is not supported by this server", param="logit_bias", code="unsupported_parameter"
        )


def stop_strings(stop: str | list[str] | None) -> tuple[str, ...]:
    if stop is None:
        return ()
    stops = [stop] if isinstance(stop, str) else list(stop)
    if len(stops) > 4:
        raise bad_request(f"stop: at most 4 stop strings, got {len(stops)}", param="stop")
    if any(not s for s in stops):
        raise bad_request("stop: stop strings must be non-empty", param="stop")
    return tuple(stops)


def context_length(engine: Any, settings: ServeSettings) -> int | None:
    if settings.context_length is not None:
        return settings.context_length
    own = getattr(engine, "context_length", None)  # the vLLM engine's max_model_len
    if isinstance(own, int) and own > 0:
        return own
    config = getattr(getattr(engine, "model", None), "config", None)
    value = getattr(config, "max_position_embeddings", None)
    return value if isinstance(value, int) and value > 0 else None


def max_new_tokens(
    requested: int | None,
    prompt_tokens: int,
    engine: Any,
    settings: ServeSettings,
    param: str,
    default: int | None = None,
) -> int:
    """The reply budget: the request's (refused when it does not fit), else ``default`` (the configured
    default when None), cut to the server's limit and the context."""
    limit = settings.max_tokens_limit
    if requested is not None and limit is not None and requested > limit:
        raise bad_request(f"{param}: at most {limit} on this server, got {requested}", param=param)
    context = context_length(engine, settings)
    if context is not None:
        room = context - prompt_tokens
        if room < 1:
            raise bad_request(
                f"the prompt is {prompt_tokens} tokens; this model's context is {context} tokens",
                param="messages",
                code="context_length_exceeded",
            )
        if requested is not None and requested > room:
            raise bad_request(
                f"the prompt ({prompt_tokens} tokens) plus {param} ({requested}) exceeds this model's "
                f"context of {context} tokens",
                param=param,
                code="context_length_exceeded",
            )
    if requested is not None:
        budget = requested
    else:
        budget = default if default is not None else settings.defaults.max_new_tokens
    if limit is not None:
        budget = min(budget, limit)
    return budget if context is None else min(budget, context - prompt_tokens)


def sampling_params(req: SamplingFields, defaults: SamplingParams, budget: int) -> tuple[SamplingParams, ...]:
    """One :class:`SamplingParams` per requested choice."""
    changes: dict[str, Any] = {"max_new_tokens": budget, "stop": stop_strings(req.stop), "num_beams": 1}
    if req.temperature is not None:
        changes["do_sample"] = req.temperature > 0
        if req.temperature > 0:
            changes["temperature"] = req.temperature
    if req.top_p is not None:
        if req.top_p == 0:  # only the most likely token is left
            changes["do_sample"], changes["top_p"] = False, 1.0
        else:
            changes["top_p"] = req.top_p
    if req.top_k is not None:
        changes["top_k"] = req.top_k
    if req.repetition_penalty is not None:
        changes["repetition_penalty"] = req.repetition_penalty
    for name in ("presence_penalty", "frequency_penalty"):
        if getattr(req, name):  # refused earlier unless the engine has additive penalties
            changes[name] = getattr(req, name)
    base = defaults.replace(**changes)
    if req.seed is None:
        return (base,) * req.n
    return tuple(base.replace(seed=(req.seed + i) % 2**63) for i in range(req.n))


def message_dict(message: ChatMessage, index: int, *, allow_media: bool) -> dict[str, Any]:
    """``message`` as the dict :meth:`Conversation.from_openai` reads (``developer`` read as ``system``);
    media parts are refused unless ``allow_media``."""
    raw = message.model_dump(exclude_none=True)
    if raw["role"] == "developer":
        raw["role"] = "system"
    content = raw.get("content")
    if isinstance(content, list):
        for j, part in enumerate(content):
            if part["type"] != "text" and not (allow_media and part["type"] == "image_url"):
                need = "a vision" if part["type"] == "image_url" else "an audio"
                raise bad_request(
                    f"messages[{index}].content[{j}]: this model takes text only ({part['type']} parts need "
                    f"{need} model)",
                    param=f"messages.{index}.content.{j}",
                    code="unsupported_content",
                )
    return raw


def build_conversation(req: ChatCompletionRequest, *, allow_media: bool = False) -> Conversation:
    messages = [message_dict(m, i, allow_media=allow_media) for i, m in enumerate(req.messages)]
    tools = [t.model_dump(exclude_none=True) for t in req.tools] if req.tools else None
    try:
        return Conversation.from_openai(messages, tools)
    except ConversationError as exc:
        raise bad_request(str(exc), param="messages") from None


def _check_tool_options(req: ChatCompletionRequest) -> bool:
    """Whether tool calls are read from the replies."""
    choice = req.tool_choice
    if choice is not None and not isinstance(choice, str):
        raise bad_request(
            'tool_choice naming a function is not supported (no constrained decoding); use "auto" or "none"',
            param="tool_choice",
            code="unsupported_parameter",
        )
    if choice == "required":
        raise bad_request(
            'tool_choice "required" is not supported (no constrained decoding); use "auto" or "none"',
            param="tool_choice",
            code="unsupported_parameter",
        )
    return bool(req.tools) and choice != "none"


def chat_plan(req: ChatCompletionRequest, engine: InferenceEngine, settings: ServeSettings) -> ChatPlan:
    """Validate ``req`` against what the server can do and render its prompt (template errors → 400)."""
    refuse_unsupported(req, engine)
    if req.top_logprobs:
        raise bad_request("top_logprobs is not supported", param="top_logprobs", code="unsupported_parameter")
    read_tools = _check_tool_options(req)
    fmt = req.response_format.type if req.response_format else "text"
    if fmt == "json_schema":
        raise bad_request(
            'response_format "json_schema" is not supported (no constrained decoding); use "json_object"',
            param="response_format",
            code="unsupported_parameter",
        )
    conversation = build_conversation(req, allow_media=getattr(engine, "accepts_images", False))
    if any(m.media for m in conversation.messages):
        from tunesmith.serve.media import MediaError, resolve_images

        try:
            conversation = resolve_images(conversation, settings.media)
        except MediaError as exc:
            raise bad_request(str(exc), param="messages", code="invalid_image") from None
    try:
        prompt = engine.render(conversation)
    except ValueError as exc:  # the template refuses this conversation, or an image
        raise bad_request(str(exc), param="messages") from None
    requested = req.max_completion_tokens if req.max_completion_tokens is not None else req.max_tokens
    param = "max_completion_tokens" if req.max_completion_tokens is not None else "max_tokens"
    budget = max_new_tokens(requested, len(prompt.ids), engine, settings, param)
    return ChatPlan(
        conversation=conversation,
        params=sampling_params(req, settings.defaults, budget),
        prompt_tokens=len(prompt.ids),
        read_tools=read_tools,
        json_output=fmt == "json_object",
        include_usage=bool(req.stream_options and req.stream_options.include_usage),
    )


def has_media(req: ChatCompletionRequest) -> bool:
    """Whether a message carries a non-text part (reading it may mean a fetch: not on the event loop)."""
    return any(isinstance(m.content, list) and any(p.type != "text" for p in m.content) for m in req.messages)


def check_json(content: str) -> None:
    """``response_format`` json_object: the reply must be JSON (422 otherwise: no constrained decoding)."""
    try:
        json.loads(content)
    except ValueError:
        raise APIError(
            422,
            "the model's reply is not valid JSON (response_format json_object is checked, not enforced: "
            "ask for JSON in the prompt or retry)",
            param="response_format",
            code="invalid_json_output",
        ) from None


def reply_parts(gen: Generation, read_tools: bool) -> tuple[str, tuple[Any, ...], str]:
    """(content, tool calls, finish reason) of one generation as the API reports it."""
    if read_tools and gen.tool_calls:
        return gen.reply, gen.tool_calls, "tool_calls"
    reason = "stop" if gen.finish_reason == "tool_calls" else gen.finish_reason
    return gen.text, (), reason


def chat_response(plan: ChatPlan, gens: Sequence[Generation], model: str) -> ChatCompletion:
    choices = []
    for i, gen in enumerate(gens):
        content, calls, reason = reply_parts(gen, plan.read_tools)
        if plan.json_output and not calls:
            check_json(content)
        message = AssistantMessage(
            content=content if content or not calls else None,
            tool_calls=[tool_call_out(c) for c in calls] or None,
        )
        choices.append(ChatChoice(index=i, message=message, finish_reason=reason))  # type: ignore[arg-type]
    completion = sum(g.completion_tokens for g in gens)
    usage = Usage(
        prompt_tokens=plan.prompt_tokens,
        completion_tokens=completion,
        total_tokens=plan.prompt_tokens + completion,
    )
    return ChatCompletion(
        id=completion_id("chatcmpl"), created=now(), model=model, choices=choices, usage=usage
    )


def generate_choices(engine: InferenceEngine, plan: ChatPlan) -> list[Generation]:
    """The replies, one per choice: one batch when no seed is given, else one generation per seed (so a
    seeded choice is the same streamed or not). Blocking: run it in a worker thread."""
    params = plan.params
    if all(p.seed is None for p in params):
        return engine.generate([plan.conversation] * len(params), params[0])
    return [engine.generate([plan.conversation], p)[0] for p in params]
