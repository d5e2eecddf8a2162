"""Typed conversations: what every template renders and every data converter produces.

Messages are frozen dataclasses. :meth:`Conversation.from_openai` accepts OpenAI-style message dicts
(role, content as a string or parts, tool_calls with function name/arguments, tool_call_id, name,
reasoning_content); :meth:`Conversation.to_template_messages` gives the plain dicts Hugging Face chat
templates read (tool-call arguments as objects, reasoning under ``reasoning_content``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
ROLES: tuple[str, ...] = ("system", "user", "assistant", "tool")
PartType = Literal["text", "image", "video", "audio"]
MEDIA_TYPES: tuple[str, ...] = ("image", "video", "audio")


class ConversationError(ValueError):
    """A conversation is malformed; the message names the message index and the field."""


@dataclass(frozen=True)
class Part:
    """One piece of message content: text, or a media item (URL, path or opaque reference)."""

    type: PartType
    text: str | None = None
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.type == "text":
            return {"type": "text", "text": self.text or ""}
        out: dict[str, Any] = {"type": self.type}
        if self.source is not None:
            out[self.type] = self.source
        return out


@dataclass(frozen=True)
class ToolCall:
    """An assistant's call of a function; ``arguments`` is a JSON object (kept as a dict)."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None

    def arguments_json(self) -> str:
        return json.dumps(dict(self.arguments), ensure_ascii=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "function",
            "function": {"name": self.name, "arguments": dict(self.arguments)},
        }
        if self.id is not None:
            out["id"] = self.id
        return out


@dataclass(frozen=True)
class Message:
    role: Role
    content: str | tuple[Part, ...] = ""
    tool_calls: tuple[ToolCall, ...] = ()
    reasoning: str | None = None
    name: str | None = None
    tool_call_id: str | None = None
    loss_weight: float | None = None
    """Per-message loss weight for assistant messages (None: the default 1.0; 0 masks the message)."""

    @property
    def text(self) -> str:
        """The text content; media parts are skipped."""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text or "" for p in self.content if p.type == "text")

    @property
    def media(self) -> tuple[Part, ...]:
        if isinstance(self.content, str):
            return ()
        return tuple(p for p in self.content if p.type in MEDIA_TYPES)

    def to_template_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role}
        if isinstance(self.content, str):
            out["content"] = self.content
        else:
            out["content"] = [p.to_dict() for p in self.content]
        if self.tool_calls:
            out["tool_calls"] = [c.to_dict() for c in self.tool_calls]
        if self.reasoning is not None:
            out["reasoning_content"] = self.reasoning
        if self.name is not None:
            out["name"] = self.name
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        return out


@dataclass(frozen=True)
class Conversation:
    messages: tuple[Message, ...]
    tools: tuple[Mapping[str, Any], ...] | None = None
    """Conversation-level tool definitions (OpenAI style: {"type": "function", "function": {...}})."""

    def __post_init__(self) -> None:
        if not isinstance(self.messages, tuple):
            object.__setattr__(self, "messages", tuple(self.messages))
        if self.tools is not None and not isinstance(self.tools, tuple):
            object.__setattr__(self, "tools", tuple(self.tools))

    def to_template_messages(self) -> list[dict[str, Any]]:
        return [m.to_template_dict() for m in self.messages]

    def tools_list(self) -> list[dict[str, Any]] | None:
        return [dict(t) for t in self.tools] if self.tools else None

    @classmethod
    def from_openai(
        cls, messages: Sequence[Mapping[str, Any]], tools: Iterable[Mapping[str, Any]] | None = None
    ) -> Conversation:
        if not isinstance(messages, Sequence) or isinstance(messages, (str, bytes)):
            raise ConversationError(
                f"messages must be a list of message objects, got {type(messages).__name__}"
            )
        parsed = tuple(message_from_openai(m, i) for i, m in enumerate(messages))
        tool_list = None
        if tools is not None:
            tool_list = tuple(_normalise_tool(t, i) for i, t in enumerate(tools))
        return cls(parsed, tool_list)


