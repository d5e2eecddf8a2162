"""A Jinja environment identical to the one transformers renders chat templates in.

Same sandbox (ImmutableSandboxedEnvironment), ``trim_blocks`` and ``lstrip_blocks``, ``loopcontrols``,
the ``{% generation %}`` tag, ``tojson`` with ``ensure_ascii=False``, ``raise_exception``,
``strftime_now``, and the restricted ``dict``/``namespace`` globals; the input is normalised the same
way (``None`` values dropped, reasoning aliased under ``reasoning_content``/``thinking``). Kept in sync
with transformers' ``utils/chat_template_utils.py``; the conformance tests compare the two.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from typing import Any

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

_REASONING_FIELDS = ("reasoning_content", "thinking", "reasoning")


class _GenerationTracker(jinja2.ext.Extension):
    """``{% generation %}…{% endgeneration %}``: records the character ranges of assistant output."""

    tags = {"generation"}

    def __init__(self, environment: jinja2.Environment) -> None:
        super().__init__(environment)
        environment.extend(tunesmith_track=self.track)
        self._blocks: list[str] | None = None
        self._indices: list[tuple[int, int]] | None = None

    def parse(self, parser: jinja2.parser.Parser) -> jinja2.nodes.CallBlock:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_support"), [], [], body).set_lineno(lineno)

    @jinja2.pass_eval_context
    def _support(self, context: jinja2.nodes.EvalContext, caller: jinja2.runtime.Macro) -> str:
        rv = caller()
        if self._blocks is not None and self._indices is not None:
            start = len("".join(self._blocks))
            self._indices.append((start, start + len(rv)))
        return rv

    @contextmanager
    def track(self, blocks: list[str], indices: list[tuple[int, int]]):
        self._blocks, self._indices = blocks, indices
        try:
            yield
        finally:
            self._blocks, self._indices = None, None


def _raise_exception(message: str):
    raise jinja2.exceptions.TemplateError(message)


def _tojson(
    x: Any, ensure_ascii: bool = False, indent: Any = None, separators: Any = None, sort_keys: bool = False
):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


class _TemplateDict:
    def __call__(self, *args: Any, **kwargs: Any) -> dict:
        return dict(*args, **kwargs)

    def fromkeys(self, *args: Any, **kwargs: Any) -> dict:
        return dict.fromkeys(*args, **kwargs)


class _TemplateNamespace(jinja2.utils.Namespace):
    def __init__(*args: Any, **kwargs: Any) -> None:  # noqa: N805 - same trick as jinja2.utils.Namespace
        self, args = args[0], args[1:]
        attrs = dict(*args, **kwargs)
        for name in attrs:
            _TemplateNamespace._check_name(name)
        jinja2.utils.Namespace.__init__(self, attrs)

    def __setitem__(self, name: str, value: Any) -> None:
        _TemplateNamespace._check_name(name)
        jinja2.utils.Namespace.__setitem__(self, name, value)

    @staticmethod
    def _check_name(name: Any) -> None:
        if isinstance(name, str) and name.startswith("_"):
            raise jinja2.exceptions.SecurityError(
                f"Chat templates cannot store underscore-prefixed attributes on a namespace, but got {name!r}."
            )


@lru_cache(maxsize=256)
def compile_template(source: str) -> jinja2.Template:
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[_GenerationTracker, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    env.globals["dict"] = _TemplateDict()
    env.globals["namespace"] = _TemplateNamespace
    return env.from_string(source)


def normalise_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """What transformers does before rendering: drop None values, alias reasoning fields."""
    out = []
    for m in messages:
        msg = {k: v for k, v in m.items() if v is not None}
        reasoning = next((msg[k] for k in _REASONING_FIELDS if msg.get(k) is not None), None)
        if reasoning is not None:
            msg = {"thinking": reasoning, **msg, "reasoning_content": reasoning}
        out.append(msg)
    return out


def render_template(
    source: str,
    messages: Sequence[Mapping[str, Any]],
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
    add_generation_prompt: bool = False,
    special_tokens: Mapping[str, str] | None = None,
    track_generation: bool = False,
    **kwargs: Any,
) -> tuple[str, list[tuple[int, int]]]:
    """Render like ``tokenizer.apply_chat_template(tokenize=False)``; also return ``{% generation %}`` ranges."""
    template = compile_template(source)
    context = {**(special_tokens or {}), **kwargs}
    msgs = normalise_messages(messages)
    tool_list = [dict(t) for t in tools] if tools is not None else None
    if not track_generation:
        text = template.render(
            messages=msgs,
            tools=tool_list,
            documents=None,
            add_generation_prompt=add_generation_prompt,
            **context,
        )
        return text, []
    blocks: list[str] = []
    indices: list[tuple[int, int]] = []
    with template.environment.tunesmith_track(blocks, indices):  # type: ignore[attr-defined]
        for block in template.generate(
            messages=msgs,
            tools=tool_list,
            documents=None,
            add_generation_prompt=add_generation_prompt,
            **context,
        ):
            blocks.append(block)
    return "".join(blocks), indices
