"""gpt_oss, phi4_mini, qwen3_coder and llama4 tool formats: round trips, the official templates' bytes,
and malformed output (kept as content, reported as errors)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import shared_path
from tunesmith.templates.jinja_env import render_template
from tunesmith.templates.messages import Message, ToolCall
from tunesmith.templates.tools import ParsedToolCalls, ToolFormatError, get_tool_format
from tunesmith.templates.tools.base import function_of
from tunesmith.templates.tools.qwen3_coder import DEFAULT_SYSTEM as CODER_DEFAULT_SYSTEM

NAMES = ("gpt_oss", "phi4_mini", "qwen3_coder", "llama4")
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
    ToolCall("search", {"q": 'x "y" \\ z', "limit": -1, "none": None, "flag": False}, "def456uvw"),
)
TOOLS: list[dict[str, Any]] = [
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
                    "unit": {"type": "string", "enum": ["c", "f"], "description": "Unit"},
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
RICH_TOOLS: list[dict[str, Any]] = [
    *TOOLS,
    {
        "type": "function",
        "function": {
            "name": "rich",
            "description": " multi\nline ",
            "parameters": {
                "type": "object",
                "properties": {
                    "tags": {"type": "array", "items": {"type": "string"}, "description": "  tags  "},
                    "nums": {"type": "array", "items": {"type": "integer"}, "default": [1]},
                    "objs": {
                        "type": "array",
                        "items": {"type": "object", "properties": {"a": {"type": "number"}}},
                    },
                    "any": {"type": "array"},
                    "pt": {
                        "type": "object",
                        "properties": {"x": {"type": "number"}, "y": {"type": "boolean"}},
                        "required": ["x"],
                    },
                    "u": {"type": ["string", "integer"], "description": "u"},
                    "one": {"oneOf": [{"type": "string"}, {"type": "integer", "description": "n"}]},
                    "n": {"type": "string", "nullable": True, "default": "z", "x-extra": {"k": 1}},
                    "e": {"type": "string", "enum": ["a", "b"], "default": "a"},
                    "free": {"description": "no type"},
                },
                "required": ["tags", "pt"],
            },
            "return": {"type": "string"},
        },
    },
    {"type": "function", "function": {"name": "bare", "description": "no params", "parameters": {}}},
]
_TRL = importlib.util.find_spec("trl")
TRL_TEMPLATES = Path(_TRL.origin).parent / "chat_templates" if _TRL is not None and _TRL.origin else None


def _same(got: Any, want: Any) -> None:
    assert [(c.name, dict(c.arguments)) for c in got] == [(c.name, dict(c.arguments)) for c in want]


def _official(stem: str) -> tuple[str, dict[str, str]]:
    if stem.startswith("trl:"):
        if TRL_TEMPLATES is None or not (TRL_TEMPLATES / stem[4:]).is_file():
            pytest.skip(f"trl's chat template {stem[4:]} is not installed")
        return (TRL_TEMPLATES / stem[4:]).read_text(encoding="utf-8"), {"bos_token": "", "eos_token": ""}
    data = json.loads(shared_path("chat_templates", f"{stem}.json").read_text(encoding="utf-8"))
    return data["chat_template"], {k: data.get(k) or "" for k in ("bos_token", "eos_token")}


def _render(stem: str, messages: list[dict[str, Any]], tools: Any = None, **kwargs: Any) -> str:
    source, special = _official(stem)
    return render_template(source, messages, tools=tools, special_tokens=special, **kwargs)[0]


def _tool_turns(n: int, content: str = "") -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Weather in 北京?"},
        {"role": "assistant", "content": content, "tool_calls": [c.to_dict() for c in CALLS[:n]]},
        *[
            {"role": "tool", "tool_call_id": c.id, "name": c.name, "content": f'{{"result": {i}}}'}
            for i, c in enumerate(CALLS[:n])
        ],
        {"role": "assistant", "content": "Sunny."},
    ]


def _results(n: int) -> list[Message]:
    return [
        Message("tool", f'{{"result": {i}}}', name=c.name, tool_call_id=c.id) for i, c in enumerate(CALLS[:n])
    ]


# --------------------------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("n", [1, 2])
@pytest.mark.parametrize("name", NAMES)
def test_round_trip(name: str, n: int) -> None:
    fmt = get_tool_format(name)
    parsed = fmt.parse_calls(fmt.format_calls(CALLS[:n]))
    assert parsed.errors == () and parsed.content == ""
    _same(parsed.calls, CALLS[:n])
    kept = fmt.parse_calls("Let me check.\n" + fmt.format_calls(CALLS[:n]))
    assert kept.errors == () and kept.content == "Let me check."
    _same(kept.calls, CALLS[:n])


@pytest.mark.parametrize("name", NAMES)
def test_plain_text_and_no_calls(name: str) -> None:
    fmt = get_tool_format(name)
    text = "The weather in 北京 is sunny, 25 °C. {not a call}"
    assert fmt.parse_calls(text) == ParsedToolCalls(text, (), ())
    assert fmt.format_calls([]) == ""


MALFORMED: dict[str, list[str]] = {
    "gpt_oss": [
        '<|start|>assistant to=functions.get_weather<|channel|>commentary json<|message|>{"城市": "北',
        "<|start|>assistant to=functions.get_weather<|channel|>commentary json<|message|>[1, 2]<|call|>",
        "<|start|>assistant to=functions.<|channel|>commentary json<|message|>{}<|call|>",
        "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json{}<|call|>",
    ],
    "phi4_mini": [
        '<|tool_call|>[{"name": "get_weather", "arguments": {"城市": "北',
        '<|tool_call|>[{"name": "get_weather", "arguments": [1]}]<|/tool_call|>',
        '<|tool_call|>[{"arguments": {}}]<|/tool_call|>',
        "<|tool_call|><|/tool_call|>",
    ],
    "qwen3_coder": [
        "<tool_call>\n<function=get_weather>\n<parameter=城市>\n北",
        "<tool_call>\n<function=get_weather>\n<parameter=城市>\n北京\n</parameter>\n</tool_call>",
        "<tool_call>\n<parameter=城市>\n北京\n</parameter>\n</function>\n</tool_call>",
        "<tool_call>\n<function=>\n</function>\n</tool_call>",
        "<tool_call>\n<function=get_weather>\nstray text\n</function>\n</tool_call>",
    ],
    "llama4": [
        '{"name": "get_weather", "parameters": {"城市": "北',
        '<|python_start|><|python_end|>{"name": "get_weather", "parameters": "oops"}',
        '[{"name": null, "parameters": {}}]',
    ],
}


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
    _same(parsed.calls, CALLS[:1])
    assert MALFORMED[name][0] in parsed.content


# ------------------------------------------------------------------------------------------------ gpt-oss

GPT_OSS = ("gpt-oss-120b", "trl:gptoss.jinja")


@pytest.mark.parametrize("stem", GPT_OSS)
def test_gpt_oss_calls_definitions_and_results_match_official(stem: str) -> None:
    """The template writes one call per assistant message (the first); two calls are two messages."""
    fmt = get_tool_format("gpt_oss")
    messages = _tool_turns(1)
    messages.insert(3, {"role": "assistant", "content": "", "tool_calls": [CALLS[1].to_dict()]})
    rendered = _render(stem, messages, tools=TOOLS)
    assert "<|start|>assistant" + fmt.format_calls(CALLS) + "<|start|>functions.search" in rendered
    parsed = fmt.parse_calls(fmt.format_calls(CALLS))
    _same(parsed.calls, CALLS)
    developer = "<|start|>developer<|message|># Instructions\n\nYou are helpful.\n\n"
    assert developer + fmt.format_definitions(TOOLS) + "<|end|>" in rendered
    one = _render(stem, _tool_turns(1), tools=TOOLS)
    assert fmt.format_calls(CALLS[:1]) + fmt.format_results(_results(1)) + "<|start|>assistant" in one


@pytest.mark.parametrize("stem", GPT_OSS)
def test_gpt_oss_definitions_reproduce_the_typescript_namespace(stem: str) -> None:
    fmt = get_tool_format("gpt_oss")
    rendered = _render(stem, [{"role": "user", "content": "hi"}], tools=RICH_TOOLS)
    assert "<|start|>developer<|message|>" + fmt.format_definitions(RICH_TOOLS) + "<|end|>" in rendered


def test_gpt_oss_reads_the_harmony_form_the_model_writes() -> None:
    fmt = get_tool_format("gpt_oss")
    args = json.dumps(dict(CALLS[0].arguments), ensure_ascii=False)
    text = (
        "<|channel|>analysis<|message|>Need the weather.<|end|>"
        f"<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{args}<|call|>"
    )
    parsed = fmt.parse_calls(text)
    assert parsed.errors == () and parsed.content == "<|channel|>analysis<|message|>Need the weather.<|end|>"
    _same(parsed.calls, CALLS[:1])
    # after the generation prompt, and with the <|call|> stop token cut off
    cut = fmt.parse_calls(f"<|channel|>commentary to=functions.get_weather json<|message|>{args}")
    assert cut.errors == () and cut.content == ""
    _same(cut.calls, CALLS[:1])


def test_gpt_oss_refusals() -> None:
    fmt = get_tool_format("gpt_oss")
    with pytest.raises(ToolFormatError, match="name"):
        fmt.format_results([Message("tool", "{}")])
    with pytest.raises(ToolFormatError, match="description"):
        fmt.format_definitions([{"name": "f", "parameters": {}}])


# ---------------------------------------------------------------------------------------------- phi4-mini


def test_phi4_mini_definitions_and_results_match_official() -> None:
    """The official template reads tools from the system message's ``tools`` key (a JSON string) and
    writes no tool calls; the call text follows the model card."""
    fmt = get_tool_format("phi4_mini")
    messages = _tool_turns(2)
    messages[0]["tools"] = json.dumps([dict(function_of(t)) for t in TOOLS], ensure_ascii=False)
    rendered = _render("phi-4-mini-instruct", messages)
    assert "<|system|>You are helpful." + fmt.format_definitions(TOOLS) + "<|end|><|user|>" in rendered
    assert "<|assistant|><|end|>" + fmt.format_results(_results(2)) + "<|assistant|>Sunny." in rendered
    assert fmt.format_calls(CALLS) == (
        '<|tool_call|>[{"name": "get_weather", "arguments": {"城市": "北京", "days": 3, "ratio": 2.5, "opts": '
        '{"unit": "c", "hours": [1, 2], "deep": {"ok": true}}}}, {"name": "search", "arguments": {"q": '
        '"x \\"y\\" \\\\ z", "limit": -1, "none": null, "flag": false}}]<|/tool_call|>'
    )


def test_phi4_mini_reads_objects_and_parameters() -> None:
    fmt = get_tool_format("phi4_mini")
    parsed = fmt.parse_calls(
        '<|tool_call|>{"name": "search", "parameters": {"q": "x"}}'
    )  # stop token cut off
    assert parsed.errors == () and [(c.name, dict(c.arguments)) for c in parsed.calls] == [
        ("search", {"q": "x"})
    ]


# -------------------------------------------------------------------------------------------- qwen3-coder

CODER = "qwen3-coder-30b-a3b-instruct"


@pytest.mark.parametrize("content", ["", "  Let me check. "])
@pytest.mark.parametrize("n", [1, 2])
def test_qwen3_coder_calls_match_official(n: int, content: str) -> None:
    fmt = get_tool_format("qwen3_coder")
    rendered = _render(CODER, _tool_turns(n, content), tools=TOOLS)
    head = "<|im_start|>assistant" + (f"\n{content.strip()}\n" if content.strip() else "")
    assert head + "\n" + fmt.format_calls(CALLS[:n]) + "<|im_end|>\n" in rendered
    segment = rendered.split("<|im_start|>assistant", 1)[1].split("<|im_end|>", 1)[0]
    parsed = fmt.parse_calls(segment)
    assert parsed.errors == () and parsed.content == content.strip()
    _same(parsed.calls, CALLS[:n])


@pytest.mark.parametrize("tools", [TOOLS, RICH_TOOLS], ids=["tools", "rich_tools"])
@pytest.mark.parametrize("system", [None, "You are helpful.", ""])
def test_qwen3_coder_definitions_and_results_match_official(tools: list[dict[str, Any]], system: Any) -> None:
    fmt = get_tool_format("qwen3_coder")
    messages = _tool_turns(2)
    if system is None:
        messages = messages[1:]
    else:
        messages[0]["content"] = system
    rendered = _render(CODER, messages, tools=tools)
    head = CODER_DEFAULT_SYSTEM if system is None else system
    assert rendered.startswith(
        "<|im_start|>system\n" + head + "\n\n" + fmt.format_definitions(tools) + "<|im_end|>\n"
    )
    assert "<|im_start|>user\n" + fmt.format_results(_results(2)) + "<|im_end|>\n" in rendered


def test_qwen3_coder_values_are_python_strings_and_schema_keeps_strings() -> None:
    fmt = get_tool_format("qwen3_coder")
    call = ToolCall("get_weather", {"城市": "3", "days": 3, "o": {"a": [True, None]}})
    text = fmt.format_calls([call])
    assert "<parameter=o>\n{'a': [True, None]}\n</parameter>" in text
    assert fmt.parse_calls(text).calls[0].arguments == {"城市": 3, "days": 3, "o": {"a": [True, None]}}
    assert fmt.parse_calls(text, tools=TOOLS).calls[0].arguments == {
        "城市": "3",
        "days": 3,
        "o": {"a": [True, None]},
    }
    multi = fmt.parse_calls(
        "<tool_call>\n<function=search>\n<parameter=q>\nline 1\n\nline 3\n</parameter>\n</function>\n</tool_call>"
    )
    assert multi.calls[0].arguments == {"q": "line 1\n\nline 3"}


# ------------------------------------------------------------------------------------------------- llama4

LLAMA4 = "llama-4-scout-17b-16e-instruct"


@pytest.mark.parametrize("content", ["", "Let me check."])
@pytest.mark.parametrize("n", [1, 2])
def test_llama4_calls_match_official(n: int, content: str) -> None:
    fmt = get_tool_format("llama4")
    rendered = _render(LLAMA4, _tool_turns(n, content), tools=TOOLS, date_string="26 Jul 2024")
    expected = f"<|header_start|>assistant<|header_end|>\n\n<|python_start|>{content}<|python_end|>"
    assert expected + fmt.format_calls(CALLS[:n]) + "<|eot|>" in rendered
    segment = rendered.split("<|header_start|>assistant<|header_end|>\n\n", 1)[1].split("<|eot|>", 1)[0]
    parsed = fmt.parse_calls(segment)
    assert parsed.errors == () and parsed.content == content
    _same(parsed.calls, CALLS[:n])


def test_llama4_definitions_and_results_match_official() -> None:
    fmt = get_tool_format("llama4")
    rendered = _render(LLAMA4, _tool_turns(2), tools=TOOLS, date_string="26 Jul 2024")
    assert (
        "<|header_start|>user<|header_end|>\n\n" + fmt.format_definitions(TOOLS) + "Weather in 北京?<|eot|>"
        in rendered
    )
    for result in _results(2):
        assert (
            "<|header_start|>ipython<|header_end|>\n\n" + fmt.format_results([result]) + "<|eot|>" in rendered
        )
    in_system = type(fmt)("llama4", tools_in_user_message=False)  # type: ignore[call-arg]
    rendered = _render(LLAMA4, _tool_turns(1), tools=TOOLS, tools_in_user_message=False)
    assert (
        "Environment: ipython\n" + in_system.format_definitions(TOOLS) + "You are helpful.<|eot|>" in rendered
    )


def test_llama4_reads_lists_and_separators() -> None:
    fmt = get_tool_format("llama4")
    one, two = (f'{{"name": "{c.name}", "parameters": {json.dumps(dict(c.arguments))}}}' for c in CALLS)
    for text in (
        f"[{one}, {two}]",
        f"{one}; {two}",
        f"{one}\n{two}",
        f"<|python_start|><|python_end|>{one}{two}",
    ):
        parsed = fmt.parse_calls(text)
        assert parsed.errors == () and parsed.content == ""
        _same(parsed.calls, CALLS)
    assert fmt.parse_calls('{"answer": 42}').calls == ()
