"""Llama 4, Granite 3.0 and Command R7B declarative templates against their official templates beyond the
battery: several tool rounds, conversations ending in tool results, text next to tool calls — rendered by
the template, by its Jinja export and by the official template (same text everywhere)."""

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


def _a(text: str, *calls: dict[str, Any]) -> dict[str, Any]:
    m: dict[str, Any] = {"role": "assistant", "content": text}
    if calls:
        m["tool_calls"] = list(calls)
    return m


def _t(text: str, cid: str = "call_1") -> dict[str, Any]:
    return {"role": "tool", "content": text, "tool_call_id": cid}


W = _call("get_weather", {"city": "Paris"})
T = _call("get_time", {"city": "Paris"}, "call_2")

TOOL_CASES: dict[str, tuple[list[dict[str, Any]], bool]] = {
    "two_rounds": (
        [
            _u("q1"),
            _a("", W),
            _t("r1"),
            _a("a1"),
            _u("q2"),
            _a("", W, T),
            _t("r2"),
            _t("r3", "call_2"),
            _a("a2"),
        ],
        False,
    ),
    "ends_in_tool": ([_u("q"), _a("", W), _t("r")], False),
    "ends_in_tool+prompt": ([_u("q"), _a("", W), _t("r")], True),
    "calls_with_content": ([_u("q"), _a("Let me look.", W), _t("r"), _a("done")], False),
    "no_calls+prompt": ([_u("q")], True),
}
SYSTEM_AND_TOOLS = (
    [{"role": "system", "content": "Be brief."}, _u("q"), _a("", W), _t("r"), _a("ok")],
    True,
)
PLAIN_CASES: dict[str, tuple[list[dict[str, Any]], bool]] = {
    "plain": ([{"role": "system", "content": "Be brief."}, _u("q"), _a("a"), _u("q2")], True),
}

PAIRS = [
    ("llama4", "llama-4-scout-17b-16e-instruct", {**TOOL_CASES, **PLAIN_CASES}),
    (
        "granite3",
        "granite-3_0-2b-instruct",
        {**TOOL_CASES, **PLAIN_CASES, "system_and_tools": SYSTEM_AND_TOOLS},
    ),
    (
        "cohere2",
        "c4ai-command-r7b-12-2024",
        {**TOOL_CASES, **PLAIN_CASES, "system_and_tools": SYSTEM_AND_TOOLS},
    ),
]
PARAMS = [(name, stem, case, *cases[case]) for name, stem, cases in PAIRS for case in cases]


@pytest.fixture(scope="module")
def catalog():
    return build_catalog(entry_points=False)


def _official(stem: str, messages, tools, agp: bool) -> tuple[str, dict[str, str]]:
    spec = json.loads(shared_path("chat_templates", f"{stem}.json").read_text())
    special = {k: spec[k] for k in ("bos_token", "eos_token") if isinstance(spec.get(k), str)}
    source = spec["chat_template"]
    if isinstance(source, dict):
        source = source["tool_use" if tools else "default"]
    text, _ = render_template(
        source, messages, tools=tools, add_generation_prompt=agp, special_tokens=special
    )
    return text, special


@pytest.mark.parametrize(
    "name,stem,case,messages,agp", PARAMS, ids=[f"{n}-vs-{s}-{c}" for n, s, c, _, _ in PARAMS]
)
def test_matches_official_and_export(catalog, name: str, stem: str, case: str, messages, agp: bool) -> None:
    tools = TOOLS if case not in PLAIN_CASES else None
    official, special = _official(stem, messages, tools, agp)
    template = catalog.template(name).bind(special)
    ours = template.render(Conversation.from_openai(messages, tools), add_generation_prompt=agp).text
    assert ours == official
    exported, _ = render_template(
        template.to_jinja(), messages, tools=tools, add_generation_prompt=agp, special_tokens=special
    )
    assert exported == official


def test_llama4_trains_the_python_markers_and_calls(catalog) -> None:
    template = catalog.template("llama4").bind({"bos_token": "<|begin_of_text|>"})
    messages, _ = TOOL_CASES["two_rounds"]
    rendered = template.render(Conversation.from_openai(messages, TOOLS))
    trained = [rendered.text[s.start : s.end] for s in rendered.trainable_spans()]
    assert (
        trained[0]
        == '<|python_start|><|python_end|>{"name": "get_weather", "parameters": {"city": "Paris"}}<|eot|>'
    )
    assert trained[2].count('{"name": ') == 2  # parallel calls are concatenated
    assert template.tool_format == "llama4"


def test_granite3_drops_tool_calls_and_results_and_says_so(catalog) -> None:
    """As the official Granite 3.0 template: calls and tool messages are not written (data loss)."""
    template = catalog.template("granite3")
    assert "data loss" in template.notes
    messages, _ = TOOL_CASES["two_rounds"]
    rendered = template.render(Conversation.from_openai(messages, TOOLS))
    assert rendered.text.startswith("<|start_of_role|>available_tools<|end_of_role|>\n{")
    assert "r1" not in rendered.text.split("<|end_of_text|>", 1)[1]
    assert '"city": "Paris"' not in rendered.text
    trained = [rendered.text[s.start : s.end] for s in rendered.trainable_spans()]
    assert trained[0] == "<|end_of_text|>"  # the tool-call turn trains on its (empty) text only
    assert template.tool_format == "granite"


def test_cohere2_tool_calls_are_trained_from_the_plan_marker(catalog) -> None:
    template = catalog.template("cohere2").bind({"bos_token": "<BOS_TOKEN>"})
    assert template.tool_format == "command_r7b"
    messages, _ = TOOL_CASES["two_rounds"]
    rendered = template.render(Conversation.from_openai(messages, TOOLS))
    trained = [rendered.text[s.start : s.end] for s in rendered.trainable_spans()]
    assert trained[0].startswith("<|START_THINKING|><|END_THINKING|><|START_ACTION|>[")
    assert trained[0].endswith("]<|END_ACTION|><|END_OF_TURN_TOKEN|>")
    assert '"tool_call_id": "2"' in trained[2]  # numbered across the conversation
    assert rendered.text.endswith("<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>")
    # without tools a tool-call message keeps only its text, as the official default template
    rendered = template.render(Conversation.from_openai([_u("q"), _a("Let me look.", W)]))
    assert rendered.text.endswith("<|START_RESPONSE|>Let me look.<|END_RESPONSE|><|END_OF_TURN_TOKEN|>")
