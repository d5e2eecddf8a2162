"""The page's streaming handler without Gradio: history + system prompt → the engine's reply."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tunesmith.infer import SamplingParams
from tunesmith.templates.messages import Conversation, Message, Part
from tunesmith.webchat import WebChatSettings, is_vision_model, sampling_params, stream_reply, to_conversation
from tunesmith.webchat.handler import IMAGES_UNSUPPORTED

GREEDY = SamplingParams(max_new_tokens=24)
HISTORY = [
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Paris."},
]


def test_stream_equals_greedy_generation(engine) -> None:
    system = "Be helpful."
    shown = list(stream_reply(engine, HISTORY, "And of Italy?", system=system, params=GREEDY))

    expected = engine.generate(
        [
            Conversation(
                (
                    Message("system", system),
                    Message("user", "What is the capital of France?"),
                    Message("assistant", "Paris."),
                    Message("user", "And of Italy?"),
                )
            )
        ],
        GREEDY,
    )[0].text
    assert expected, "the tiny model should say something for this test to mean anything"
    final = shown[-1]
    assert final[:2] == HISTORY
    assert final[2] == {"role": "user", "content": "And of Italy?"}
    assert final[3] == {"role": "assistant", "content": expected}
    # the user's turn shows at once with an empty reply; then the reply only grows
    assert shown[0][-1] == {"role": "assistant", "content": ""}
    replies = [h[-1]["content"] for h in shown]
    assert all(b.startswith(a) for a, b in zip(replies, replies[1:], strict=False))
    assert len(shown) > 2, "the reply should arrive in more than one piece"


def test_next_turn_sees_the_streamed_reply(engine) -> None:
    first = list(stream_reply(engine, [], "Hi", system=None, params=GREEDY))[-1]
    second = list(stream_reply(engine, first, "More", system=None, params=GREEDY))[-1]
    conv = to_conversation(second[:-1], None)
    assert [m.role for m in conv.messages] == ["user", "assistant", "user"]
    assert conv.messages[1].content == first[-1]["content"]
    assert second[-1]["content"] == engine.generate([conv], GREEDY)[0].text


def test_gradio_history_shapes_become_one_conversation() -> None:
    history = [
        {"role": "user", "metadata": None, "content": [{"type": "text", "text": "hi"}], "options": None},
        {"role": "assistant", "metadata": {"title": "thinking"}, "content": "shown only"},
        {"role": "assistant", "content": [{"text": "hello", "type": "text"}]},
        {"role": "user", "content": {"path": "/tmp/cat.png"}},
        {"role": "user", "content": "what is this?"},
    ]
    conv = to_conversation(history, "  ")  # a blank system box means no system message
    assert conv.messages == (
        Message("user", "hi"),
        Message("assistant", "hello"),
        Message("user", (Part("image", source="/tmp/cat.png"), Part("text", text="what is this?"))),
    )
    assert to_conversation([], "Be kind.").messages == (Message("system", "Be kind."),)


def test_controls_become_sampling_params() -> None:
    defaults = SamplingParams(max_new_tokens=512, do_sample=True, temperature=0.95, top_k=50)
    greedy = sampling_params(defaults, 0, 0.7, 64.0)
    assert greedy.greedy and greedy.max_new_tokens == 64 and greedy.top_p == 0.7
    sampled = sampling_params(defaults, 0.5, 0.9, 8)
    assert sampled.do_sample and sampled.temperature == 0.5 and sampled.top_k == 50
    with pytest.raises(ValueError, match="top_p"):
        sampling_params(defaults, 0.5, 0, 8)


class RecordingEngine:
    """Streams fixed pieces and records what it was asked and whether the stream was closed."""

    def __init__(self, pieces: list[str]) -> None:
        self.pieces = pieces
        self.conversations: list[Conversation] = []
        self.closed = False

    def stream(self, conversation: Conversation, params: SamplingParams) -> Iterator[str]:
        self.conversations.append(conversation)

        def pieces() -> Iterator[str]:
            try:
                yield from self.pieces
            finally:
                self.closed = True

        return pieces()


def test_blank_message_generates_nothing() -> None:
    fake = RecordingEngine(["x"])
    assert list(stream_reply(fake, HISTORY, "   ", system=None, params=GREEDY)) == [HISTORY]
    assert fake.conversations == []


def test_closing_early_stops_the_stream() -> None:
    fake = RecordingEngine(["a", "b", "c"])
    replies = stream_reply(fake, [], "go", system="sys", params=GREEDY)
    next(replies), next(replies)
    replies.close()
    assert fake.closed
    assert fake.conversations[0].messages[0] == Message("system", "sys")


def test_images_to_a_text_engine_are_refused_before_generating() -> None:
    fake = RecordingEngine(["x"])
    with pytest.raises(ValueError, match="text only") as info:
        next(stream_reply(fake, [], "what is this?", system=None, params=GREEDY, image="/tmp/cat.png"))
    assert str(info.value) == IMAGES_UNSUPPORTED
    assert fake.conversations == []


def test_a_refused_conversation_raises_before_anything_is_shown() -> None:
    class Refusing(RecordingEngine):
        def stream(self, conversation: Conversation, params: SamplingParams) -> Iterator[str]:
            raise ValueError("template refuses this conversation")

    with pytest.raises(ValueError, match="refuses"):
        next(stream_reply(Refusing([]), HISTORY, "x", system=None, params=GREEDY))


def test_settings_from_config(tiny_dir, engine) -> None:
    from tunesmith.config import load_config

    cfg = load_config(
        [
            f"model_name_or_path={tiny_dir}",
            "do_sample=false",
            "max_new_tokens=77",
            "default_system=Be brief.",
            "api_key=secret",
        ],
        verb="webchat",
    )
    settings = WebChatSettings.from_config(cfg, engine)
    assert settings.title == "tiny-qwen3"
    assert settings.defaults.greedy and settings.defaults.max_new_tokens == 77
    assert settings.system == "Be brief."
    assert settings.api_key == "secret" and "secret" not in repr(settings)
    assert settings.show_image_upload is False


def test_vision_models_are_detected_from_their_config() -> None:
    class Config:
        def __init__(self, **data: Any) -> None:
            self.data = data

        def to_dict(self) -> dict[str, Any]:
            return self.data

    class Model:
        def __init__(self, config: Config) -> None:
            self.config = config

    class Engine:
        def __init__(self, model: Model) -> None:
            self.model = model

    assert is_vision_model(Engine(Model(Config(vision_config={"hidden_size": 8}))))
    assert not is_vision_model(Engine(Model(Config(hidden_size=8))))
    assert not is_vision_model(object())


def test_an_uploaded_image_reaches_a_vision_model(tmp_path) -> None:
    from PIL import Image

    from tunesmith.config import load_config
    from tunesmith.serve.backend import build_serving_engine
    from tunesmith.testing.vlm import build_tiny_vlm

    path = build_tiny_vlm("qwen2_vl", tmp_path / "tiny-qwen2-vl", seed=3)
    engine = build_serving_engine(load_config([f"model_name_or_path={path}"], verb="webchat"))
    upload = tmp_path / "upload.png"
    Image.new("RGB", (56, 56), (0, 128, 255)).save(upload)
    steps = list(stream_reply(engine, [], "what is this?", system=None, params=GREEDY, image=str(upload)))
    shown = steps[-1]
    conversation = Conversation(
        (Message("user", (Part("image", source=str(upload)), Part("text", text="what is this?"))),)
    )
    (expected,) = engine.generate([conversation], GREEDY)
    assert shown[-1] == {"role": "assistant", "content": expected.text}
    assert engine.render(conversation).inputs is not None  # the pixels went in
