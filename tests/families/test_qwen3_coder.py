"""qwen3_coder: the declarative template against Qwen3-Coder-30B-A3B-Instruct's official template — the
conformance battery, and the tool shapes the battery does not cover — its Jinja export, and its tool calls
read back with the ``qwen3_coder`` tool format."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import shared_path
from tunesmith.families import build_catalog
from tunesmith.templates.conformance import TIME_TOOL, WEATHER_TOOL, Shape, battery, run_battery
from tunesmith.templates.declarative import DeclarativeTemplate
from tunesmith.templates.jinja_env import render_template
from tunesmith.templates.messages import Conversation
from tunesmith.templates.tools import get_tool_format

STEM = "qwen3-coder-30b-a3b-instruct"


@pytest.fixture(scope="module")
def tok() -> Any:
    from tunesmith.testing.template_tokenizers import tokenizer_from_template_spec

    return tokenizer_from_template_spec(json.loads(shared_path("chat_templates", f"{STEM}.json").read_text()))


@pytest.fixture(scope="module")
def template(tok: Any) -> DeclarativeTemplate:
    return build_catalog(entry_points=False).template("qwen3_coder").bind(tok.special_tokens_map)


def _call(name: str, args: dict[str, Any], cid: str) -> dict[str, Any]:
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}


def _specials(tok: Any) -> list[str]:
    return [t for t in tok.all_special_tokens if t not in (tok.bos_token, tok.pad_token)]


CALL = _call("get_weather", {"city": "Paris", "days": 3, "opts": {"deep": [True, None]}, "r": 2.5}, "c1")
TOOL_SHAPES_WITH_SYSTEM = [
    Shape(
        "system+tools",
        (
            {"role": "system", "content": "You are a coder."},
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": "", "tool_calls": [CALL]},
            {"role": "tool", "content": "sunny", "tool_call_id": "c1"},
            {"role": "assistant", "content": "Sunny."},
        ),
        tools=(WEATHER_TOOL, TIME_TOOL),
    ),
    Shape(
        "empty_system+tools+prompt",
        (
            {"role": "system", "content": ""},
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": "  Let me look.\n", "tool_calls": [CALL, CALL]},
            {"role": "tool", "content": "sunny", "tool_call_id": "c1"},
            {"role": "tool", "content": "rainy", "tool_call_id": "c1"},
            {"role": "user", "content": "And now?"},
        ),
        tools=(WEATHER_TOOL,),
        add_generation_prompt=True,
    ),
    Shape(
        "inner_system_no_tools",
        (
            {"role": "user", "content": "Hi"},
            {"role": "system", "content": "Be brief."},
            {"role": "assistant", "content": "<think>x</think>Hello."},
        ),
    ),
]
TOOL_SHAPES_NO_SYSTEM = [
    Shape(
        "tools+prompt",
        ({"role": "user", "content": "Weather in Paris?"},),
        tools=(WEATHER_TOOL,),
        add_generation_prompt=True,
    ),
]


def _assert_passes(template: DeclarativeTemplate, tok: Any, shapes: list[Shape]) -> None:
    failures = [f"{r.shape}: {r.detail}" for r in run_battery(template, tok, shapes=shapes) if not r.ok]
    assert not failures, "\n".join(failures)


def test_battery_matches_official(template: DeclarativeTemplate, tok: Any) -> None:
    _assert_passes(template, tok, battery(_specials(tok)))


def test_battery_without_tool_definitions_matches_official(template: DeclarativeTemplate, tok: Any) -> None:
    _assert_passes(template, tok, [s for s in battery(_specials(tok)) if s.tools is None])


def test_tool_shapes_with_a_system_message_match_official(template: DeclarativeTemplate, tok: Any) -> None:
    _assert_passes(template, tok, TOOL_SHAPES_WITH_SYSTEM)


def test_tools_without_system_get_the_default_system_prompt(template: DeclarativeTemplate, tok: Any) -> None:
    _assert_passes(template, tok, TOOL_SHAPES_NO_SYSTEM)


def test_jinja_export_matches_official(template: DeclarativeTemplate, tok: Any) -> None:
    official = json.loads(shared_path("chat_templates", f"{STEM}.json").read_text())["chat_template"]
    exported = template.to_jinja()
    for shape in TOOL_SHAPES_WITH_SYSTEM + [s for s in battery(_specials(tok)) if s.tools is None]:
        messages = [dict(m) for m in shape.messages]
        tools = [dict(t) for t in shape.tools] if shape.tools else None
        want = render_template(
            official, messages, tools=tools, add_generation_prompt=shape.add_generation_prompt
        )
        got = render_template(
            exported, messages, tools=tools, add_generation_prompt=shape.add_generation_prompt
        )
        assert got[0] == want[0], shape.name


def test_rendered_calls_parse_back(template: DeclarativeTemplate) -> None:
    shape = TOOL_SHAPES_WITH_SYSTEM[1]
    conversation = Conversation.from_openai(
        [dict(m) for m in shape.messages], [dict(t) for t in shape.tools or ()]
    )
    rendered = template.render(conversation, add_generation_prompt=True)
    span = next(s for s in rendered.trainable_spans() if s.index == 2)
    text = rendered.text[span.start : span.end].removesuffix("<|im_end|>")
    parsed = get_tool_format("qwen3_coder").parse_calls(text, tools=[WEATHER_TOOL])
    assert parsed.errors == () and parsed.content == "Let me look."
    args = CALL["function"]["arguments"]
    assert [(c.name, dict(c.arguments)) for c in parsed.calls] == [("get_weather", args)] * 2


def test_qwen3_coder_groups_use_the_template() -> None:
    catalog = build_catalog(entry_points=False)
    for name in ("Qwen3-Coder-30B-A3B-Instruct", "Qwen3-Coder-480B-A35B-Instruct"):
        group, family = catalog.groups.get(name)
        assert (group.template, family) == ("qwen3_coder", "qwen")
    assert catalog.families.get("qwen").references["qwen3_coder"] == STEM
