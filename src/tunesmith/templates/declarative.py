"""Declarative templates: a family describes its chat format with a few strings and switches.

Formats are plain strings with one ``{content}`` placeholder (filled with ``str.replace``, so braces in
content are safe). The assistant format is split at ``{content}``: what precedes is the header (masked;
also the generation prompt unless one is given), what follows is the end-of-turn marker (trained, minus
trailing whitespace, which is masked because the model stops at the marker).

Rendering produces segments tagged with their message, so spans are exact by construction; the
same spec exports to a Jinja chat template (:mod:`tunesmith.templates.export`) that renders identically.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Literal

from tunesmith.templates.base import Rendered, RenderOptions, Span, TemplateError
from tunesmith.templates.messages import Conversation, Message

PLACEHOLDER_TOKENS = ("bos_token", "eos_token")
SystemStyle = Literal["turn", "merge", "reject"]
ToolDefinitions = Literal["json_lines", "none"]


@dataclass(frozen=True)
class ReasoningSpec:
    """How reasoning ("thinking") is written, and which turns keep it (the history rule).

    ``keep``: ``after_last_query`` (Qwen3/QwQ: only assistant turns after the last real user query keep
    their reasoning; earlier ones are rendered without it — their reasoning is then not trained, since it
    is not in the text), ``all`` or ``none``.
    """

    open: str = "<think>\n"
    close: str = "\n</think>\n\n"
    keep: Literal["after_last_query", "all", "none"] = "after_last_query"
    block_on_last: bool = True
    """The final message of the conversation always gets a (possibly empty) reasoning block when kept."""
    split_content: bool = True
    """When a message has no reasoning field, take reasoning from ``<think>…</think>`` in its content."""
    strip: bool = True
    """Strip newlines around reasoning (``reasoning.strip('\\n')``) and before content (``lstrip('\\n')``)."""
    off_generation: str = "<think>\n\n</think>\n\n"
    """Appended to the generation prompt when thinking is switched off (``enable_thinking=False``)."""
    tool_response_prefix: str = "<tool_response>"
    tool_response_suffix: str = "</tool_response>"


@dataclass(frozen=True)
class DeclarativeTemplate:
    name: str
    assistant: str = "{content}"
    user: str = "{content}"
    system: str = "{content}"
    tool: str = "{content}"
    prefix: str = ""
    """Text before everything (usually the BOS token)."""
    generation_prompt: str | None = None
    """Defaults to the assistant header (the part of ``assistant`` before ``{content}``)."""
    suffix: str = ""
    """Text after the last message when no generation prompt is added (masked)."""
    default_system: str | None = None
    system_style: SystemStyle = "turn"
    merge_system: str = "{system}\n\n{content}"
    """For ``system_style="merge"``: how the system text joins the first user message."""
    skip_empty_system: bool = False
    strip_content: bool = False
    """Trim whitespace around every message's content (Llama 3, Gemma do this)."""
    alternate_error: str | None = None
    """When set, roles after the optional system must alternate user/assistant, else this error."""
    reject_system_message: str = "System role not supported"
    tool_group: tuple[str, str] | None = None
    """(open, close) written around a run of consecutive tool messages (Qwen: one user turn for all)."""
    tool_format: str | None = None
    tools_system: str | None = None
    """System text when tools are given: placeholders ``{system}`` (with ``{system_sep}`` after it when a
    system exists) and ``{tools}``; rendered with the ``system`` format."""
    tools_system_sep: str = "\n\n"
    tool_definitions: ToolDefinitions = "json_lines"
    tool_call_separator: str = "\n"
    """Between the assistant's text content and its tool calls, when content is not empty."""
    reasoning: ReasoningSpec | None = None
    stop_words: tuple[str, ...] = ()
    image_token: str | None = None
    video_token: str | None = None
    audio_token: str | None = None
    family: str = "generic"
    notes: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)

    tokens: Mapping[str, str] = field(default_factory=dict)
    """Values for ``{bos_token}`` / ``{eos_token}`` placeholders in the formats (see :meth:`bind`)."""

    def bind(self, special_tokens: Mapping[str, str | None]) -> DeclarativeTemplate:
        """A copy whose ``{bos_token}``/``{eos_token}`` placeholders use this tokenizer's tokens."""
        merged = {**self.tokens, **{k: v for k, v in special_tokens.items() if isinstance(v, str)}}
        return replace(self, tokens=merged)

    def _resolved(self) -> DeclarativeTemplate:
        fields = ("assistant", "user", "system", "tool", "prefix", "generation_prompt", "suffix")
        if not any("_token}" in (getattr(self, f) or "") for f in fields) and not (
            self.tool_group and "_token}" in "".join(self.tool_group)
        ):
            return self
        changes: dict[str, Any] = {}
        for f in fields:
            value = getattr(self, f)
            if value is not None:
                changes[f] = self._substitute(value)
        if self.tool_group:
            changes["tool_group"] = (
                self._substitute(self.tool_group[0]),
                self._substitute(self.tool_group[1]),
            )
        return replace(self, **changes, tokens={})

    def _substitute(self, text: str) -> str:
        for key in PLACEHOLDER_TOKENS:
            ph = "{" + key + "}"
            if ph in text:
                if key not in self.tokens:
                    raise TemplateError(
                        f"template {self.name!r} uses {ph} but no {key} is known; bind it to a tokenizer "
                        "(template.bind(tokenizer.special_tokens_map))"
                    )
                text = text.replace(ph, self.tokens[key])
        return text

    def __post_init__(self) -> None:
        if "{content}" not in self.assistant:
            raise ValueError(f"template {self.name!r}: the assistant format must contain {{content}}")

    # -- derived pieces -------------------------------------------------------------------------
    @property
    def assistant_header(self) -> str:
        return self.assistant.split("{content}", 1)[0]

    @property
    def assistant_end(self) -> str:
        return self.assistant.split("{content}", 1)[1]

    @property
    def generation_header(self) -> str:
        return self.assistant_header if self.generation_prompt is None else self.generation_prompt

    @cached_property
    def stop_strings(self) -> tuple[str, ...]:  # type: ignore[override]
        out = [self._substitute(w) if "_token}" in w and self.tokens else w for w in self.stop_words]
        end = self.assistant_end.strip()
        if "_token}" in end:
            end = self._substitute(end) if self.tokens else ""
        if end and end not in out:
            out.insert(0, end)
        return tuple(out)

    def to_jinja(self) -> str:
        from tunesmith.templates.export import declarative_to_jinja

        return declarative_to_jinja(self)

    # -- rendering ------------------------------------------------------------------------------
    def _text(self, message: Message, index: int) -> str:
        if not isinstance(message.content, str):
            parts = []
            for p in message.content:
                if p.type == "text":
                    parts.append(p.text or "")
                else:
                    token = getattr(self, f"{p.type}_token")
                    if token is None:
                        raise TemplateError(
                            f"template {self.name!r} has no {p.type} placeholder; messages[{index}] carries a {p.type}"
                        )
                    parts.append(token)
            text = "".join(parts)
        else:
            text = message.content
        return text.strip() if self.strip_content else text

    def _tools_text(self, tools: Sequence[Mapping[str, Any]]) -> str:
        if self.tool_definitions == "json_lines":
            return "".join("\n" + json.dumps(dict(t), ensure_ascii=False) for t in tools)
        return ""

    def _check_roles(self, messages: Sequence[Message], offset: int) -> None:
        for k, m in enumerate(messages):
            if self.alternate_error and (m.role == "user") != (k % 2 == 0):
                raise TemplateError(
                    f"template {self.name!r}: {self.alternate_error} (messages[{k + offset}])"
                )
            if m.role == "system":
                raise TemplateError(
                    f"template {self.name!r}: a system message is only allowed first (messages[{k + offset}])"
                )
            if m.role == "tool" and self.tool_format is None:
                raise TemplateError(
                    f"template {self.name!r} has no tool format; messages[{k + offset}] is a tool result. "
                    "Use the model's own chat template or a template with tool support."
                )

    def render(
        self,
        conversation: Conversation,
        *,
        add_generation_prompt: bool = False,
        options: RenderOptions | None = None,
    ) -> Rendered:
        resolved = self._resolved()
        if resolved is not self:
            return resolved.render(conversation, add_generation_prompt=add_generation_prompt, options=options)
        options = options or RenderOptions()
        msgs = conversation.messages
        tools = conversation.tools_list()
        segments: list[tuple[str, int, str, bool, float]] = []  # text, index, role, trainable, weight

        def emit(text: str, index: int, role: str, trainable: bool = False, weight: float = 1.0) -> None:
            if text:
                segments.append((text, index, role, trainable, weight))

        system_text: str | None = None
        system_index = -1
        body_offset = 0
        if msgs and msgs[0].role == "system":
            system_text, system_index, body_offset = self._text(msgs[0], 0), 0, 1
        body = msgs[body_offset:]
        if system_text is not None and self.system_style == "reject":
            raise TemplateError(f"template {self.name!r}: {self.reject_system_message}")
        if system_text is None and self.system_style != "reject":
            system_text = self.default_system
        if tools:
            if self.tools_system is None or self.tool_format is None:
                raise TemplateError(
                    f"template {self.name!r} cannot render tool definitions declaratively; "
                    "use the model's own chat template (template: jinja) for tools"
                )
            sys_part = "" if system_text is None else system_text + self.tools_system_sep
            system_text = self.tools_system.replace("{system}", sys_part).replace(
                "{tools}", self._tools_text(tools)
            )
        self._check_roles(body, body_offset)

        emit(self.prefix, 0, "prefix")
        merge_into_first_user = None
        if system_text is not None and not (self.skip_empty_system and not system_text):
            if self.system_style == "merge":
                merge_into_first_user = system_text
            else:
                emit(self.system.replace("{content}", system_text), max(system_index, 0), "system")

        last_query = self._last_query_index(body)
        for k, m in enumerate(body):
            i = k + body_offset
            is_last = k == len(body) - 1
            if m.role == "user":
                text = self._text(m, i)
                if merge_into_first_user is not None:
                    text = self.merge_system.replace("{system}", merge_into_first_user).replace(
                        "{content}", text
                    )
                    merge_into_first_user = None
                emit(self.user.replace("{content}", text), i, "user")
            elif m.role == "assistant":
                emit(self.assistant_header, i, "assistant_header")
                trained = self._assistant_body(m, i, k > last_query, is_last) + self.assistant_end
                stripped = trained.rstrip()
                if (
                    stripped != trained
                    and self.assistant_end.strip()
                    and stripped.endswith(self.assistant_end.strip())
                ):
                    weight = 1.0 if m.loss_weight is None else m.loss_weight
                    emit(stripped, i, "assistant", True, weight)
                    emit(trained[len(stripped) :], i, "assistant_tail")
                else:
                    emit(trained, i, "assistant", True, 1.0 if m.loss_weight is None else m.loss_weight)
            elif m.role == "tool":
                first = k == 0 or body[k - 1].role != "tool"
                last = is_last or body[k + 1].role != "tool"
                if self.tool_group and first:
                    emit(self.tool_group[0], i, "tool")
                emit(self.tool.replace("{content}", self._text(m, i)), i, "tool")
                if self.tool_group and last:
                    emit(self.tool_group[1], i, "tool")
        if merge_into_first_user is not None:  # a system prompt and no user turn
            emit(self.system.replace("{content}", merge_into_first_user), max(system_index, 0), "system")
        if add_generation_prompt:
            gen = self.generation_header
            if self.reasoning is not None and options.enable_thinking is False:
                gen += self.reasoning.off_generation
            emit(gen, len(msgs), "generation_prompt")
        else:
            emit(self.suffix, len(msgs), "suffix")
        return _assemble(segments, add_generation_prompt)

    def _last_query_index(self, body: Sequence[Message]) -> int:
        r = self.reasoning
        if r is None:
            return -1
        if r.keep == "all":
            return -1
        if r.keep == "none":
            return len(body)
        for k in range(len(body) - 1, -1, -1):
            m = body[k]
            text = m.text
            if m.role == "user" and not (
                text.startswith(r.tool_response_prefix) and text.endswith(r.tool_response_suffix)
            ):
                return k
        return len(body) - 1

    def _assistant_body(self, m: Message, index: int, after_last_query: bool, is_last: bool) -> str:
        content = self._text(m, index)
        r = self.reasoning
        if r is not None:
            reasoning = m.reasoning
            if reasoning is None:
                reasoning = ""
                if r.split_content and "</think>" in content:
                    head = content.split("</think>")[0]
                    tail = content.split("</think>")[-1]
                    content = tail.lstrip("\n")
                    reasoning = head.rstrip("\n").split("<think>")[-1].lstrip("\n")
            if after_last_query and (is_last and r.block_on_last or reasoning):
                rs = reasoning.strip("\n") if r.strip else reasoning
                cs = content.lstrip("\n") if r.strip else content
                content = r.open + rs + r.close + cs
        if m.tool_calls:
            if self.tool_format is None:
                raise TemplateError(
                    f"template {self.name!r} has no tool format; messages[{index}] has tool calls"
                )
            from tunesmith.templates.tools import get_tool_format

            calls = get_tool_format(self.tool_format).format_calls(m.tool_calls)
            content = content + self.tool_call_separator + calls if content else calls
        return content


def _assemble(segments: list[tuple[str, int, str, bool, float]], agp: bool) -> Rendered:
    pieces: list[str] = []
    spans: list[Span] = []
    pos = 0
    for text, index, role, trainable, weight in segments:
        pieces.append(text)
        spans.append(Span(index, role, pos, pos + len(text), trainable, weight))
        pos += len(text)
    return Rendered("".join(pieces), tuple(spans), agp)
