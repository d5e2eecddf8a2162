"""The web chat's settings: one frozen object :func:`~tunesmith.webchat.build_demo` reads (built from a
RunConfig and the engine by the CLI)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tunesmith.infer.sampling import SamplingParams
from tunesmith.serve.settings import served_model_name

if TYPE_CHECKING:
    from tunesmith.config import RunConfig


@dataclass(frozen=True)
class WebChatSettings:
    title: str = "tunesmith"
    """Heading and browser-tab title (the served model name)."""
    defaults: SamplingParams = SamplingParams()
    """Sampling the controls start from (from the ``generate`` config group); a temperature of 0 on
    the page decodes greedily."""
    system: str | None = None
    """Initial text of the system prompt box (None or empty: the template's own default, if any)."""
    show_image_upload: bool = False
    """Show the image upload control (for vision-language models only)."""
    max_new_tokens_limit: int = 4096
    """Upper end of the max_new_tokens slider."""
    queue_size: int = 64
    """Requests waiting for the engine before the page refuses new ones."""
    max_concurrency: int = 8
    """Replies generated at the same time (the engine batches them)."""
    api_key: str | None = field(default=None, repr=False)
    """When set, the page asks for a login whose password is this key (any user name)."""

    def __post_init__(self) -> None:
        if self.max_new_tokens_limit < 1:
            raise ValueError(f"max_new_tokens_limit must be >= 1, got {self.max_new_tokens_limit}")
        if self.max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {self.max_concurrency}")
        if self.queue_size < 0:
            raise ValueError(f"queue_size must be >= 0, got {self.queue_size}")

    @classmethod
    def from_config(cls, cfg: RunConfig, engine: Any) -> WebChatSettings:
        defaults = SamplingParams.from_config(cfg.generate)
        return cls(
            title=served_model_name(cfg.serve.served_model_name, cfg.model.model_name_or_path),
            defaults=defaults,
            system=cfg.template.default_system,
            show_image_upload=is_vision_model(engine),
            max_new_tokens_limit=max(4096, defaults.max_new_tokens),
            queue_size=cfg.serve.queue_size,
            max_concurrency=cfg.serve.max_concurrency,
            api_key=cfg.serve.api_key or None,
        )


def is_vision_model(engine: Any) -> bool:
    """Whether the engine's model config has a vision sub-config (a vision-language model)."""
    config = getattr(getattr(engine, "model", None), "config", None)
    data = config.to_dict() if hasattr(config, "to_dict") else {}
    return isinstance(data.get("vision_config"), Mapping)
