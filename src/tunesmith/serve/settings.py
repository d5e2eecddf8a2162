"""The server's settings: one frozen object the app factory reads (built from a RunConfig by the CLI)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath
from typing import TYPE_CHECKING

from tunesmith.infer.sampling import SamplingParams
from tunesmith.serve.media import MediaPolicy

if TYPE_CHECKING:
    from tunesmith.config import RunConfig


@dataclass(frozen=True)
class ServeSettings:
    model_name: str
    """Name reported by /v1/models and expected in the ``model`` field of requests."""
    api_key: str | None = field(default=None, repr=False)
    """Bearer token clients must send to /v1/* (None: no authentication)."""
    max_concurrency: int = 8
    """Requests admitted at the same time (the engine batches them or schedules them itself)."""
    queue_size: int = 64
    """Requests waiting for a slot before new ones get 503."""
    defaults: SamplingParams = SamplingParams()
    """Sampling used for what a request leaves out (from the ``generate`` config group)."""
    max_request_bytes: int = 32 * 2**20
    """Largest request body (413 above)."""
    max_tokens_limit: int | None = None
    """Largest ``max_tokens`` a request may ask for (None: whatever fits in the model's context)."""
    context_length: int | None = None
    """Longest prompt plus reply in tokens (None: the model config's ``max_position_embeddings``)."""
    retry_after_s: int = 1
    """``Retry-After`` sent with 503 when the queue is full."""
    media: MediaPolicy = MediaPolicy()
    """Where media referenced by requests may come from (see :mod:`tunesmith.serve.media`)."""

    def __post_init__(self) -> None:
        if not self.model_name:
            raise ValueError("model_name must be non-empty")
        if self.max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {self.max_concurrency}")
        if self.queue_size < 0:
            raise ValueError(f"queue_size must be >= 0, got {self.queue_size}")

    @classmethod
    def from_config(cls, cfg: RunConfig) -> ServeSettings:
        serve = cfg.serve
        return cls(
            model_name=served_model_name(serve.served_model_name, cfg.model.model_name_or_path),
            api_key=serve.api_key or None,
            max_concurrency=serve.max_concurrency,
            queue_size=serve.queue_size,
            defaults=SamplingParams.from_config(cfg.generate),
        )


def served_model_name(configured: str | None, model_path: str | None) -> str:
    """``served_model_name`` when set, else the last part of the model path or Hub id."""
    if configured:
        return configured
    if not model_path:
        return "tunesmith"
    return PurePath(model_path.rstrip("/\\")).name or "tunesmith"
