"""Tool snippets: Jinja macros inside declarative templates, identical in render() and the export."""

from __future__ import annotations

import pytest

from tunesmith.templates.base import TemplateError
from tunesmith.templates.conformance import battery, run_battery
from tunesmith.templates.declarative import DeclarativeTemplate, ToolSnippets
from tunesmith.templates.messages import Conversation
from tunesmith.testing.tokenizer import build_tokenizer

# A toy format with state carried across messages: tool results are numbered through the conversation,
# the assistant header changes after tool results, and there is no generation prompt after them.
SNIPPETS = ToolSnippets(
    definitions="{%- for t in tools %}{{- '\\n- ' + t.function.name }}{%- endfor %}",
    header="{{- '<|assistant|>' if i == 0 or body[i - 1].role != 'tool' else '<|resume|>' }}",
    calls="{{- content }}{%- for c in m.tool_calls %}{{- '<call>' + c.function.name + ':' + c.function.arguments|tojson + '</call>' }}{%- endfor %}",
    tool="{%- set state.n = state.n + 1 %}{{- '<result ' + state.n|string + '>' + m.content + '</result>' }}",
    generation="{{- '' if body and body[-1].role == 'tool' else '<|assistant|>' }}",
    state={"n": 0},
)
TOY = DeclarativeTemplate(
    name="toy",
    prefix="{bos_token}",
    system="<|system|>{content}<|end|>",
    user="<|user|>{content}<|end|>",
    assistant="{content}<|end|>",
    generation_prompt="<|assistant|>",
    tools_system="{system}Tools:{tools}",
    tool_format="hermes",
    snippets=SNIPPETS,
)
SPECIALS = ["<|system|>", "<|user|>", "<|assistant|>", "<|resume|>", "<|end|>"]


def _tok(template: DeclarativeTemplate):
    return build_tokenizer(
        special_tokens=SPECIALS, bos_token="<s>", eos_token="</s>", chat_template=template.to_jinja()
    )


def test_snippets_render_like_their_export_over_the_battery() -> None:
    tok = _tok(TOY)
    results = run_battery(TOY.bind(tok.special_tokens_map), tok, shapes=battery(SPECIALS))
    assert all(r.ok for r in results), [r for r in results if not r.ok]


def test_snippet_state_is_shared_across_one_render_and_fresh_for_the_next() -> None:
    tok = _tok(TOY)
    bound = TOY.bind(tok.special_tokens_map)
    shape = next(s for s in battery() if s.name == "parallel_tools")
    first = bound.render(shape.conversation()).text
    assert "<result 1>" in first and "<result 2>" in first and "<|resume|>" in first
    assert bound.render(shape.conversation()).text == first  # state starts again at 0
    assert bound.render(shape.conversation(), add_generation_prompt=True).text == first + "<|assistant|>"


def test_snippet_errors_are_template_errors_naming_the_template() -> None:
    raising = DeclarativeTemplate(
        name="strict",
        tool_format="hermes",
        tools_system="{tools}",
        snippets=ToolSnippets(tool="{{- raise_exception('tool results need an id') }}"),
    )
    conv = Conversation.from_openai([{"role": "user", "content": "x"}, {"role": "tool", "content": "y"}])
    with pytest.raises(TemplateError, match="strict.*tool results need an id"):
        raising.render(conv)


def test_snippets_using_special_tokens_need_a_bound_tokenizer() -> None:
    uses_eos = DeclarativeTemplate(
        name="eosy",
        tool_format="hermes",
        tools_system="{tools}",
        snippets=ToolSnippets(tool="{{- eos_token }}"),
    )
    conv = Conversation.from_openai([{"role": "user", "content": "x"}, {"role": "tool", "content": "y"}])
    with pytest.raises(TemplateError, match="eos_token"):
        uses_eos.render(conv)
    assert uses_eos.bind({"eos_token": "</s>"}).render(conv).text.endswith("</s>")
