"""The Gradio page: ``build_demo(engine, settings)`` and ``launch(demo, settings, host=..., port=...)``.

Everything the page holds (engine, settings) is captured by the event handlers of the Blocks the
factory returns; nothing is module-level state, so several pages can run in one process. Gradio is
imported when a page is built, never when this package is imported.
"""

from __future__ import annotations

import inspect
import logging
import secrets
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tunesmith.infer.engine import InferenceEngine
from tunesmith.webchat.handler import History, sampling_params, stream_reply
from tunesmith.webchat.settings import WebChatSettings

if TYPE_CHECKING:
    import gradio as gr

logger = logging.getLogger(__name__)

GRADIO_MISSING = "the web chat needs Gradio: pip install 'tunesmith[webui]'"

# Element ids the browser test (and anyone scripting the page) can rely on.
CHATBOT_ID = "tunesmith-chatbot"
MESSAGE_ID = "tunesmith-message"
SEND_ID = "tunesmith-send"
STOP_ID = "tunesmith-stop"
CLEAR_ID = "tunesmith-clear"
SYSTEM_ID = "tunesmith-system"
IMAGE_ID = "tunesmith-image"


def require_gradio() -> Any:
    """The ``gradio`` module, or ImportError saying how to install it."""
    try:
        import gradio
    except ImportError as exc:
        raise ImportError(GRADIO_MISSING) from exc
    return gradio


def _chatbot_kwargs(gr: Any) -> dict[str, Any]:
    # Gradio 4/5 default to (user, bot) tuples and need type="messages"; Gradio 6 only has messages.
    if "type" in inspect.signature(gr.Chatbot.__init__).parameters:
        return {"type": "messages"}
    return {}


def build_demo(engine: InferenceEngine, settings: WebChatSettings) -> gr.Blocks:
    """A chat page over ``engine``: system prompt box, temperature / top_p / max_new_tokens controls,
    streamed replies, Stop and Clear; an image upload control only when ``settings.show_image_upload``."""
    gr = require_gradio()
    defaults = settings.defaults
    with gr.Blocks(title=f"{settings.title} · tunesmith", analytics_enabled=False) as demo:
        gr.Markdown(f"## {settings.title}")
        with gr.Row():
            with gr.Column(scale=4):
                chatbot = gr.Chatbot(
                    value=[], label="Chat", height=480, elem_id=CHATBOT_ID, **_chatbot_kwargs(gr)
                )
                image = gr.Image(
                    type="filepath",
                    label="Image",
                    sources=["upload"],
                    visible=settings.show_image_upload,
                    elem_id=IMAGE_ID,
                )
                with gr.Row():
                    message = gr.Textbox(
                        placeholder="Type a message and press Enter",
                        show_label=False,
                        lines=1,
                        scale=5,
                        elem_id=MESSAGE_ID,
                    )
                    send = gr.Button("Send", variant="primary", scale=1, elem_id=SEND_ID)
                with gr.Row():
                    stop = gr.Button("Stop", elem_id=STOP_ID)
                    clear = gr.Button("Clear", elem_id=CLEAR_ID)
            with gr.Column(scale=2):
                system = gr.Textbox(
                    label="System prompt", value=settings.system or "", lines=4, elem_id=SYSTEM_ID
                )
                temperature = gr.Slider(
                    0.0,
                    2.0,
                    value=defaults.temperature if defaults.do_sample else 0.0,
                    step=0.01,
                    label="Temperature (0: greedy)",
                )
                top_p = gr.Slider(0.01, 1.0, value=defaults.top_p, step=0.01, label="top_p")
                max_new_tokens = gr.Slider(
                    1,
                    settings.max_new_tokens_limit,
                    value=defaults.max_new_tokens,
                    step=1,
                    label="max_new_tokens",
                )

        def respond(
            text: str,
            history: History,
            system_prompt: str,
            temp: float,
            nucleus: float,
            new_tokens: float,
            image_path: str | None,
        ) -> Iterator[tuple[str, History, None]]:
            try:
                params = sampling_params(defaults, temp, nucleus, new_tokens)
                replies = stream_reply(
                    engine,
                    history or [],
                    text or "",
                    system=system_prompt,
                    params=params,
                    image=image_path,
                )
                for shown in replies:
                    yield "", shown, None
            except ValueError as exc:  # bad settings, a conversation the template refuses, images
                raise gr.Error(str(exc)) from None

        inputs = [message, chatbot, system, temperature, top_p, max_new_tokens, image]
        outputs = [message, chatbot, image]
        # One pool of slots for both triggers; the engine batches the replies that run together.
        events = [
            trigger(
                respond,
                inputs,
                outputs,
                concurrency_id="generate",
                concurrency_limit=settings.max_concurrency,
            )
            for trigger in (send.click, message.submit)
        ]
        stop.click(None, None, None, cancels=events)
        clear.click(lambda: ([], ""), None, [chatbot, message], cancels=events)
    return demo


def launch(
    demo: gr.Blocks,
    settings: WebChatSettings,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    block: bool = True,
) -> None:
    """Serve ``demo`` on ``host:port`` (never shared through Gradio's tunnel). With ``block`` the call
    returns when the server stops (Ctrl-C); without it the server runs in the background until
    ``demo.close()``."""
    auth = None
    if settings.api_key:
        key = settings.api_key

        def auth(_user: str, password: str) -> bool:
            return secrets.compare_digest(password.encode(), key.encode())

    # Gradio's queue needs room for at least the request being served. Gradio's own blocking wait
    # is not used: a Ctrl-C that comes while launch() still checks the page would escape it.
    try:
        demo.queue(max_size=max(settings.queue_size, 1)).launch(
            server_name=host,
            server_port=port,
            share=False,
            inbrowser=False,
            auth=auth,
            prevent_thread_lock=True,
            quiet=not block,
        )
        if block:
            threading.Event().wait()
    except KeyboardInterrupt:
        if not block:
            raise
    finally:
        if block:
            demo.close()