def _normalise_tool(tool: Any, index: int) -> Mapping[str, Any]:
    if not isinstance(tool, Mapping):
        raise ConversationError(f"tools[{index}]: expected an object, got {type(tool).__name__}")
    if "function" not in tool and "name" in tool:  # bare function schema → OpenAI wrapper
        return {"type": "function", "function": dict(tool)}
    if not isinstance(tool.get("function"), Mapping) or "name" not in tool["function"]:
        raise ConversationError(
            f"tools[{index}]: expected {{'type': 'function', 'function': {{'name': ...}}}}"
        )
    return dict(tool)


def _parse_parts(content: Any, where: str) -> str | tuple[Part, ...]:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise ConversationError(
            f"{where}.content: expected a string or a list of parts, got {type(content).__name__}"
        )
    parts: list[Part] = []
    for j, raw in enumerate(content):
        if isinstance(raw, str):
            parts.append(Part("text", text=raw))
            continue
        if not isinstance(raw, Mapping) or "type" not in raw:
            raise ConversationError(f"{where}.content[{j}]: expected an object with a 'type'")
        kind = raw["type"]
        if kind == "text":
            if not isinstance(raw.get("text"), str):
                raise ConversationError(f"{where}.content[{j}].text: expected a string")
            parts.append(Part("text", text=raw["text"]))
        elif kind in ("image", "image_url", "video", "video_url", "audio", "input_audio"):
            base = kind.split("_")[0] if kind != "input_audio" else "audio"
            value = raw.get(kind) if kind in raw else raw.get(base)
            if isinstance(value, Mapping):
                value = value.get("url") or value.get("data")
            parts.append(Part(base, source=value if isinstance(value, str) else None))  # type: ignore[arg-type]
        else:
            raise ConversationError(
                f"{where}.content[{j}].type: unknown part type {kind!r}; expected text, image(_url), video(_url) or audio"
            )
    return tuple(parts)


def _parse_arguments(raw: Any, where: str) -> Mapping[str, Any]:
    if raw is None:
        return {}
    if isinstance(raw, Mapping):
        return dict(raw)
    if isinstance(raw, str):
        try:
            value = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            raise ConversationError(f"{where}.arguments: not valid JSON ({exc.msg}): {raw[:80]!r}") from None
        if not isinstance(value, dict):
            raise ConversationError(f"{where}.arguments: expected a JSON object, got {type(value).__name__}")
        return value
    raise ConversationError(
        f"{where}.arguments: expected an object or a JSON string, got {type(raw).__name__}"
    )


def message_from_openai(raw: Mapping[str, Any], index: int = 0) -> Message:
    where = f"messages[{index}]"
    if isinstance(raw, Message):
        return raw
    if not isinstance(raw, Mapping):
        raise ConversationError(f"{where}: expected an object, got {type(raw).__name__}")
    role = raw.get("role")
    if role == "function":
        role = "tool"
    if role not in ROLES:
        raise ConversationError(f"{where}.role: unknown role {role!r}; expected one of {', '.join(ROLES)}")
    calls: list[ToolCall] = []
    for j, c in enumerate(raw.get("tool_calls") or ()):
        cw = f"{where}.tool_calls[{j}]"
        if not isinstance(c, Mapping):
            raise ConversationError(f"{cw}: expected an object")
        fn = c.get("function", c)
        if not isinstance(fn, Mapping) or not isinstance(fn.get("name"), str):
            raise ConversationError(f"{cw}.function.name: expected a string")
        calls.append(ToolCall(fn["name"], _parse_arguments(fn.get("arguments"), cw), c.get("id")))
    reasoning = next(
        (raw[k] for k in ("reasoning_content", "reasoning", "thinking") if raw.get(k) is not None), None
    )
    if reasoning is not None and not isinstance(reasoning, str):
        raise ConversationError(f"{where}.reasoning_content: expected a string")
    weight = raw.get("loss_weight", raw.get("weight"))
    if weight is not None and not isinstance(weight, (int, float)):
        raise ConversationError(f"{where}.loss_weight: expected a number")
    return Message(
        role=role,
        content=_parse_parts(raw.get("content"), where),
        tool_calls=tuple(calls),
        reasoning=reasoning,
        name=raw.get("name"),
        tool_call_id=raw.get("tool_call_id"),
        loss_weight=None if weight is None else float(weight),
    )
