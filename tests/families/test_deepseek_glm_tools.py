"""DeepSeek and GLM declarative templates against their official templates beyond the battery: several
tool rounds, conversations ending in tool results, reasoning next to tool calls, non-string arguments —
rendered by the template, by its Jinja export and by the official template (same text everywhere)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import shared_path
from tunesmith.families import build_catalog
from tunesmith.templates.conformance import TIME_TOOL, WEATHER_TOOL
from tunesmith.templates.jinja_env import render_template
from tunesmith.templates.messages import Conversation

TOOLS = [WEATHER_TOOL, TIME_TOOL]


def _call(name: str, args: dict[str, Any], cid: str = "call_1") -> dict[str, Any]:
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}


def _u(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def _a(text: str, *calls: dict[str, Any], reasoning: str | None = None) -> dict[str, Any]:
    m: dict[str, Any] = {"role": "assistant", "content": text}
    if calls:
        m["tool_calls"] = list(calls)
    if reasoning is not None:
        m["reasoning_content"] = reasoning
    return m


def _t(text: str) -> dict[str, Any]:
    return {"role": "tool", "content": text, "tool_call_id": "call_1"}


W = _call("get_weather", {"city": "Paris"})
T = _call("get_time", {"city": "Paris"}, "call_2")

CASES: dict[str, tuple[list[dict[str, Any]], bool]] = {
    "two_rounds": (
        [_u("q1"), _a("", W), _t("r1"), _a("a1"), _u("q2"), _a("", W, T), _t("r2"), _t("r3"), _a("a2")],
        False,
    ),
    "ends_in_tool": ([_u("q"), _a("", W), _t("r")], False),
    "ends_in_tool+prompt": ([_u("q"), _a("", W), _t("r")], True),
    "calls_with_content": ([_u("q"), _a("Let me look.", W), _t("r"), _a("done")], False),
    "system_and_tools": (
        [{"role": "system", "content": "Be brief."}, _u("q"), _a("", W), _t("r"), _a("ok")],
        True,
    ),
    "think_in_content": ([_u("q"), _a("<think>hm</think>yes"), _u("q2"), _a("<think>x</think>no")], False),
}
GLM45_CASES: dict[str, tuple[list[dict[str, Any]], bool]] = {
    "reasoning_and_calls": (
        [_u("q"), _a("", W, reasoning="look it up"), _t("r"), _a("warm", reasoning="read it")],
        False,
    ),
    "history_calls_with_content": (
        [_u("q"), _a("Checking.", W, reasoning="r0"), _t("r"), _a("ok"), _u("q2"), _a("fine")],
        True,
    ),
    "typed_arguments": (
        [_u("q"), _a("", _call("f", {"n": 3, "xs": [1, "二"], "ok": True, "s": "3"})), _t("r")],
        True,
    ),
    "think_split_history": (
        [_u("q"), _a("<think>\nhm\n</think>\n\nyes"), _u("q2"), _a("<think>x</think>\nno")],
        False,
    ),
    "inner_system": ([_u("q"), {"role": "system", "content": "be nice"}, _a("hi")], False),
}
GLM4_CASES: dict[str, tuple[list[dict[str, Any]], bool]] = {
    "inner_system": ([_u("q"), {"role": "system", "content": "be nice"}, _a("hi")], False),
    "empty_assistant": ([_u("q"), _a(""), _u("q2"), _a("hi")], True),
}

PAIRS = [
    ("deepseek3", "deepseek-v3", CASES),
    (
        "deepseek3",
        "deepseek-r1-distill-llama-8b",
        {k: v for k, v in CASES.items() if k != "think_in_content"},
    ),
    ("deepseek_r1", "deepseek-r1-distill-llama-8b", CASES),
    ("glm4", "glm-4-9b-chat", {**CASES, **GLM4_CASES}),
    ("glm4_moe", "glm-4_6", {**CASES, **GLM45_CASES}),
]
PARAMS = [(name, stem, case, *cases[case]) for name, stem, cases in PAIRS for case in cases]


@pytest.fixture(scope="module")
def catalog():
    return build_catalog(entry_points=False)


@pytest.mark.parametrize(
    "name,stem,case,messages,agp", PARAMS, ids=[f"{n}-vs-{s}-{c}" for n, s, c, _, _ in PARAMS]
)
def test_matches_official_and_export(catalog, name: str, stem: str, case: str, messages, agp: bool) -> None:
    spec = json.loads(shared_path("chat_templates", f"{stem}.json").read_text())
    special = {k: spec[k] for k in ("bos_token", "eos_token") if isinstance(spec.get(k), str)}
    tools = TOOLS if any(m.get("tool_calls") for m in messages) else None
    official, _ = render_template(
        spec["chat_template"], messages, tools=tools, add_generation_prompt=agp, special_tokens=special
    )
    template = catalog.template(name).bind(special)
    ours = template.render(Conversation.from_openai(messages, tools), add_generation_prompt=agp).text
    assert ours == official
    exported, _ = render_template(
        template.to_jinja(), messages, tools=tools, add_generation_prompt=agp, special_tokens=special
    )
    assert exported == official


def test_deepseek_tool_call_turns_train_on_an_empty_answer(catalog) -> None:
    """The official template writes no calls for string content: the turn is <｜Assistant｜><｜end▁of▁sentence｜>."""
    template = catalog.template("deepseek3").bind({"bos_token": "<s>"})
    messages, _ = CASES["two_rounds"]
    rendered = template.render(Conversation.from_openai(messages, TOOLS))
    trained = [rendered.text[s.start : s.end] for s in rendered.trainable_spans()]
    assert trained[0] == "<｜end▁of▁sentence｜>"
    assert "get_weather" not in rendered.text
    assert rendered.text.count("<｜tool▁outputs▁begin｜>") == 1


def test_glm45_reasoning_after_last_user_is_trained(catalog) -> None:
    template = catalog.template("glm4_moe")
    messages, _ = GLM45_CASES["reasoning_and_calls"]
    rendered = template.render(Conversation.from_openai(messages, TOOLS))
    trained = [rendered.text[s.start : s.end] for s in rendered.trainable_spans()]
    assert trained[0].startswith("\n<think>look it up</think>\n<tool_call>get_weather\n")
    assert trained[1] == "\n<think>read it</think>\nwarm"
