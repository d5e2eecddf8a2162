"""The vLLM engine (``infer_backend: vllm``; ``pip install 'tunesmith[vllm]'``, a CUDA GPU).

Prompts are rendered by OUR template and tokenized by our tokenizer exactly as the transformers
engine does, then handed to vLLM as token ids (``TokensPrompt(prompt_token_ids=...)``): vLLM never
applies a chat template. Stops are the same :class:`~tunesmith.infer.engine.StopPlan` (one-token
end-of-turn markers as ``stop_token_ids``, longer ones as ``stop`` strings) and the text is cut the
same way, so both engines return the same greedy text.

vLLM's asynchronous engine (``AsyncLLMEngine``: ``vllm.v1.engine.async_llm.AsyncLLM`` in current
versions) runs on an event loop in a background thread of this engine; the blocking methods the
server calls from its worker threads submit requests to it, so concurrent requests are batched by
vLLM (continuous batching). Streams use ``RequestOutputKind.DELTA``; closing a stream cancels its
request (vLLM aborts it). A LoRA adapter (``adapter_name_or_path``) goes with every request as a
``LoRARequest`` (``enable_lora`` and ``max_lora_rank`` from ``vllm_max_lora_rank``).

vLLM is imported lazily, only here; :func:`sampling_kwargs` and :func:`engine_kwargs` are plain
functions (no vLLM needed) so the mapping is tested on any machine.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from tunesmith.infer.engine import Prompt, StopPlan, StreamEnd, TextStream, build_stop_plan
from tunesmith.infer.output import Generation, StopCutter, finish
from tunesmith.infer.sampling import SamplingParams
from tunesmith.templates.base import ChatTemplate, RenderOptions
from tunesmith.templates.messages import Conversation

if TYPE_CHECKING:
    from tunesmith.config import RunConfig

logger = logging.getLogger(__name__)

_END = object()


def sampling_kwargs(params: SamplingParams, plan: StopPlan, *, n: int = 1) -> dict[str, Any]:
    """Keyword arguments for ``vllm.SamplingParams`` equivalent to ``params`` stopped by ``plan``."""
    if params.num_beams > 1:
        raise ValueError("the vLLM engine does not do beam search here; use num_beams=1")
    out: dict[str, Any] = {
        "n": n,
        "max_tokens": params.max_new_tokens,
        "repetition_penalty": params.repetition_penalty,
        "presence_penalty": params.presence_penalty,
        "frequency_penalty": params.frequency_penalty,
        "stop": list(plan.generate_strings),
        "stop_token_ids": list(plan.eos_ids),
        "skip_special_tokens": params.skip_special_tokens,
        "seed": params.seed,
    }
    if params.greedy:
        out.update(temperature=0.0, top_p=1.0, top_k=-1)
    else:
        out.update(temperature=params.temperature, top_p=params.top_p, top_k=params.top_k or -1)
    return out


def engine_kwargs(cfg: RunConfig, source: str) -> dict[str, Any]:
    """Keyword arguments for ``vllm.AsyncEngineArgs`` from the ``model`` and ``infer`` groups."""
    infer, model = cfg.infer, cfg.model
    adapters = _adapters(cfg)
    out: dict[str, Any] = {
        "model": source,
        "tokenizer": source,
        "trust_remote_code": model.trust_remote_code,
        "dtype": model.infer_dtype,
        "max_model_len": infer.vllm_maxlen,
        "gpu_memory_utilization": infer.vllm_gpu_util,
        "enforce_eager": infer.vllm_enforce_eager,
        "disable_log_stats": True,
    }
    if adapters:
        out.update(enable_lora=True, max_lora_rank=infer.vllm_max_lora_rank, max_loras=1)
    out.update(dict(infer.vllm_config))
    return out


def _adapters(cfg: RunConfig) -> tuple[str, ...]:
    raw = cfg.model.adapter_name_or_path
    if not raw:
        return ()
    adapters = (raw,) if isinstance(raw, str) else tuple(raw)
    if len(adapters) > 1:
        raise ValueError(
            "the vLLM engine serves one LoRA adapter per model; merge the others first (tunesmith export)"
        )
    return adapters


class EventLoopThread:
    """An asyncio event loop running in a daemon thread; :meth:`submit` runs a coroutine on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="tunesmith-vllm", daemon=True)
        self.thread.start()

    def submit(self, coro: Coroutine[Any, Any, Any]) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        if not self.thread.is_alive():
            self.loop.close()


