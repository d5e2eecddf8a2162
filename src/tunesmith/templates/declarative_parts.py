"""Pieces of :class:`~tunesmith.templates.declarative.DeclarativeTemplate` kept apart from the renderer:
the reasoning spec, placeholder filling, tool-definition text and the assembly of spans.

Each piece has a twin in :mod:`tunesmith.templates.export`; change both together.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from tunesmith.templates.base import Rendered, Span

ToolDefinitions = Literal["json_lines", "json_indent4", "none"]
"""How tool definitions become the ``{tools}`` text: ``json_lines`` (``"\\n" + tojson`` per tool, Qwen),
``json_indent4`` (``tojson(indent=4) + "\\n\\n"`` per tool, Llama 3.x) or ``none``."""


@dataclass(frozen=True)
class ReasoningSpec:
    """How reasoning ("thinking") is written, and which turns keep it (the history rule).

    ``keep``: ``after_last_query`` (Qwen3: only assistant turns after the last real user query keep
    their reasoning; earlier ones are rendered without it — their reasoning is then not trained, since it
    is not in the text), ``all``, ``none``, or ``last_message`` (QwQ: the conversation's final message is
    rendered as written; every earlier assistant turn drops its text up to the last ``</think>``, i.e.
    ``content.split('</think>')[-1].lstrip('\\n')``, and is trained on what remains).
    """

    open: str = "<think>\n"
    close: str = "\n</think>\n\n"
    keep: Literal["after_last_query", "all", "none", "last_message"] = "after_last_query"
    block_on_last: bool = True
    """The final message of the conversation always gets a (possibly empty) reasoning block when kept."""
    split_content: bool = True
    """When a message has no reasoning field, take reasoning from ``<think>…</think>`` in its content."""
    strip: bool = True
    """Strip newlines around reasoning (``reasoning.strip('\\n')``) and before content (``lstrip('\\n')``)."""
    from_field: bool = True
    """Render the message's reasoning field (``reasoning_content``). False where the official template
    ignores that field (QwQ): reasoning then exists only as ``<think>…</think>`` written in the content."""
    off_generation: str = "<think>\n\n</think>\n\n"
    """Appended to the generation prompt when thinking is switched off (``enable_thinking=False``)."""
    tool_response_prefix: str = "<tool_response>"
    tool_response_suffix: str = "</tool_response>"


def fill(fmt: str, **values: str) -> str:
    """Replace ``{name}`` placeholders in one pass (text inserted for one placeholder is never re-read)."""
    if not values:
        return fmt
    pattern = "|".join(re.escape("{" + n + "}") for n in values)
    return re.sub(pattern, lambda m: values[m.group(0)[1:-1]], fmt)


def tools_text(kind: ToolDefinitions, tools: Sequence[Mapping[str, Any]]) -> str:
    if kind == "json_lines":
        return "".join("\n" + json.dumps(dict(t), ensure_ascii=False) for t in tools)
    if kind == "json_indent4":
        return "".join(json.dumps(dict(t), ensure_ascii=False, indent=4) + "\n\n" for t in tools)
    return ""


def today(fmt: str) -> str:
    """``strftime_now(fmt)`` as transformers defines it for chat templates (local time)."""
    return datetime.now().strftime(fmt)


def split_think(content: str) -> tuple[str, str]:
    """(reasoning, content) from ``…<think>reasoning</think>content`` as the Qwen templates split it."""
    head = content.split("</think>")[0]
    tail = content.split("</think>")[-1]
    return head.rstrip("\n").split("<think>")[-1].lstrip("\n"), tail.lstrip("\n")


def assemble(segments: list[tuple[str, int, str, bool, float]], agp: bool) -> Rendered:
    pieces: list[str] = []
    spans: list[Span] = []
    pos = 0
    for text, index, role, trainable, weight in segments:
        pieces.append(text)
        spans.append(Span(index, role, pos, pos + len(text), trainable, weight))
        pos += len(text)
    return Rendered("".join(pieces), tuple(spans), agp)
