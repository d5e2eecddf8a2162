"""A multi-turn chat over an engine: the history is a typed :class:`Conversation`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from tunesmith.infer.engine import InferenceEngine
from tunesmith.infer.output import Generation
from tunesmith.infer.sampling import SamplingParams
from tunesmith.templates.messages import Conversation, Message


def with_default_system(conversation: Conversation, system: str | None) -> Conversation:
    """``conversation`` with a leading system message ``system`` when it has none (None: unchanged)."""
    if system is None or (conversation.messages and conversation.messages[0].role == "system"):
        return conversation
    return Conversation((Message("system", system), *conversation.messages), conversation.tools)


class ChatSession:
    """One user's chat: send a message, get (or stream) the reply, which joins the history."""

    def __init__(
        self,
        engine: InferenceEngine,
        params: SamplingParams,
        *,
        system: str | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        self.engine = engine
        self.params = params
        self.system = system
        self.tools = tuple(tools) if tools else None
        self._messages: list[Message] = []

    @property
    def conversation(self) -> Conversation:
        """The history so far (system message first, when there is one)."""
        conv = Conversation(tuple(self._messages), self.tools)
        return with_default_system(conv, self.system)

    def clear(self) -> None:
        """Forget the history (the system message and tools stay)."""
        self._messages.clear()

    def send(self, text: str) -> Generation:
        """Add a user message and generate the reply."""
        self._messages.append(Message("user", text))
        try:
            reply = self.engine.generate([self.conversation], self.params)[0]
        except BaseException:
            self._messages.pop()
            raise
        self._messages.append(Message("assistant", reply.reply, tool_calls=reply.tool_calls))
        return reply

    def stream(self, text: str) -> Iterator[str]:
        """Add a user message and stream the reply; the reply joins the history once the stream ends
        (a stream closed early keeps what was shown)."""
        self._messages.append(Message("user", text))
        pieces: list[str] = []
        try:
            for piece in self.engine.stream(self.conversation, self.params):
                pieces.append(piece)
                yield piece
        except Exception:
            self._messages.pop()
            raise
        finally:  # also on GeneratorExit: the reader stopped early and keeps what it was shown
            if self._messages and self._messages[-1].role == "user":
                self._messages.append(Message("assistant", "".join(pieces)))