class VLLMEngine:
    """The engine protocol over vLLM's asynchronous engine (see the module docstring).

    ``async_engine``: an ``AsyncLLMEngine`` (anything with vLLM's ``generate(prompt, sampling_params,
    request_id, lora_request=...)`` async generator); ``sampling_factory`` / ``prompt_factory`` build
    vLLM's ``SamplingParams`` and ``TokensPrompt`` (injectable, so the engine is testable without vLLM).
    """

    additive_penalties = True
    """presence / frequency penalties are honoured (the server accepts them)."""
    accepts_images = False

    def __init__(
        self,
        async_engine: Any,
        tokenizer: Any,
        template: ChatTemplate,
        *,
        sampling_factory: Callable[..., Any],
        prompt_factory: Callable[[list[int]], Any],
        loop: EventLoopThread,
        tool_format: str | None = None,
        render_options: RenderOptions | None = None,
        lora_request: Any = None,
        context_length: int | None = None,
        configured_eos: Any = None,
        delta_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        self.async_engine = async_engine
        self.tokenizer = tokenizer
        self.template = template
        self.tool_format = tool_format or template.tool_format
        self.render_options = render_options
        self.lora_request = lora_request
        self.context_length = context_length
        """Longest prompt plus reply (vLLM's max_model_len)."""
        self._sampling = sampling_factory
        self._prompt = prompt_factory
        self._loop = loop
        self._configured_eos = configured_eos
        self._ids = itertools.count()
        self._delta = dict(delta_kwargs or {})
        """What makes vLLM stream deltas (``output_kind=RequestOutputKind.DELTA``)."""

    # -- prompts -------------------------------------------------------------------------------
    def render(self, conversation: Conversation) -> Prompt:
        """The prompt text and its ids, exactly as the transformers engine renders them."""
        for message in conversation.messages:
            if message.media:
                raise ValueError(
                    "the vLLM engine serves text only here: use infer_backend=huggingface for images"
                )
        text = self.template.render(
            conversation, add_generation_prompt=True, options=self.render_options
        ).text
        return Prompt(text, tuple(self.tokenizer(text, add_special_tokens=False)["input_ids"]))

    def stop_plan(self, params: SamplingParams) -> StopPlan:
        return build_stop_plan(self.tokenizer, self.template.stop_strings, params, self._configured_eos)

    def _skip_special(self, params: SamplingParams, conversation: Conversation) -> bool:
        return params.skip_special_tokens and not (conversation.tools and self.tool_format)

    def _request(self, params: SamplingParams, *, delta: bool, skip: bool) -> Any:
        kwargs = sampling_kwargs(params, self.stop_plan(params))
        kwargs["skip_special_tokens"] = skip
        if delta:
            kwargs.update(self._delta)
        return self._sampling(**kwargs)

    def _request_id(self) -> str:
        return f"tunesmith-{next(self._ids)}-{uuid.uuid4().hex[:8]}"

    # -- generation ----------------------------------------------------------------------------
    async def _final(self, ids: Sequence[int], sampling: Any) -> Any:
        last = None
        async for out in self.async_engine.generate(
            self._prompt(list(ids)), sampling, self._request_id(), lora_request=self.lora_request
        ):
            last = out
        if last is None:
            raise RuntimeError("vLLM returned no output")
        return last.outputs[0]

    def _run_all(self, prompts: Sequence[Sequence[int]], samplings: Sequence[Any]) -> list[Any]:
        async def gather() -> list[Any]:
            return list(
                await asyncio.gather(*(self._final(p, s) for p, s in zip(prompts, samplings, strict=True)))
            )

        return self._loop.submit(gather()).result()

    def generate_ids(self, prompts: Sequence[Sequence[int]], params: SamplingParams) -> list[list[int]]:
        """The new token ids of each prompt (end-of-sequence id included when it stopped on one)."""
        sampling = self._request(params, delta=False, skip=params.skip_special_tokens)
        return [list(o.token_ids) for o in self._run_all(prompts, [sampling] * len(prompts))]

    def generate(self, conversations: Sequence[Conversation], params: SamplingParams) -> list[Generation]:
        """Replies to ``conversations``, submitted together (vLLM batches them)."""
        if not conversations:
            return []
        prompts = [self.render(c) for c in conversations]
        skips = [self._skip_special(params, c) for c in conversations]
        samplings = [self._request(params, delta=False, skip=skip) for skip in skips]
        outputs = self._run_all([p.ids for p in prompts], samplings)
        plan = self.stop_plan(params)
        gens = []
        for out, prompt, conv, skip in zip(outputs, prompts, conversations, skips, strict=True):
            ids = list(out.token_ids)
            stopped = bool(ids) and ids[-1] in plan.eos_ids
            body = ids[:-1] if stopped else ids
            text = self.tokenizer.decode(body, skip_special_tokens=skip)
            gens.append(
                finish(
                    text,
                    stops=plan.text_stops,
                    stopped=stopped or out.finish_reason == "stop",
                    completion_tokens=len(ids),
                    max_new_tokens=params.max_new_tokens,
                    prompt_tokens=len(prompt.ids),
                    tool_format=self.tool_format if conv.tools else None,
                )
            )
        return gens

    # -- streaming -----------------------------------------------------------------------------
    def stream(self, conversation: Conversation, params: SamplingParams) -> TextStream:
        prompt = self.render(conversation)
        return self.stream_ids(
            prompt.ids, params, skip_special_tokens=self._skip_special(params, conversation)
        )

    def stream_ids(
        self, prompt_ids: Sequence[int], params: SamplingParams, *, skip_special_tokens: bool | None = None
    ) -> TextStream:
        """The reply to a tokenized prompt piece by piece; closing the stream aborts the request."""
        skip = params.skip_special_tokens if skip_special_tokens is None else skip_special_tokens
        sampling = self._request(params, delta=True, skip=skip)
        end = StreamEnd()
        pieces = self._pieces(tuple(prompt_ids), sampling, self.stop_plan(params), params, end)
        return TextStream(pieces, end, len(prompt_ids))

    def _pieces(
        self, ids: tuple[int, ...], sampling: Any, plan: StopPlan, params: SamplingParams, end: StreamEnd
    ) -> Iterator[str]:
        items: queue.Queue[Any] = queue.Queue()
        state = {"tokens": 0, "last": None, "reason": None}

        async def produce() -> None:
            try:
                async for out in self.async_engine.generate(
                    self._prompt(list(ids)), sampling, self._request_id(), lora_request=self.lora_request
                ):
                    o = out.outputs[0]
                    state["tokens"] += len(o.token_ids)
                    if o.token_ids:
                        state["last"] = o.token_ids[-1]
                    state["reason"] = o.finish_reason or state["reason"]
                    if o.text:
                        items.put(o.text)
            except BaseException as exc:  # handed to the consumer (cancellation included)
                items.put(exc)
            finally:
                items.put(_END)

        future = self._loop.submit(produce())
        cutter = StopCutter(plan.text_stops)
        try:
            while True:
                item = items.get()
                if item is _END:
                    break
                if isinstance(item, BaseException):
                    raise item
                piece = cutter.push(item)
                if piece:
                    yield piece
                if cutter.stopped:
                    break
            rest = cutter.flush()
            if rest:
                yield rest
        finally:
            future.cancel()  # a no-op once finished; otherwise vLLM aborts the request
        end.completion_tokens = int(state["tokens"])  # type: ignore[call-overload]
        stopped = cutter.stopped or state["reason"] == "stop" or state["last"] in plan.eos_ids
        end.finish_reason = "stop" if stopped or end.completion_tokens < params.max_new_tokens else "length"

    def close(self) -> None:
        shutdown = getattr(self.async_engine, "shutdown", None)
        if shutdown is not None:
            shutdown()
        self._loop.close()


def build_vllm_engine(cfg: RunConfig) -> VLLMEngine:
    """vLLM for ``cfg``: our tokenizer and template, the adapter as a LoRA request."""
    from vllm import AsyncEngineArgs, AsyncLLMEngine
    from vllm import SamplingParams as VSamplingParams
    from vllm.inputs import TokensPrompt
    from vllm.sampling_params import RequestOutputKind

    from tunesmith.infer.build import choose_run_template, render_options
    from tunesmith.model import load_tokenizer
    from tunesmith.model.hub import resolve_source

    if not cfg.model.model_name_or_path:
        raise ValueError("model_name_or_path is required (a model directory or Hub id)")
    source = resolve_source(cfg.model.model_name_or_path, cfg.model)
    loaded = load_tokenizer(cfg.model)
    tokenizer = getattr(loaded, "tokenizer", loaded)
    template = choose_run_template(cfg, tokenizer)
    lora = None
    adapters = _adapters(cfg)
    if adapters:
        from vllm.lora.request import LoRARequest

        lora = LoRARequest("adapter", 1, resolve_source(adapters[0], cfg.model, key="adapter_name_or_path"))
    loop = EventLoopThread()
    args = AsyncEngineArgs(**engine_kwargs(cfg, source))

    async def create() -> Any:  # vLLM's output handler belongs to the loop it is created on
        return AsyncLLMEngine.from_engine_args(args)

    async_engine = loop.submit(create()).result()
    generation = _generation_eos(source)
    return VLLMEngine(
        async_engine,
        tokenizer,
        template,
        sampling_factory=VSamplingParams,
        prompt_factory=lambda ids: TokensPrompt(prompt_token_ids=ids),
        loop=loop,
        tool_format=cfg.template.tool_format,
        render_options=render_options(cfg),
        lora_request=lora,
        context_length=cfg.infer.vllm_maxlen,
        configured_eos=generation,
        delta_kwargs={"output_kind": RequestOutputKind.DELTA},
    )


def _generation_eos(source: str) -> Any:
    """The eos ids of the checkpoint's generation config (as the transformers engine uses), if any."""
    try:
        from transformers import GenerationConfig

        return GenerationConfig.from_pretrained(source).eos_token_id
    except (OSError, ValueError):
        return None


__all__ = ["EventLoopThread", "VLLMEngine", "build_vllm_engine", "engine_kwargs", "sampling_kwargs"]
