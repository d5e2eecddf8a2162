"""Tool formats ``granite``, ``command_r`` and ``command_r7b``: round trips, byte conformance with the
official chat templates, and malformed output (reported, never raised)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import shared_path
from tunesmith.templates.jinja_env import render_template
from tunesmith.templates.messages import Message, ToolCall
from tunesmith.templates.tools import ParsedToolCalls, ToolFormatError, get_tool_format

NAMES = ("granite", "command_r", "command_r7b")
CALLS = (
    ToolCall(
        "get_weather",
        {
            "城市": "北京",
            "days": 3,
            "ratio": 2.5,
            "opts": {"unit": "c", "hours": [1, 2], "deep": {"ok": True}},
        },
        "abc123XYZ",
    ),
    ToolCall("search", {"q": 'x "y" \\ z', "limit": -1, "none": None}, "def456uvw"),
    ToolCall("ping", {}, "ghi789rst"),
)
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the weather",
            "parameters": {
                "type": "object",
                "properties": {
                    "城市": {"type": "string", "description": "City"},
                    "days": {"type": "integer", "description": "Days"},
                    "hours": {"type": "array", "items": {"type": "integer"}, "description": "Hours"},
                    "extra": {
                        "type": "object",
                        "additionalProperties": {"type": "number"},
                        "description": "Extra",
                    },
                    "either": {"type": ["string", "number"], "description": "Either"},
                },
                "required": ["城市"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search the web",
            "parameters": {
                "type": "object",
                "properties": {"q": {"type": "string", "description": "query"}},
                "required": ["q"],
            },
        },
    },
]
MALFORMED: dict[str, list[str]] = {
    "granite": [
        '<|tool_call|>[{"name": "get_weather", "arguments": {"城市": "北',
        '<|tool_call|>[{"name": "get_weather", "arguments": ["a"]}]',
        '<|tool_call|>[{"arguments": {}}]',
    ],
    "command_r": [
        'Action:\n```json\n[\n    {\n        "tool_name": "get_weather",\n        "parameters": {"城市": "北',
        'Action:\n```json\n[{"tool_name": "get_weather", "parameters": [1]}]```',
        'Action: ```json\n[{"tool_name": null, "parameters": {}}]\n```',
    ],
    "command_r7b": [
        '<|START_ACTION|>[\n    {"tool_call_id": "0", "tool_name": "get_weather", "parameters": {"城市": "北',
        '<|START_ACTION|>[{"tool_call_id": "0", "tool_name": "get_weather", "parameters": 3}]<|END_ACTION|>',
        "<|START_ACTION|>not json<|END_ACTION|>",
    ],
}


def _same_calls(got, want) -> None:
    assert [(c.name, dict(c.arguments)) for c in got] == [(c.name, dict(c.arguments)) for c in want]


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("name", NAMES)
def test_round_trip(name: str, n: int) -> None:
    fmt = get_tool_format(name)
    assert fmt.name == name
    parsed = fmt.parse_calls(fmt.format_calls(CALLS[:n]))
    assert parsed.errors == () and parsed.content == ""
    _same_calls(parsed.calls, CALLS[:n])


@pytest.mark.parametrize("name", NAMES)
def test_round_trip_keeps_surrounding_text(name: str) -> None:
    fmt = get_tool_format(name)
    parsed = fmt.parse_calls("Let me check.\n" + fmt.format_calls(CALLS))
    assert parsed.errors == () and parsed.content == "Let me check."
    _same_calls(parsed.calls, CALLS)


@pytest.mark.parametrize("name", NAMES)
def test_plain_text_has_no_calls(name: str) -> None:
    fmt = get_tool_format(name)
    assert fmt.format_calls([]) == ""
    for text in ("The weather in 北京 is sunny, 25 °C. {not a call}", "Action: none needed. [1, 2]"):
        if name == "command_r" and text.startswith("Action"):
            continue
        assert fmt.parse_calls(text) == ParsedToolCalls(text, (), ())
    assert fmt.parse_calls("Action: none needed.") == ParsedToolCalls("Action: none needed.", (), ())


@pytest.mark.parametrize(("name", "bad"), [(n, b) for n in NAMES for b in MALFORMED[n]])
def test_malformed_output_is_reported_not_raised(name: str, bad: str) -> None:
    parsed = get_tool_format(name).parse_calls("Let me check. " + bad)
    assert parsed.errors and not parsed.ok and parsed.calls == ()
    assert parsed.content == ("Let me check. " + bad).strip()


@pytest.mark.parametrize("name", NAMES)
def test_good_call_survives_next_to_a_bad_one(name: str) -> None:
    fmt = get_tool_format(name)
    parsed = fmt.parse_calls(fmt.format_calls(CALLS[:1]) + "\n" + MALFORMED[name][0])
    assert len(parsed.errors) == 1
    _same_calls(parsed.calls, CALLS[:1])
    assert MALFORMED[name][0] in parsed.content


def test_granite_reads_what_granite_models_write() -> None:
    fmt = get_tool_format("granite")
    text = '<|tool_call|>[{"name": "get_weather", "arguments": {"城市": "北京"}}]'
    assert text == fmt.format_calls([ToolCall("get_weather", {"城市": "北京"})])
    for variant in (
        text,
        text.replace("<|tool_call|>", "<tool_call>"),
        '<|tool_call|>{"name": "f", "parameters": {}}',
    ):
        parsed = fmt.parse_calls(variant)
        assert parsed.ok and len(parsed.calls) == 1


def test_command_r7b_plan_is_content() -> None:
    fmt = get_tool_format("command_r7b")
    text = "<|START_THINKING|>I will look it up.<|END_THINKING|>" + fmt.format_calls(CALLS[:2])
    parsed = fmt.parse_calls(text)
    assert parsed.ok and parsed.content == "I will look it up."
    _same_calls(parsed.calls, CALLS[:2])


def test_command_r_definitions_refuse_what_the_template_cannot_render() -> None:
    fmt = get_tool_format("command_r")
    bare = {
        "type": "function",
        "function": {"name": "f", "parameters": {"properties": {"x": {"type": "string"}}}},
    }
    with pytest.raises(ToolFormatError, match="description"):
        fmt.format_definitions([bare])
    looping = json.loads(json.dumps(TOOLS[1]))
    looping["function"]["parameters"]["properties"]["q"]["type"] = "null"
    with pytest.raises(ToolFormatError, match="recurse"):
        fmt.format_definitions([looping])
    looping["function"]["parameters"]["properties"]["q"] = {"type": "object", "description": "d"}
    with pytest.raises(ToolFormatError, match="additionalProperties"):
        fmt.format_definitions([looping])


# ------------------------------------------------------------------------------ official-template checks


def _official(stem: str, calls: tuple[ToolCall, ...], content: str) -> str:
    data = json.loads(shared_path("chat_templates", f"{stem}.json").read_text(encoding="utf-8"))
    source = data["chat_template"]
    source = source["tool_use"] if isinstance(source, dict) else source
    special = {k: data.get(k) or "" for k in ("bos_token", "eos_token")}
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Weather in 北京?"},
        {"role": "assistant", "content": content, "tool_calls": [c.to_dict() for c in calls]},
    ]
    messages += [
        {"role": "tool", "tool_call_id": c.id, "content": f'{{"result": {i}}}'} for i, c in enumerate(calls)
    ]
    messages.append({"role": "assistant", "content": "Sunny."})
    return render_template(source, messages, tools=TOOLS, special_tokens=special)[0]


def _results(calls) -> list[Message]:
    return [Message("tool", f'{{"result": {i}}}', tool_call_id=c.id) for i, c in enumerate(calls)]


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize(
    ("stem", "name", "before", "after"),
    [
        ("c4ai-command-r-plus", "command_r", "<|CHATBOT_TOKEN|>Let me check.\n", "\n<|START_OF_TURN_TOKEN|>"),
        ("c4ai-command-r7b-12-2024", "command_r7b", "<|END_THINKING|>", "<|END_OF_TURN_TOKEN|>"),
    ],
)
def test_cohere_formats_match_official_templates(
    stem: str, name: str, before: str, after: str, n: int
) -> None:
    fmt = get_tool_format(name)
    calls = CALLS[:n]
    rendered = _official(stem, calls, "Let me check.")
    assert before + fmt.format_calls(calls) + after in rendered, rendered
    assert fmt.format_results(_results(calls)) in rendered
    defs = fmt.format_definitions(TOOLS)
    around = (
        ("you:\n\n", "<|END_OF_TURN_TOKEN|>") if name == "command_r" else ("(per JSON Schema).\n\n", "\n\n#")
    )
    assert around[0] + defs + around[1] in rendered, rendered


def test_granite_definitions_match_granite_3_0() -> None:
    rendered = _official("granite-3_0-2b-instruct", CALLS[:1], "")
    defs = get_tool_format("granite").format_definitions(TOOLS)
    assert rendered.startswith(
        "<|start_of_role|>available_tools<|end_of_role|>\n" + defs + "<|end_of_text|>\n"
    )
