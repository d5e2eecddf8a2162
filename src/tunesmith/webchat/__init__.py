"""The web chat page (``tunesmith webchat``): a Gradio page over the same engine the API server runs.

``build_demo(engine, settings)`` builds the page, ``launch(demo, settings, host=..., port=...)``
serves it. Importing this package imports neither Gradio nor torch; building a page without Gradio
installed raises ImportError naming ``tunesmith[webui]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tunesmith.webchat.handler import sampling_params, stream_reply, to_conversation
from tunesmith.webchat.settings import WebChatSettings, is_vision_model

if TYPE_CHECKING:
    import gradio as gr


def build_demo(engine: Any, settings: WebChatSettings) -> gr.Blocks:
    """The chat page over ``engine`` (see :func:`tunesmith.webchat.app.build_demo`)."""
    from tunesmith.webchat.app import build_demo as build

    return build(engine, settings)


def launch(demo: gr.Blocks, settings: WebChatSettings, **kwargs: Any) -> None:
    """Serve ``demo`` (see :func:`tunesmith.webchat.app.launch`)."""
    from tunesmith.webchat.app import launch as serve

    serve(demo, settings, **kwargs)


def require_gradio() -> Any:
    """The ``gradio`` module, or ImportError saying how to install it."""
    from tunesmith.webchat.app import require_gradio as require

    return require()


__all__ = [
    "WebChatSettings",
    "build_demo",
    "is_vision_model",
    "launch",
    "require_gradio",
    "sampling_params",
    "stream_reply",
    "to_conversation",
]
