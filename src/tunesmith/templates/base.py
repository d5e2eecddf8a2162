"""The template protocol shared by declarative templates and the model's own Jinja template."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from tunesmith.templates.messages import Conversation


class TemplateError(ValueError):
    """The template cannot render this input (as the official template would refuse it), or labels
    cannot be derived; the message says which message and why."""


@dataclass(frozen=True)
class Span:
    """Characters [start, end) of the rendered text that belong to message ``index``.

    ``trainable`` spans are the assistant outputs (content, tool calls, reasoning and the end-of-turn
    marker); ``weight`` is the message's loss weight.
    """

    index: int
    role: str
    start: int
    end: int
    trainable: bool = False
    weight: float = 1.0


@dataclass(frozen=True)
class Rendered:
    text: str
    spans: tuple[Span, ...]
    add_generation_prompt: bool = False

    def trainable_spans(self) -> tuple[Span, ...]:
        return tuple(s for s in self.spans if s.trainable)


@dataclass(frozen=True)
class RenderOptions:
    """Switches that change what a template renders (the same for training and serving)."""

    enable_thinking: bool | None = None
    """Reasoning models: True/False turns thinking on/off (passed to Jinja templates as
    ``enable_thinking``); None keeps the template's default."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Further keyword arguments for Jinja templates (e.g. ``date_string``)."""

    def jinja_kwargs(self) -> dict[str, Any]:
        out = dict(self.extra)
        if self.enable_thinking is not None:
            out["enable_thinking"] = self.enable_thinking
        return out


@runtime_checkable
class ChatTemplate(Protocol):
    """What every template offers: render with spans, stop strings, tool format, a Jinja form."""

    name: str

    def render(
        self,
        conversation: Conversation,
        *,
        add_generation_prompt: bool = False,
        options: RenderOptions | None = None,
    ) -> Rendered: ...

    @property
    def stop_strings(self) -> tuple[str, ...]: ...

    @property
    def tool_format(self) -> str | None: ...

    def to_jinja(self) -> str: ...
