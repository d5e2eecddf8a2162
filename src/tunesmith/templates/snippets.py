"""Jinja snippets: the parts of a family's tool rendering that a few strings cannot say.

Some official templates write tool definitions, tool calls and tool results in ways that are small
programs (Hermes' python-style signatures, DeepSeek V3's output runs, Mistral's call ids). A declarative
template states those parts as Jinja macro bodies. The same source is used twice: :meth:`render`
calls the compiled macros (in the transformers-identical environment of
:mod:`tunesmith.templates.jinja_env`), and the Jinja export pastes the macros verbatim — so the two
paths agree by construction, and everything else stays declarative (spans, labels, checks).

Each macro receives what the official template would see:

``definitions(tools)``
    The text that fills ``{tools}`` (in ``tools_system``, ``tools_in_first_user`` or a tools block placed
    by ``tools_placement``).
``header(m, i, body, tools, state)``
    The (masked) assistant header for ``body[i]``; replaces the fixed one.
``calls(m, content, i, body, tools, state)``
    The trained assistant text of a message with tool calls (``content`` is its text after reasoning
    handling); replaces the tool format's calls.
``tool(m, i, body, tools, state)``
    The whole (masked) text of the tool message ``body[i]``; replaces ``tool`` and ``tool_group``.

``generation(body, tools, state)``
    The generation prompt (replaces ``generation_prompt``; DeepSeek V3 writes none after tool results).
``end(m, i, body, tools, state)``
    The trained end-of-turn text of the assistant message ``body[i]`` (replaces the fixed one).
``suffix(body, tools, state)``
    The text after the last message without a generation prompt (replaces ``suffix``).

``m`` is the message as transformers passes it (OpenAI dict, ``None`` values dropped), ``body`` the
messages after the leading system message, ``state`` a namespace shared by all calls of one render
(initialised from :attr:`ToolSnippets.state`) for templates that carry flags across messages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2

from tunesmith.templates.base import TemplateError
from tunesmith.templates.jinja_env import compile_template

__all__ = ["SIGNATURES", "SnippetRunner", "ToolSnippets"]

SIGNATURES: Mapping[str, str] = {
    "definitions": "tools",
    "header": "m, i, body, tools, state",
    "calls": "m, content, i, body, tools, state",
    "tool": "m, i, body, tools, state",
    "generation": "body, tools, state",
    "end": "m, i, body, tools, state",
    "suffix": "body, tools, state",
}


@dataclass(frozen=True)
class ToolSnippets:
    """Jinja macro bodies for the tool parts of a template (see the module docstring)."""

    definitions: str | None = None
    header: str | None = None
    calls: str | None = None
    tool: str | None = None
    generation: str | None = None
    end: str | None = None
    """The trained end of the assistant message ``body[i]`` (replaces the fixed end-of-turn marker;
    Command R7B closes a tool-call message without ``<|END_RESPONSE|>``)."""
    suffix: str | None = None
    """Text after the last message when no generation prompt is added (replaces ``suffix``)."""
    helpers: str = ""
    """Extra macros the bodies call (Hermes' ``json_to_python_type``), pasted before them."""
    state: Mapping[str, Any] = field(default_factory=dict)
    """Initial values of the shared ``state`` namespace."""

    def has(self, name: str) -> bool:
        return getattr(self, name) is not None

    def source(self) -> str:
        """The macros as Jinja source (``ts_<name>``), for the export and the renderer alike."""
        parts = [self.helpers] if self.helpers else []
        for name, args in SIGNATURES.items():
            body = getattr(self, name)
            if body is not None:
                parts.append(f"{{%- macro ts_{name}({args}) %}}{body}{{%- endmacro %}}")
        return "\n".join(parts)

    def state_literal(self) -> str:
        """``namespace(...)`` initialiser for the export."""
        import json

        items = ", ".join(f"{k}={json.dumps(v)}" for k, v in self.state.items())
        return f"namespace({items})"


class SnippetRunner:
    """The compiled macros of one template render, with their shared state."""

    def __init__(
        self,
        snippets: ToolSnippets,
        template_name: str,
        tokens: Mapping[str, str],
        body: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None,
    ) -> None:
        self._name = template_name
        for key in ("bos_token", "eos_token"):
            if key in snippets.source() and key not in tokens:
                raise TemplateError(
                    f"template {template_name!r} uses {key} but no {key} is known; bind it to a tokenizer "
                    "(template.bind(tokenizer.special_tokens_map))"
                )
        self._snippets = snippets
        self._module = _compiled(snippets).make_module(dict(tokens))
        self.body = list(body)
        self.tools = list(tools) if tools is not None else None
        env = _compiled(snippets).environment
        self.state = env.globals["namespace"](**dict(snippets.state))

    def _call(self, name: str, *args: Any) -> str:
        macro = getattr(self._module, f"ts_{name}")
        try:
            return str(macro(*args))
        except jinja2.exceptions.TemplateError as exc:
            raise TemplateError(f"template {self._name!r}: {exc}") from None
        except (TypeError, KeyError, AttributeError) as exc:  # what the official template fails on
            raise TemplateError(f"template {self._name!r} cannot render this input: {exc}") from None

    def has(self, name: str) -> bool:
        return self._snippets.has(name)

    def definitions(self) -> str:
        return self._call("definitions", self.tools or [])

    def header(self, i: int) -> str:
        return self._call("header", self.body[i], i, self.body, self.tools, self.state)

    def calls(self, i: int, content: str) -> str:
        return self._call("calls", self.body[i], content, i, self.body, self.tools, self.state)

    def generation(self) -> str:
        return self._call("generation", self.body, self.tools, self.state)

    def end(self, i: int) -> str:
        return self._call("end", self.body[i], i, self.body, self.tools, self.state)

    def suffix(self) -> str:
        return self._call("suffix", self.body, self.tools, self.state)

    def tool(self, i: int) -> str:
        return self._call("tool", self.body[i], i, self.body, self.tools, self.state)


def _compiled(snippets: ToolSnippets) -> jinja2.Template:
    return compile_template(snippets.source())
