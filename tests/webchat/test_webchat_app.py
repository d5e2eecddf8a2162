"""The Gradio page without a browser: its controls, its handler's errors, and the missing-Gradio error."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from tunesmith.infer import SamplingParams
from tunesmith.webchat import WebChatSettings, build_demo
from tunesmith.webchat.app import IMAGE_ID, MESSAGE_ID, SEND_ID, SYSTEM_ID


def test_missing_gradio_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "gradio", None)  # makes `import gradio` raise ImportError
    with pytest.raises(ImportError, match=r"pip install 'tunesmith\[webui\]'"):
        build_demo(object(), WebChatSettings())


def _components(demo: Any) -> dict[str, Any]:
    return {b.elem_id: b for b in demo.blocks.values() if getattr(b, "elem_id", None)}


def _respond(demo: Any) -> Any:
    fns = demo.fns.values() if isinstance(demo.fns, dict) else demo.fns
    return next(f.fn for f in fns if getattr(f.fn, "__name__", "") == "respond")


@pytest.mark.parametrize("vision", [False, True])
def test_image_upload_only_for_vision_models(vision: bool) -> None:
    pytest.importorskip("gradio")
    demo = build_demo(object(), WebChatSettings(show_image_upload=vision, system="Be kind."))
    parts = _components(demo)
    assert parts[IMAGE_ID].visible is vision
    assert parts[SYSTEM_ID].value == "Be kind."
    assert {MESSAGE_ID, SEND_ID} <= set(parts)


def test_handler_streams_and_reports_errors_on_the_page(engine) -> None:
    gr = pytest.importorskip("gradio")
    settings = WebChatSettings(defaults=SamplingParams(max_new_tokens=8))
    respond = _respond(build_demo(engine, settings))

    steps = list(respond("Hello", [], "", 0, 1.0, 8, None))
    box, history, image = steps[-1]
    assert box == "" and image is None
    expected = engine.generate([engine_conversation("Hello")], SamplingParams(max_new_tokens=8))[0].text
    assert history[-1] == {"role": "assistant", "content": expected}

    with pytest.raises(gr.Error, match="text only"):
        list(respond("What is this?", [], "", 0, 1.0, 8, "/tmp/cat.png"))
    with pytest.raises(gr.Error, match="top_p"):
        list(respond("Hello", [], "", 0.5, 0, 8, None))


def engine_conversation(text: str) -> Any:
    from tunesmith.templates.messages import Conversation, Message

    return Conversation((Message("user", text),))
