"""What the page does on "Send", without Gradio: the chat history (Gradio's message dicts) and the
system prompt become a typed :class:`Conversation`, the engine streams the reply, and each step yields
the history to show. Importing this module imports neither Gradio nor torch."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from tunesmith.infer.engine import InferenceEngine
from tunesmith.infer.sampling import SamplingParams
from tunesmith.templates.messages import Conversation, Message, Part

History = list[dict[str, Any]]
"""Chat history as Gradio's Chatbot holds it: ``{"role": "user" | "assistant", "content": ...}``."""

IMAGES_UNSUPPORTED = (
    "this model takes text only: images need a vision-language model (see 'Web chat' in docs/serving.md)"
)


def content_parts(content: Any) -> tuple[Part, ...]:
    """The text and image parts of one history entry's content, in any of the shapes Gradio uses: a
    string, a list of ``{"type": "text", "text": ...}`` / file dicts, or a single file dict."""
    if content is None:
        return ()
    if isinstance(content, str):
        return (Part("text", text=content),)
    if isinstance(content, Mapping):
        if content.get("type") == "text":
            return (Part("text", text=str(content.get("text") or "")),)
        file = content.get("file", content)
        path = file.get("path") if isinstance(file, Mapping) else None
        return (Part("image", source=str(path)),) if path else ()
    if isinstance(content, (list, tuple)):
        return tuple(part for item in content for part in content_parts(item))
    # Gradio component objects (e.g. an image shown in the chat) carry their file as .value
    value = getattr(content, "value", None)
    return content_parts(value) if value is not None else ()


def _message(role: str, parts: Sequence[Part]) -> Message:
    if all(p.type == "text" for p in parts):
        return Message(role, "".join(p.text or "" for p in parts))  # type: ignore[arg-type]
    return Message(role, tuple(parts))  # type: ignore[arg-type]


def to_conversation(history: Sequence[Mapping[str, Any]], system: str | None) -> Conversation:
    """``history`` (user and assistant turns; other entries are display-only and skipped) after a
    system message ``system`` (None or blank: none, so the template's default applies)."""
    turns: list[tuple[str, tuple[Part, ...]]] = []
    for entry in history:
        role = entry.get("role")
        if role not in ("user", "assistant") or (entry.get("metadata") or {}).get("title"):
            continue
        parts = content_parts(entry.get("content"))
        # Gradio shows the text and the files of one turn as consecutive entries; the model sees one
        if turns and turns[-1][0] == role == "user":
            parts = (*turns.pop()[1], *parts)
        turns.append((role, parts))
    messages = [_message(role, parts) for role, parts in turns]
    if system and system.strip():
        messages.insert(0, Message("system", system))
    return Conversation(tuple(messages))


def sampling_params(
    defaults: SamplingParams, temperature: float, top_p: float, max_new_tokens: float
) -> SamplingParams:
    """``defaults`` with the page's controls applied; a temperature of 0 decodes greedily."""
    temperature = float(temperature)
    return defaults.replace(
        temperature=temperature,
        do_sample=temperature > 0,
        top_p=float(top_p),
        max_new_tokens=int(max_new_tokens),
    )


def has_media(conversation: Conversation) -> bool:
    return any(
        not isinstance(m.content, str) and any(p.type != "text" for p in m.content)
        for m in conversation.messages
    )


def stream_reply(
    engine: InferenceEngine,
    history: Sequence[Mapping[str, Any]],
    message: str,
    *,
    system: str | None,
    params: SamplingParams,
    image: str | None = None,
) -> Iterator[History]:
    """Add the user's ``message`` (and ``image``, a file path) to ``history`` and stream the reply:
    yields the history to show, first with the user's turn and an empty reply, then once per piece;
    the last one holds the whole reply. A blank message without an image yields ``history`` unchanged.

    Raises ValueError (before yielding) when the template refuses the conversation, or when an image
    is sent to an engine that reads text only. Closing the iterator early stops the generation.
    """
    shown: History = [dict(entry) for entry in history]
    turn: History = []
    if image:
        turn.append({"role": "user", "content": {"path": image}})
    if message.strip():
        turn.append({"role": "user", "content": message})
    if not turn:
        yield shown
        return
    conversation = to_conversation([*shown, *turn], system)
    if has_media(conversation) and not getattr(engine, "accepts_images", False):
        raise ValueError(IMAGES_UNSUPPORTED)
    stream = engine.stream(conversation, params)  # renders now: a refused conversation raises here
    reply = ""
    try:
        yield [*shown, *turn, {"role": "assistant", "content": reply}]
        for piece in stream:
            reply += piece
            yield [*shown, *turn, {"role": "assistant", "content": reply}]
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
