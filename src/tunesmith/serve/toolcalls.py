"""Tool calls in responses: OpenAI-shaped call objects, and what a stream may show of a reply that may
contain tool calls.

While streaming a reply to a request with tools, text is shown until the tool format's start marker
(``<tool_call>``, ``[TOOL_CALLS]``, ...) appears; from there on it is held, and once the reply is
complete it is read with the tool format exactly as a non-streamed reply is, and the calls are sent
as ``tool_calls`` deltas. Text that could be the beginning of the marker, and trailing whitespace,
are held back until the next piece decides, so the streamed content equals the non-streamed content.
"""

from __future__ import annotations

import uuid

from tunesmith.infer.output import held_back
from tunesmith.serve.schemas import FunctionCallOut, ToolCallOut
from tunesmith.templates.messages import ToolCall

_PROBE = "tunesmith_probe_fn"


def new_call_id() -> str:
    return "call_" + uuid.uuid4().hex[:24]


def tool_call_out(call: ToolCall) -> ToolCallOut:
    return ToolCallOut(
        id=call.id or new_call_id(),
        function=FunctionCallOut(name=call.name, arguments=call.arguments_json()),
    )


def tool_call_marker(format_name: str) -> str | None:
    """The text a tool call of ``format_name`` starts with (None: the format has no fixed start, as
    GLM-4's ``name\\n{args}``; then a reply with tools is held whole until it is complete).

    Derived from the format itself: the text before the function name of a formatted probe call, cut
    at its first newline, with trailing spaces, quotes and colons dropped (``<tool_call>``,
    ``[TOOL_CALLS]``, ``{"name``, ``Action``)."""
    from tunesmith.templates.tools import get_tool_format

    fmt = get_tool_format(format_name)
    try:
        text = fmt.format_calls([ToolCall(_PROBE, {}, "abcdefghi")])
    except ValueError:
        return None
    at = text.find(_PROBE)
    head = (text[:at] if at >= 0 else "").lstrip()
    head = head.split("\n", 1)[0].rstrip(' ":')
    return head or None


class ContentGate:
    """Decides which part of a growing reply a stream may show as content."""

    def __init__(self, marker: str | None) -> None:
        self.marker = marker
        self.text = ""
        self.shown = 0
        self.holding = marker is None

    def feed(self, piece: str) -> str:
        """Add ``piece``; return the new text that may be shown now."""
        self.text += piece
        if self.holding:
            return ""
        assert self.marker is not None
        at = self.text.find(self.marker)
        if at >= 0:
            self.holding = True
            limit = at
        else:
            limit = len(self.text) - held_back(self.text, (self.marker,))
        end = len(self.text[:limit].rstrip())
        if end <= self.shown:
            return ""
        out = self.text[self.shown : end]
        self.shown = end
        return out

    def rest(self, final_content: str) -> str:
        """What is left to show so that the shown text becomes ``final_content`` (the content of the
        complete reply); empty when what was shown is not a prefix of it (only whitespace can differ)."""
        shown = self.text[: self.shown]
        return final_content[len(shown) :] if final_content.startswith(shown) else ""
