"""What a generation returns, and the engine-independent post-processing of generated text:
trimming at stop strings, holding back a possible stop-string prefix while streaming, reading tool
calls with the template's tool format, and the finish reason. Pure Python (no torch)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from tunesmith.templates.messages import ToolCall

logger = logging.getLogger(__name__)

FinishReason = Literal["stop", "length", "tool_calls"]


@dataclass(frozen=True)
class Generation:
    """One reply."""

    text: str
    """The generated text, cut before the first stop string (tool-call markup included)."""
    tool_calls: tuple[ToolCall, ...] = ()
    """Tool calls read from ``text`` with the template's tool format (only when the conversation has tools)."""
    finish_reason: FinishReason = "stop"
    """``stop``: an end-of-turn marker or stop string; ``length``: max_new_tokens reached;
    ``tool_calls``: the reply calls tools."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    """Generated tokens, the end-of-turn token included (as OpenAI and LLaMA-Factory count)."""
    content: str | None = None
    """``text`` without the tool-call markup when tool calls were read (None: same as ``text``)."""
    tool_errors: tuple[str, ...] = ()
    """Tool calls the format found but could not read (they stay in ``content``)."""

    @property
    def reply(self) -> str:
        """The text to show or store as the assistant's content."""
        return self.text if self.content is None else self.content


def find_stop(text: str, stops: Iterable[str], start: int = 0) -> int:
    """Index of the earliest occurrence of any stop string at or after ``start`` (-1: none)."""
    best = -1
    for stop in stops:
        if not stop:
            continue
        at = text.find(stop, start)
        if at >= 0 and (best < 0 or at < best):
            best = at
    return best


def trim_at_stop(text: str, stops: Iterable[str]) -> tuple[str, bool]:
    """``text`` cut before the earliest stop string, and whether one was found."""
    at = find_stop(text, stops)
    return (text, False) if at < 0 else (text[:at], True)


def held_back(text: str, stops: Iterable[str]) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of a stop string: text a
    stream must not show yet, because the next tokens may complete the stop string."""
    longest = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:n]):
                longest = n
                break
    return longest


class StopCutter:
    """Cuts a streamed reply at its first stop string: :meth:`push` returns the text that can be
    shown now, holding back a tail that may begin a stop string; after one, :attr:`stopped` is set
    and nothing more is shown."""

    def __init__(self, stops: Iterable[str]) -> None:
        self.stops = tuple(stops)
        self.stopped = False
        self._buffer = ""

    def push(self, text: str) -> str:
        if self.stopped:
            return ""
        self._buffer += text
        at = find_stop(self._buffer, self.stops)
        if at >= 0:
            out, self._buffer, self.stopped = self._buffer[:at], "", True
            return out
        cut = len(self._buffer) - held_back(self._buffer, self.stops)
        out, self._buffer = self._buffer[:cut], self._buffer[cut:]
        return out

    def flush(self) -> str:
        """The held-back tail, once the reply has ended without completing a stop string."""
        out, self._buffer = self._buffer, ""
        return out


def finish(
    text: str,
    *,
    stops: Iterable[str],
    stopped: bool,
    completion_tokens: int,
    max_new_tokens: int,
    prompt_tokens: int = 0,
    tool_format: str | None = None,
) -> Generation:
    """A :class:`Generation` from decoded text: cut at the first stop string, the finish reason, and
    the tool calls (read with ``tool_format`` when given; pass None for conversations without tools).

    ``stopped`` says whether the engine ended on a stop token; without it and without a stop
    string in the text, a reply of ``max_new_tokens`` tokens finished by ``length``.
    """
    text, found = trim_at_stop(text, stops)
    reason: FinishReason = "stop" if stopped or found or completion_tokens < max_new_tokens else "length"
    if tool_format is None or reason != "stop":
        return Generation(text, (), reason, prompt_tokens, completion_tokens)
    from tunesmith.templates.tools import get_tool_format

    parsed = get_tool_format(tool_format).parse_calls(text)
    if parsed.errors:
        logger.warning("could not read %d tool call(s): %s", len(parsed.errors), "; ".join(parsed.errors))
    if not parsed.calls:
        return Generation(text, (), reason, prompt_tokens, completion_tokens, tool_errors=parsed.errors)
    return Generation(
        text,
        parsed.calls,
        "tool_calls",
        prompt_tokens,
        completion_tokens,
        content=parsed.content,
        tool_errors=parsed.errors,
    )
