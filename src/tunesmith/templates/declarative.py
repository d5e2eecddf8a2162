"""Declarative templates: a family describes its chat format with a few strings and switches.

Formats are plain strings with one ``{content}`` placeholder (filled in one pass, so braces in content
are safe). The assistant format is split at ``{content}``: what precedes is the header (masked; also the
generation prompt unless one is given), what follows is the end-of-turn marker (trained, minus trailing
whitespace, which is masked because the model stops at the marker).

Rendering produces segments tagged with their message, so spans are exact by construction; the
same spec exports to a Jinja chat template (:mod:`tunesmith.templates.export`) that renders identically.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Literal

from tunesmith.templates.base import Rendered, RenderOptions, TemplateError
from tunesmith.templates.declarative_parts import (
    ReasoningSpec,
    ToolDefinitions,
    assemble,
    fill,
    split_think,
    today,
    tools_text,
)
from tunesmith.templates.messages import Conversation, Message
from tunesmith.templates.snippets import SnippetRunner, ToolSnippets

__all__ = ["DeclarativeTemplate", "ReasoningSpec", "SystemStyle", "ToolDefinitions", "ToolSnippets"]

PLACEHOLDER_TOKENS = ("bos_token", "eos_token")
SystemStyle = Literal["turn", "merge", "merge_last", "reject", "drop"]
"""Where the system prompt goes: its own turn, merged into the first user message, merged into the user
message only when that is the conversation's last message (Mistral-Nemo; otherwise not written), refused,
or not written at all (Phi-4-reasoning). Where the official template drops the system prompt, so do we,
with a warning."""
ROLES = ("system", "user", "assistant", "tool")
_TOKEN_FIELDS = (
    "assistant",
    "user",
    "system",
    "tool",
    "prefix",
    "generation_prompt",
    "suffix",
    "default_system",
    "system_content",
    "merge_system",
    "tools_system",
    "tools_in_first_user",
    "tools_block",
)


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
    """System text when the conversation has no system message (``{date}`` allowed). ``""`` makes the
    system turn unconditional (Llama 3.1: the turn with the dates is always written)."""
    default_system_with_tools: bool = True
    """False: with tool definitions the default system prompt is not written (Hermes 3's tool_use template)."""
    tools_default_system: str | None = None
    """System text written only when tool definitions are given and the conversation has no system
    message (``{date}`` allowed): Qwen3-Coder writes its default system prompt only with tools."""
    system_content: str = "{system}"
    """What the system format's ``{content}`` holds when no tools are given: ``{system}`` is the system
    text, ``{date}`` the date (Llama 3.1: ``"Cutting Knowledge Date: …\\nToday Date: {date}\\n\\n{system}"``)."""
    system_style: SystemStyle = "turn"
    merge_system: str = "{system}\n\n{content}"
    """For ``system_style="merge"``: how the system text joins the first user message. Without a user
    message the system text is not written (as Llama 2, Mistral and Gemma 3 do)."""
    skip_empty_system: bool = False
    inner_system: bool = False
    """A system message after the first is rendered with the ``system`` format where it stands (Qwen2,
    Phi, Llama 3 do this); False refuses it."""
    strip_content: bool | tuple[str, ...] = False
    """Trim whitespace around message content: True for every role, or the roles to trim (Llama 3.1 trims
    system and user/assistant text but not tool results; Gemma 3 trims all but the system)."""
    partial_strip: Mapping[str, Literal["rstrip", "lstrip_newlines"]] = field(default_factory=dict)
    """One-sided trimming per role, where ``strip_content`` does not trim: ``rstrip`` (``text.rstrip()``) or
    ``lstrip_newlines`` (``text.lstrip("\\n")``) — SmolLM3 right-trims the system prompt and drops leading
    newlines of assistant content."""
    system_refuse: tuple[str, ...] = ()
    """Strings that, inside the system prompt, make the official template switch modes (SmolLM3's
    ``/think`` and ``/no_think``): such a system prompt is refused with an error naming the alternative."""
    thinking_off: DeclarativeTemplate | None = None
    """The template rendered instead when thinking is switched off (``enable_thinking=False``), for families
    whose official template changes more than the generation prompt (SmolLM3)."""
    empty_system_default: bool = False
    """An empty system message (after trimming) counts as none, so the default system prompt is written."""
    strip_merged: bool = False
    """Trim each user text after the system was merged into it (Llama 2 strips ``<<SYS>>…`` + text as a
    whole) instead of before merging."""
    alternate_error: str | None = None
    """When set, roles after the optional system must alternate user/assistant, else this error."""
    reject_system_message: str = "System role not supported"
    date_format: str = "%d %b %Y"
    """``strftime`` format of ``{date}`` when the caller gives no ``date_string`` (render option)."""
    default_date: str | None = None
    """``{date}`` when no ``date_string`` is given; None means today (``strftime_now(date_format)``)."""
    tool_group: tuple[str, str] | None = None
    """(open, close) written around a run of consecutive tool messages (Qwen: one user turn for all)."""
    tool_format: str | None = None
    without_tools: Literal["raise", "ignore"] = "raise"
    """With no tool format: refuse tool definitions and tool calls (``raise``), or — only where the official
    template does the same — ignore them: definitions are not written, calls are dropped from the
    assistant turn, and tool results are written with the ``tool`` format (``""`` drops them)."""
    tools_system: str | None = None
    """System text when tools are given: placeholders ``{system}`` (the system text followed by
    ``tools_system_sep``, or nothing without a system), ``{tools}`` and ``{date}``; rendered with the
    ``system`` format."""
    tools_system_sep: str = "\n\n"
    tools_system_part: str = "{system}"
    """How a given system text appears in ``tools_system``'s ``{system}`` (before ``tools_system_sep``):
    Command R7B puts it under a ``# Developer Preamble`` heading."""
    tools_in_first_user: str | None = None
    """When set, tool definitions open the first user message instead (Llama 3.1): placeholders
    ``{tools}`` and ``{content}``; a conversation whose first message after the system is not a user
    message is refused."""
    tool_definitions: ToolDefinitions = "json_lines"
    tools_block: str | None = None
    """A turn of its own for the tool definitions (placeholder ``{tools}``), written where
    ``tools_block_at`` says; the system turn is then unchanged by tools."""
    tools_block_at: Literal["start", "after_system", "last_user"] = "start"
    """``start``: right after the prefix, before the system turn (Granite 3.0, Hermes 2 Pro);
    ``after_system``: right after the system turn (Ministral 3); ``last_user``: right before the last user
    message (Mistral-Nemo and Mistral-Small ``[AVAILABLE_TOOLS]``)."""
    snippets: ToolSnippets | None = None
    """Jinja macros for tool parts that strings cannot express (:mod:`tunesmith.templates.snippets`)."""
    drop_empty_messages: bool = False
    """Messages whose text is empty (and carry no rendered tool calls) are not written at all (GLM-4)."""
    alternate_skips_tools: bool = False
    """The alternation check skips tool results and assistant messages with tool calls (Mistral)."""
    tool_content_json: bool = False
    """Tool results are written as JSON strings, quotes included (Llama 3.x: ``content | tojson``)."""
    tool_call_separator: str = "\n"
    """Between the assistant's text content and its tool calls, when content is not empty."""
    tool_call_content: Literal["before", "drop"] = "before"
    """The text content of a message with tool calls: written before the calls, or dropped (Llama 3.1)."""
    single_tool_call_error: str | None = None
    """When set, an assistant message with more than one tool call is refused with this error."""
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
        group = "".join(self.tool_group or ())
        if not any("_token}" in (getattr(self, f) or "") for f in _TOKEN_FIELDS) and "_token}" not in group:
            return self
        changes: dict[str, Any] = {}
        for f in _TOKEN_FIELDS:
            value = getattr(self, f)
            if value is not None:
                changes[f] = self._substitute(value)
        if self.tool_group:
            changes["tool_group"] = (
                self._substitute(self.tool_group[0]),
                self._substitute(self.tool_group[1]),
            )
        return replace(self, **changes)

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
        if not isinstance(self.strip_content, bool):
            unknown = set(self.strip_content) - set(ROLES)
            if unknown:
                raise ValueError(
                    f"template {self.name!r}: strip_content names unknown roles {sorted(unknown)}"
                )

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

    def strips(self, role: str) -> bool:
        """Whether content of messages with this role is trimmed."""
        if isinstance(self.strip_content, bool):
            return self.strip_content
        return role in self.strip_content

    @property
    def ignores_tools(self) -> bool:
        """Tool definitions and calls are ignored (as the official template does)."""
        if self.without_tools != "ignore":
            return False
        return self.tool_format is None or (self.tools_system is None and self.tools_block is None)

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
    def _text(self, message: Message, index: int, strip: bool | None = None) -> str:
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
        strip = self.strips(message.role) if strip is None else strip
        if strip:
            return text.strip()
        partial = self.partial_strip.get(message.role)
        if partial == "rstrip":
            return text.rstrip()
        return text.lstrip("\n") if partial == "lstrip_newlines" else text

    def _date(self, options: RenderOptions) -> str:
        given = options.extra.get("date_string")
        if isinstance(given, str):
            return given
        return self.default_date if self.default_date is not None else today(self.date_format)

    def _check_roles(self, messages: Sequence[Message], offset: int) -> None:
        turn = 0
        for k, m in enumerate(messages):
            where = f"messages[{k + offset}]"
            skipped = self.alternate_skips_tools and (m.role == "tool" or bool(m.tool_calls))
            if self.alternate_error and not skipped:
                if (m.role == "user") != (turn % 2 == 0):
                    raise TemplateError(f"template {self.name!r}: {self.alternate_error} ({where})")
                turn += 1
            if m.role == "system" and not self.inner_system and self.system_style != "drop":
                raise TemplateError(
                    f"template {self.name!r}: a system message is only allowed first ({where})"
                )
            if m.role == "tool" and self.tool_format is None and self.without_tools == "raise":
                raise TemplateError(
                    f"template {self.name!r} has no tool format; {where} is a tool result. "
                    "Use the model's own chat template or a template with tool support."
                )
            if m.role == "assistant" and m.tool_calls:
                if self.tool_format is None and self.without_tools == "raise":
                    raise TemplateError(f"template {self.name!r} has no tool format; {where} has tool calls")
                if self.single_tool_call_error and self.tool_format and len(m.tool_calls) != 1:
                    raise TemplateError(f"template {self.name!r}: {self.single_tool_call_error} ({where})")

    def _system_text(
        self, msgs: Sequence[Message], tools: list[dict[str, Any]] | None, definitions: str, date: str
    ) -> str | None:
        """The text the system format wraps (None: no system turn)."""
        system_text = self._text(msgs[0], 0) if msgs and msgs[0].role == "system" else None
        if self.empty_system_default and not system_text:
            system_text = None
        for flag in self.system_refuse if system_text else ():
            if flag in system_text:  # type: ignore[operator]
                raise TemplateError(
                    f"template {self.name!r}: {flag!r} in the system prompt switches the official template's mode; "
                    "remove it and choose the mode with enable_thinking (or use the model's own template)"
                )
        if system_text is not None and self.system_style == "reject":
            raise TemplateError(f"template {self.name!r}: {self.reject_system_message}")
        if self.system_style == "drop":
            if any(m.role == "system" for m in msgs):
                warnings.warn(
                    f"template {self.name!r}: system messages are not written (as the official template); "
                    "put instructions in the first user message to train on them",
                    stacklevel=4,
                )
            return None
        default = self.default_system is not None and (self.default_system_with_tools or not tools)
        if system_text is None and self.system_style != "reject" and default:
            system_text = fill(self.default_system, date=date)
        if (
            system_text is None
            and tools
            and self.tools_default_system is not None
            and self.system_style != "reject"
        ):
            system_text = fill(self.tools_default_system, date=date)
        if tools:
            if self.tool_format is None or (self.tools_system is None and self.tools_block is None):
                raise TemplateError(
                    f"template {self.name!r} cannot render tool definitions declaratively; "
                    "use the model's own chat template (template: jinja) for tools"
                )
            if self.tools_system is not None:
                in_system = "" if self.tools_in_first_user or self.tools_block else definitions
                sys_part = (
                    ""
                    if system_text is None
                    else fill(self.tools_system_part, system=system_text) + self.tools_system_sep
                )
                return fill(self.tools_system, system=sys_part, tools=in_system, date=date)
        if system_text is None:
            return None
        return fill(self.system_content, system=system_text, date=date)

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
        if self.thinking_off is not None and options.enable_thinking is False:
            variant = self.thinking_off.bind(self.tokens)
            return variant.render(conversation, add_generation_prompt=add_generation_prompt, options=options)
        msgs = conversation.messages
        tools = None if self.ignores_tools else conversation.tools_list()
        segments: list[tuple[str, int, str, bool, float]] = []  # text, index, role, trainable, weight

        def emit(text: str, index: int, role: str, trainable: bool = False, weight: float = 1.0) -> None:
            if text:
                segments.append((text, index, role, trainable, weight))

        body_offset = 1 if msgs and msgs[0].role == "system" else 0
        body = msgs[body_offset:]
        self._check_roles(body, body_offset)
        runner = self._snippet_runner(body, tools)
        definitions = ""
        if tools:
            snip = runner is not None and runner.has("definitions")
            definitions = runner.definitions() if snip else tools_text(self.tool_definitions, tools)  # type: ignore[union-attr]
        system_text = self._system_text(msgs, tools, definitions, self._date(options))
        first_user_tools = None
        if tools and self.tools_in_first_user is not None:
            if not body or body[0].role != "user":
                raise TemplateError(
                    f"template {self.name!r} puts the tool definitions in the first user message; "
                    f"messages[{body_offset}] is not a user message"
                )
            first_user_tools = definitions
        block = fill(self.tools_block, tools=definitions) if tools and self.tools_block is not None else None
        block_before = -1
        if block is not None and self.tools_block_at == "last_user":
            block_before = max((k for k, m in enumerate(body) if m.role == "user"), default=-1)

        emit(self.prefix, 0, "prefix")
        if block is not None and self.tools_block_at == "start":
            emit(block, 0, "tools")
        merge_into_first_user = None
        if system_text is not None and not (self.skip_empty_system and not system_text):
            if self.system_style in ("merge", "merge_last"):
                merge_into_first_user = system_text
                if self.system_style == "merge_last" and not (body and body[-1].role == "user"):
                    warnings.warn(
                        f"template {self.name!r}: the system prompt is written only into a final user message "
                        "(as the official template); this conversation ends otherwise, so it is not written",
                        stacklevel=2,
                    )
            else:
                emit(self.system.replace("{content}", system_text), 0, "system")
        if block is not None and self.tools_block_at == "after_system":
            emit(block, 0, "tools")

        last_query = self._last_query_index(body)
        for k, m in enumerate(body):
            i = k + body_offset
            is_last = k == len(body) - 1
            if (
                self.drop_empty_messages
                and not self._text(m, i)
                and not (m.tool_calls and not self.ignores_tools)
            ):
                continue
            if k == block_before:
                emit(block or "", i, "tools")
            if m.role == "user":
                text = self._text(m, i, strip=False if self.strip_merged else None)
                if first_user_tools is not None:
                    text = fill(self.tools_in_first_user or "", tools=first_user_tools, content=text)
                    first_user_tools = None
                if merge_into_first_user is not None and (self.system_style == "merge" or is_last):
                    text = fill(self.merge_system, system=merge_into_first_user, content=text)
                    merge_into_first_user = None
                if self.strip_merged:
                    text = text.strip()
                emit(self.user.replace("{content}", text), i, "user")
            elif m.role == "system" and self.system_style == "drop":
                continue
            elif m.role == "system":
                text = self._text(m, i)
                if text or not self.skip_empty_system:
                    emit(self.system.replace("{content}", text), i, "system")
            elif m.role == "assistant":
                header = runner.header(k) if runner and runner.has("header") else self.assistant_header
                emit(header, i, "assistant_header")
                end = runner.end(k) if runner and runner.has("end") else self.assistant_end
                trained = self._assistant_body(m, i, k > last_query, is_last, runner, k) + end
                weight = 1.0 if m.loss_weight is None else m.loss_weight
                stripped = trained.rstrip()
                if stripped != trained and end.strip() and stripped.endswith(end.strip()):
                    emit(stripped, i, "assistant", True, weight)
                    emit(trained[len(stripped) :], i, "assistant_tail")
                else:
                    emit(trained, i, "assistant", True, weight)
            elif m.role == "tool" and runner is not None and runner.has("tool"):
                emit(runner.tool(k), i, "tool")
            elif m.role == "tool":
                first = k == 0 or body[k - 1].role != "tool"
                last = is_last or body[k + 1].role != "tool"
                if self.tool_group and first:
                    emit(self.tool_group[0], i, "tool")
                emit(self.tool.replace("{content}", self._tool_text(m, i)), i, "tool")
                if self.tool_group and last:
                    emit(self.tool_group[1], i, "tool")
        if add_generation_prompt:
            gen = runner.generation() if runner and runner.has("generation") else self.generation_header
            if self.reasoning is not None and options.enable_thinking is False:
                gen += self.reasoning.off_generation
            emit(gen, len(msgs), "generation_prompt")
        else:
            emit(runner.suffix() if runner and runner.has("suffix") else self.suffix, len(msgs), "suffix")
        return assemble(segments, add_generation_prompt)

    def _tool_text(self, m: Message, index: int) -> str:
        if not self.tool_content_json:
            return self._text(m, index)
        value: Any = m.content if isinstance(m.content, str) else [p.to_dict() for p in m.content]
        return json.dumps(value, ensure_ascii=False)

    def _last_query_index(self, body: Sequence[Message]) -> int:
        r = self.reasoning
        if r is None or r.keep in ("all", "last_message"):
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

    def _snippet_runner(
        self, body: Sequence[Message], tools: list[dict[str, Any]] | None
    ) -> SnippetRunner | None:
        if self.snippets is None:
            return None
        from tunesmith.templates.jinja_env import normalise_messages

        dicts = normalise_messages([m.to_template_dict() for m in body])
        return SnippetRunner(self.snippets, self.name, self.tokens, dicts, tools)

    def _assistant_body(
        self,
        m: Message,
        index: int,
        after_last_query: bool,
        is_last: bool,
        runner: SnippetRunner | None = None,
        k: int = 0,
    ) -> str:
        content = self._text(m, index)
        r = self.reasoning
        if r is not None:
            reasoning = m.reasoning if r.from_field else None
            if r.keep == "last_message":
                if not is_last:
                    content = content.split("</think>")[-1].lstrip("\n")
                    reasoning = None
                after_last_query = is_last
            elif reasoning is None and r.split_content and "</think>" in content:
                reasoning, content = split_think(content)
            reasoning = reasoning or ""
            if after_last_query and (is_last and r.block_on_last or reasoning):
                rs = reasoning.strip("\n") if r.strip else reasoning
                cs = content.lstrip("\n") if r.strip else content
                content = r.open + rs + r.close + cs
        if m.tool_calls and self.tool_format is not None and runner is not None and runner.has("calls"):
            return runner.calls(k, content)
        if m.tool_calls and self.tool_format is not None:
            from tunesmith.templates.tools import get_tool_format

            if self.tool_call_content == "drop":
                content = ""
            calls = get_tool_format(self.tool_format).format_calls(m.tool_calls)
            content = content + self.tool_call_separator + calls if content else calls
        return content
