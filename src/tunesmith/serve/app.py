"""The OpenAI-compatible API as a FastAPI app: ``create_app(engine, settings)``.

Endpoints: ``GET /health`` (no auth), ``GET /v1/models``, ``GET /v1/models/{model}``,
``POST /v1/chat/completions`` (JSON or SSE), ``POST /v1/completions`` (JSON or SSE), ``POST /v1/score``
(with a reward model; 501 without). A server may serve a reward model alone (``engine`` None): the
generating endpoints then answer 400. Everything the app holds (engine, settings, admission queue) lives on the app made
by the factory; nothing is module-level state.

This module imports FastAPI (import it only to build an app); its route functions are annotated with
real classes, not strings, because FastAPI reads the annotations to parse requests.
"""

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tunesmith import __version__
from tunesmith.infer.engine import InferenceEngine
from tunesmith.serve import schemas as s
from tunesmith.serve.errors import APIError, install_error_handlers
from tunesmith.serve.queue import AdmissionQueue, QueueFull, Slot
from tunesmith.serve.score import RewardScorer
from tunesmith.serve.settings import ServeSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerState:
    engine: InferenceEngine | None
    """The generating engine (None: a reward model is served alone)."""
    scorer: RewardScorer | None
    """The reward model ``/v1/score`` uses (None: 501)."""
    settings: ServeSettings
    queue: AdmissionQueue
    created: int
    tool_marker: str | None
    """Where a tool call starts in the engine's tool format (streaming holds text from there)."""

    async def admit(self) -> Slot:
        try:
            return await self.queue.acquire()
        except QueueFull as exc:
            raise APIError(
                503,
                f"{exc}; retry later",
                code="server_busy",
                headers={"Retry-After": str(self.settings.retry_after_s)},
            ) from None

    async def run(self, slot: Slot, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` in a worker thread while holding ``slot``; ValueError → 400."""
        import anyio

        try:
            return await anyio.to_thread.run_sync(fn, *args)
        except APIError:
            raise
        except ValueError as exc:
            raise APIError(400, str(exc)) from None
        finally:
            slot.release()

    def generator(self) -> InferenceEngine:
        if self.engine is None:
            raise APIError(
                400,
                "this server serves a reward model only: it scores with POST /v1/score and does not generate",
                code="reward_model_only",
            )
        return self.engine


def create_app(
    engine: InferenceEngine | None, settings: ServeSettings, *, scorer: RewardScorer | None = None
) -> FastAPI:
    """A FastAPI app serving ``engine`` (and ``scorer`` on ``/v1/score``) as ``settings`` say."""
    import time

    from tunesmith.serve.limits import BodySizeLimit
    from tunesmith.serve.toolcalls import tool_call_marker

    tool_format = getattr(engine, "tool_format", None)
    if engine is None and scorer is None:
        raise ValueError("create_app needs an engine, a reward-model scorer, or both")
    state = ServerState(
        engine=engine,
        scorer=scorer,
        settings=settings,
        queue=AdmissionQueue(settings.max_concurrency, settings.queue_size),
        created=int(time.time()),
        tool_marker=tool_call_marker(tool_format) if tool_format else None,
    )
    app = FastAPI(
        title="tunesmith",
        version=__version__,
        description="OpenAI-compatible API serving a model with the template it was trained with.",
    )
    app.state.tunesmith = state
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)

    bearer = HTTPBearer(auto_error=False, description="The server's api_key, when one is set.")

    async def authorize(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:  # noqa: B008
        key = settings.api_key
        if key is None:
            return
        given = credentials.credentials if credentials is not None else ""
        if not secrets.compare_digest(given.encode("utf-8"), key.encode("utf-8")):
            raise APIError(
                401,
                "invalid API key: send `Authorization: Bearer <api_key>`"
                if given
                else "missing API key: send `Authorization: Bearer <api_key>`",
                code="invalid_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )

    errors = {
        code: {"model": s.ErrorResponse, "description": text}
        for code, text in (
            (400, "invalid request"),
            (401, "missing or wrong API key"),
            (404, "unknown model"),
            (413, "request body too large"),
            (503, "server busy (see Retry-After)"),
        )
    }
    auth = [Depends(authorize)]

    @app.get("/health", response_model=s.Health, tags=["server"])
    async def health() -> s.Health:
        stats = state.queue.stats
        return s.Health(model=settings.model_name, running=stats.running, waiting=stats.waiting)

    @app.get("/v1/models", response_model=s.ModelList, dependencies=auth, responses=errors, tags=["models"])
    async def list_models() -> s.ModelList:
        return s.ModelList(data=[s.ModelCard(id=settings.model_name, created=state.created)])

    @app.get(
        "/v1/models/{model:path}",
        response_model=s.ModelCard,
        dependencies=auth,
        responses=errors,
        tags=["models"],
    )
    async def get_model(model: str) -> s.ModelCard:
        from tunesmith.serve.chat import check_model

        check_model(model, settings)
        return s.ModelCard(id=settings.model_name, created=state.created)

    stream_doc = {
        200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE when stream is true"}
    }

    @app.post(
        "/v1/chat/completions",
        response_model=s.ChatCompletion,
        dependencies=auth,
        responses={
            **errors,
            **stream_doc,
            422: {"model": s.ErrorResponse, "description": "reply is not JSON"},
        },
        tags=["chat"],
    )
    async def chat_completions(body: s.ChatCompletionRequest) -> Any:
        from tunesmith.serve.chat import chat_plan, chat_response, check_model, generate_choices, has_media

        check_model(body.model, settings)
        engine = state.generator()
        if has_media(body):  # images are read (maybe fetched) and processed: off the event loop
            import anyio

            plan = await anyio.to_thread.run_sync(chat_plan, body, engine, settings)
        else:
            plan = chat_plan(body, engine, settings)
        slot = await state.admit()
        if body.stream:
            from tunesmith.serve.streaming import chat_events

            events = chat_events(engine, plan, settings.model_name, state.tool_marker)
            return slot_stream(events, slot)
        gens = await state.run(slot, generate_choices, engine, plan)
        return chat_response(plan, gens, settings.model_name)

    @app.post(
        "/v1/completions",
        response_model=s.Completion,
        dependencies=auth,
        responses={**errors, **stream_doc},
        tags=["completions"],
    )
    async def completions(body: s.CompletionRequest) -> Any:
        from tunesmith.serve.chat import check_model
        from tunesmith.serve.completions import complete, completion_events, completion_plan

        check_model(body.model, settings)
        engine = state.generator()
        plan = completion_plan(engine, body, settings)
        slot = await state.admit()
        if body.stream:
            return slot_stream(completion_events(engine, plan, settings.model_name), slot)
        return await state.run(slot, complete, engine, plan, settings.model_name)

    if scorer is None:  # a route that reads no body: 501 whatever was sent

        @app.post(
            "/v1/score",
            dependencies=auth,
            responses={501: {"model": s.ErrorResponse, "description": "no reward model is served"}},
            tags=["score"],
        )
        async def no_score() -> Any:
            from tunesmith.serve.score import no_reward_model

            raise no_reward_model()

        return app
    rm: RewardScorer = scorer

    @app.post(
        "/v1/score",
        response_model=s.ScoreResponse,
        dependencies=auth,
        responses=errors,
        tags=["score"],
    )
    async def score(body: s.ScoreRequest) -> s.ScoreResponse:
        from tunesmith.serve.chat import completion_id, now
        from tunesmith.serve.score import request_texts

        if body.model not in (settings.model_name, rm.name):
            from tunesmith.serve.chat import check_model

            check_model(body.model, settings)
        texts = request_texts(body, rm)
        slot = await state.admit()
        scored = await state.run(slot, rm.score, texts)
        tokens = sum(item.tokens for item in scored)
        return s.ScoreResponse(
            id=completion_id("score"),
            created=now(),
            model=body.model,
            data=[s.ScoreData(index=i, score=item.score) for i, item in enumerate(scored)],
            usage=s.ScoreUsage(prompt_tokens=tokens, total_tokens=tokens),
        )

    return app


def slot_stream(events: Any, slot: Slot) -> Any:
    """An SSE response that releases ``slot`` however the stream ends (also when the client leaves
    before the first event)."""
    from starlette.responses import StreamingResponse

    class SlotStreamingResponse(StreamingResponse):
        async def __call__(self, scope: Any, receive: Callable[[], Awaitable[Any]], send: Any) -> None:
            try:
                await super().__call__(scope, receive, send)
            finally:
                await events.aclose()
                slot.release()

    return SlotStreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


__all__ = ["ServerState", "create_app"]
