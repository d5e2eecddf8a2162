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
# control-token shapes used when the tokenizer's special tokens are not known
_MARKER_RE = re.compile(r"<\|[^|\s]{1,40}\|>|<｜[^｜]{1,40}｜>|</s>|<eos>|<end_of_turn>|\[/?[A-Z_]{2,30}\]")


@dataclass(frozen=True)
class JinjaTemplate:
    """A Hugging Face chat template (one string, or a dict of named templates)."""

    source: str | Mapping[str, str]
    special_tokens: Mapping[str, str] = field(default_factory=dict)
    """Named special tokens passed to the template (bos_token, eos_token, ...), as transformers does."""
    name: str = "jinja"
    extra_stop_strings: tuple[str, ...] = ()
    control_tokens: tuple[str, ...] = ()
    """The tokenizer's special tokens; used to recognise end-of-turn markers."""
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
        """End-of-turn markers: the first control token after an assistant's content, in a history turn
        and in a final turn (they differ, e.g. gpt-oss ``<|end|>``/``<|return|>``), then the EOS token."""
        out: list[str] = []
        for marker in self._probe_end_of_turn():
            if marker not in out:
                out.append(marker)
        eos = self.special_tokens.get("eos_token")
        if eos and eos not in out:
            out.append(eos)
        out.extend(s for s in self.extra_stop_strings if s not in out)
        return tuple(out)

    @cached_property
    def _marker_pattern(self) -> re.Pattern[str]:
        tokens = sorted({t for t in self.control_tokens if t}, key=len, reverse=True)
        alts = [re.escape(t) for t in tokens] + [_MARKER_RE.pattern]
        return re.compile("|".join(alts))

    def _probe_end_of_turn(self) -> list[str]:
        u1, a1, u2, a2 = "Q5k", "A7x", "R6m", "B8y"
        probes = [
            [
                {"role": "user", "content": u1},
                {"role": "assistant", "content": a1},
                {"role": "user", "content": u2},
            ],
            [{"role": "user", "content": u1}, {"role": "assistant", "content": a1}],
            [
                {"role": "user", "content": u1},
                {"role": "assistant", "content": a1},
                {"role": "user", "content": u2},
                {"role": "assistant", "content": a2},
            ],
        ]
        out = []
        for probe in probes:
            try:
                text = self._raw(probe, None, False, {})
            except Exception:
                continue
            for content in (a1, a2):
                at = text.find(content)
                if at < 0:
                    continue
                tail = text[at + len(content) :]
                m = self._marker_pattern.search(tail)
                if m is not None and not tail[: m.start()].strip():
                    out.append(m.group(0))
        return out

    # -- rendering ----------------------------------------------------------------------------
    def _raw(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        agp: bool,
        kwargs: dict[str, Any],
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
        except (
            jinja2.exceptions.TemplateError,
            TypeError,
            ValueError,
            KeyError,
            IndexError,
            AttributeError,
        ) as exc:
            # whatever the official template raises, apply_chat_template would raise too
            raise TemplateError(
                f"the chat template {self.name!r} rejects this conversation: {type(exc).__name__}: {exc}"
            ) from exc
        if _GENERATION_TAG.search(source):
            spans = self._spans_from_generation(conversation, gen)
        else:
            spans = self._spans_from_prefixes(conversation, messages, tools, text, kwargs)
        return Rendered(text, spans, add_generation_prompt)

    def _spans_from_generation(
        self, conversation: Conversation, gen: list[tuple[int, int]]
    ) -> tuple[Span, ...]:
        assistants = [i for i, m in enumerate(conversation.messages) if m.role == "assistant"]
        out = []
        for k, (s, e) in enumerate(gen):
            idx = assistants[k] if k < len(assistants) else assistants[-1] if assistants else 0
            weight = conversation.messages[idx].loss_weight if assistants else None
            out.append(Span(idx, "assistant", s, e, True, 1.0 if weight is None else weight))
        return tuple(out)

    def _try_raw(self, messages, tools, n: int, agp: bool, kwargs) -> str | None:
        try:
            return self._raw(messages[:n], tools, agp, kwargs)
        except Exception:  # a template may refuse a prefix (e.g. "must end with a user turn")
            return None

    @staticmethod
    def _common_prefix(a: str, b: str) -> int:
        n, limit = 0, min(len(a), len(b))
        while n < limit and a[n] == b[n]:
            n += 1
        return n

    def _assistant_start(
        self, messages, tools, i: int, kwargs, text: str, prev_end: int, content: str
    ) -> int | None:
        """Where assistant message ``i`` starts, in order of preference:

        1. after ``render(messages[:i], add_generation_prompt=True)`` when the text repeats it;
        2. after the longest part of that generation prompt the text repeats, when the text repeats the
           prompt-less prefix (e.g. a thinking-off block that only the final turn gets);
        3. at the assistant's content, searched after the previous message (templates that re-render
           earlier turns, e.g. Mistral-Nemo moves the system prompt to the last user turn).
        """
        if i == 0:
            return 0
        with_prompt = self._try_raw(messages, tools, i, True, kwargs)
        if with_prompt is not None and text.startswith(with_prompt):
            return len(with_prompt)
        before = self._try_raw(messages, tools, i, False, kwargs)
        if with_prompt is not None and before is not None and text.startswith(before):
            n = self._common_prefix(with_prompt, text)
            if n >= len(before):
                return n
        if content:
            at = text.find(content, prev_end)
            if at >= 0:
                return at
        return None

    def _spans_from_prefixes(self, conversation, messages, tools, text: str, kwargs) -> tuple[Span, ...]:
        spans: list[Span] = []
        prev_end = 0
        for i, msg in enumerate(conversation.messages):
            upto = self._try_raw(messages, tools, i + 1, False, kwargs)
            exact_end = len(upto) if upto is not None and text.startswith(upto) else None
            if msg.role != "assistant":
                end = exact_end if exact_end is not None and exact_end >= prev_end else prev_end
                spans.append(Span(i, msg.role, prev_end, end))
                prev_end = end
                continue
            content = msg.text.strip()
            start = self._assistant_start(messages, tools, i, kwargs, text, prev_end, content)
            if start is None:
                raise TemplateError(
                    f"template {self.name!r}: cannot derive labels for messages[{i}] (assistant): the text before "
                    "it is not a prefix of the full rendering and its content cannot be located. Use a template "
                    "with {% generation %} markers, or a declarative template for this model."
                )
            if exact_end is not None and exact_end > start:
                end = exact_end
            else:
                # the text re-renders this turn once more follows: end at the first end-of-turn marker after
                # the content, or where this turn's own rendering stops agreeing with the text if earlier
                at = text.find(content, start) if content else -1
                content_end = at + len(content) if at >= 0 else start
                candidates = [self._find_end_of_turn(text, content_end)]
                if upto is not None:
                    agree = self._common_prefix(upto, text)
                    if agree > content_end:
                        candidates.append(agree)
                found = [c for c in candidates if c is not None]
                if not found:
                    raise TemplateError(
                        f"template {self.name!r}: cannot find the end of assistant messages[{i}] (no end-of-turn "
                        f"marker among {list(self.stop_strings)} after position {content_end})"
                    )
                end = min(found)
            end = self._trim_after_marker(text, start, end)
            weight = 1.0 if msg.loss_weight is None else msg.loss_weight
            if start > prev_end:
                spans.append(Span(i, "assistant_header", prev_end, start))
            spans.append(Span(i, "assistant", start, end, True, weight))
            prev_end = exact_end if exact_end is not None and exact_end >= end else end
        return tuple(spans)

    def _find_end_of_turn(self, text: str, start: int) -> int | None:
        found = [(h, s) for s in self.stop_strings if (h := text.find(s, start)) >= 0]
        if not found:
            # last resort: the next control token ends the turn (GLM ends a tool call with <|observation|>)
            m = self._marker_pattern.search(text, start)
            return m.end() if m is not None else None
        h, s = min(found)
        return h + len(s)

    def _trim_after_marker(self, text: str, start: int, end: int) -> int:
        chunk = text[start:end]
        stripped = chunk.rstrip()
        if stripped != chunk and any(stripped.endswith(s) for s in self.stop_strings):
            return start + len(stripped)
        return end
