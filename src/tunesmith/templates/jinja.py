"""The model's own Jinja chat template as a first-class template.

Text comes from one render of the whole conversation, exactly as ``apply_chat_template`` produces it.
Message spans come from prefix renders (how the text looks up to message *i*):

* an assistant message starts where ``render(messages[:i], add_generation_prompt=True)`` ends;
* it ends where ``render(messages[:i+1])`` ends, minus whitespace after the end-of-turn marker
  (those characters are never generated: the model stops at the marker).

**History re-rendering rule.** Some official templates render earlier turns differently once a turn is
added (Qwen3/QwQ/DeepSeek-R1 drop the reasoning of earlier assistant turns). Then ``render(messages[:i+1])``
is not a prefix of the full text; the assistant span is taken from its start to the first end-of-turn
marker after it, which trains exactly the text that stands in the full rendering (reasoning of earlier
turns is therefore not trained, as it is not in the text). If even the start is not a prefix, labels
cannot be derived and a :class:`TemplateError` says so — never a silent guess.

Templates with ``{% generation %}`` blocks use those blocks as the trainable spans directly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import jinja2

from tunesmith.templates.base import Rendered, RenderOptions, Span, TemplateError
from tunesmith.templates.jinja_env import render_template
from tunesmith.templates.messages import Conversation

_GENERATION_TAG = re.compile(r"\{%-?\s*generation\s*-?%\}")


@dataclass(frozen=True)
class JinjaTemplate:
    """A Hugging Face chat template (one string, or a dict of named templates)."""

    source: str | Mapping[str, str]
    special_tokens: Mapping[str, str] = field(default_factory=dict)
    """Named special tokens passed to the template (bos_token, eos_token, ...), as transformers does."""
    name: str = "jinja"
    extra_stop_strings: tuple[str, ...] = ()
    tool_format_name: str | None = None

    # -- protocol -----------------------------------------------------------------------------
    @property
    def tool_format(self) -> str | None:
        return self.tool_format_name

    def select(self, has_tools: bool) -> str:
        if isinstance(self.source, str):
            return self.source
        if has_tools and "tool_use" in self.source:
            return self.source["tool_use"]
        if "default" in self.source:
            return self.source["default"]
        raise TemplateError(
            f"template {self.name!r} has several named templates ({', '.join(sorted(self.source))}) and no 'default'"
        )

    def to_jinja(self) -> str:
        return self.select(False)

    @cached_property
    def stop_strings(self) -> tuple[str, ...]:  # type: ignore[override]
        out: list[str] = []
        eot = self._probe_end_of_turn()
        if eot:
            out.append(eot)
        eos = self.special_tokens.get("eos_token")
        if eos and eos not in out:
            out.append(eos)
        out.extend(s for s in self.extra_stop_strings if s not in out)
        return tuple(out)

    def _probe_end_of_turn(self) -> str | None:
        """The end-of-turn marker: what follows an assistant's content in a two-message probe."""
        probe = [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A7x"}]
        try:
            head = self._raw(probe[:1], None, True, {})
            full = self._raw(probe, None, False, {})
        except Exception:
            return None
        if not full.startswith(head):
            return None
        tail = full[len(head) :]
        at = tail.rfind("A7x")
        if at < 0:
            return None
        marker = tail[at + 3 :].strip()
        return marker or None

    # -- rendering ----------------------------------------------------------------------------
    def _raw(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, agp: bool, kwargs: dict[str, Any]
    ) -> str:
        text, _ = render_template(
            self.select(bool(tools)),
            messages,
            tools=tools,
            add_generation_prompt=agp,
            special_tokens=self.special_tokens,
            **kwargs,
        )
        return text

    def render(
        self,
        conversation: Conversation,
        *,
        add_generation_prompt: bool = False,
        options: RenderOptions | None = None,
    ) -> Rendered:
        kwargs = (options or RenderOptions()).jinja_kwargs()
        messages = conversation.to_template_messages()
        tools = conversation.tools_list()
        source = self.select(bool(tools))
        try:
            text, gen = render_template(
                source,
                messages,
                tools=tools,
                add_generation_prompt=add_generation_prompt,
                special_tokens=self.special_tokens,
                track_generation=True,
                **kwargs,
            )
        except jinja2.exceptions.TemplateError as exc:
            raise TemplateError(f"the chat template {self.name!r} rejects this conversation: {exc}") from exc
        if _GENERATION_TAG.search(source):
            spans = self._spans_from_generation(conversation, gen)
        else:
            spans = self._spans_from_prefixes(conversation, messages, tools, text, kwargs)
        return Rendered(text, spans, add_generation_prompt)

    def _spans_from_generation(self, conversation: Conversation, gen: list[tuple[int, int]]) -> tuple[Span, ...]:
        assistants = [i for i, m in enumerate(conversation.messages) if m.role == "assistant"]
        out = []
        for k, (s, e) in enumerate(gen):
            idx = assistants[k] if k < len(assistants) else assistants[-1] if assistants else 0
            weight = conversation.messages[idx].loss_weight if assistants else None
            out.append(Span(idx, "assistant", s, e, True, 1.0 if weight is None else weight))
        return tuple(out)

    def _prefix_len(self, messages, tools, n: int, agp: bool, kwargs, text: str) -> int | None:
        if n == 0 and not agp:
            return 0
        try:
            prefix = self._raw(messages[:n], tools, agp, kwargs)
        except Exception:  # a template may refuse a prefix (e.g. "must end with a user turn")
            return None
        return len(prefix) if text.startswith(prefix) else None

    def _spans_from_prefixes(self, conversation, messages, tools, text: str, kwargs) -> tuple[Span, ...]:
        n = len(messages)
        # boundary[i]: where message i's rendering ends, when the prefix render is a prefix of the text
        ends = [self._prefix_len(messages, tools, i + 1, False, kwargs, text) for i in range(n)]
        spans: list[Span] = []
        prev_end = 0
        for i, msg in enumerate(conversation.messages):
            if msg.role != "assistant":
                end = ends[i] if ends[i] is not None else prev_end
                spans.append(Span(i, msg.role, prev_end, max(end, prev_end)))
                prev_end = max(end, prev_end)
                continue
            start = self._prefix_len(messages, tools, i, True, kwargs, text) if i > 0 else 0
            if start is None:
                raise TemplateError(
                    f"template {self.name!r}: cannot derive labels for messages[{i}] (assistant): the text before it, "
                    "rendered with the generation prompt, is not a prefix of the full rendering. Use a template with "
                    "{% generation %} markers, or a declarative template for this model."
                )
            end = ends[i]
            if end is None or end <= start:
                end = self._find_end_of_turn(text, start, i)
            end = self._trim_after_marker(text, start, end)
            weight = 1.0 if msg.loss_weight is None else msg.loss_weight
            if start > prev_end:
                spans.append(Span(i, "assistant_header", prev_end, start))
            spans.append(Span(i, "assistant", start, end, True, weight))
            prev_end = ends[i] if ends[i] is not None and ends[i] >= end else end
        return tuple(spans)

    def _find_end_of_turn(self, text: str, start: int, index: int) -> int:
        hits = [text.find(s, start) for s in self.stop_strings]
        found = [(h, s) for h, s in zip(hits, self.stop_strings, strict=True) if h >= 0]
        if not found:
            raise TemplateError(
                f"template {self.name!r}: cannot find the end of assistant messages[{index}] "
                f"(no end-of-turn marker among {list(self.stop_strings)} after position {start})"
            )
        h, s = min(found)
        return h + len(s)

    def _trim_after_marker(self, text: str, start: int, end: int) -> int:
        chunk = text[start:end]
        stripped = chunk.rstrip()
        if stripped != chunk and any(stripped.endswith(s) for s in self.stop_strings):
            return start + len(stripped)
        return end
