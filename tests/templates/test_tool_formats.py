"""Tool formats: round trips, byte conformance with the official chat templates, and malformed output."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import pytest

from tunesmith.registry import RegistryError
from tunesmith.templates.jinja_env import compile_template, render_template
from tunesmith.templates.messages import Message, ToolCall
from tunesmith.templates.tools import (
    TOOL_FORMATS,
    Glm4MoeToolFormat,
    Llama3ToolFormat,
    ParsedToolCalls,
    ToolFormat,
    ToolFormatError,
    build_tool_format_registry,
    get_tool_format,
    make_call_id,
    with_call_ids,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CHAT_TEMPLATES = SHARED / "chat_templates"
_TRL_SPEC = importlib.util.find_spec("trl")
TRL_TEMPLATES = (
    Path(_TRL_SPEC.origin).parent / "chat_templates" if _TRL_SPEC is not None and _TRL_SPEC.origin else None
)

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
)
NAMES = sorted(TOOL_FORMATS)
ID_FORMATS = {"mistral", "mistral_v11"}

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


def _same_calls(got: Sequence[ToolCall], want: Sequence[ToolCall], *, ids: bool) -> None:
    assert [(c.name, dict(c.arguments)) for c in got] == [(c.name, dict(c.arguments)) for c in want]
    if ids:
        assert [c.id for c in got] == [c.id for c in want]


# ---------------------------------------------------------------------------------------------- registry


def test_registry_holds_every_format() -> None:
    registry = build_tool_format_registry()
    assert sorted(registry.names()) == NAMES
    assert {e.origin for e in registry} == {"builtin:tools"}
    for name in NAMES:
        fmt = get_tool_format(name)
        assert isinstance(fmt, ToolFormat)
        assert fmt.name == name
        assert registry.get(name) is fmt
    assert get_tool_format("QWEN") is TOOL_FORMATS["qwen"]
    assert build_tool_format_registry() is not registry  # a fresh registry each time: no shared state


def test_unknown_format_suggests_close_names() -> None:
    with pytest.raises(RegistryError, match="Did you mean.*glm4"):
        get_tool_format("glm-4")


# -------------------------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("n", [1, 2])
@pytest.mark.parametrize("name", NAMES)
def test_round_trip(name: str, n: int) -> None:
    fmt = get_tool_format(name)
    calls = CALLS[:n]
    text = fmt.format_calls(calls)
    parsed = fmt.parse_calls(text)
    assert parsed.errors == ()
    assert parsed.content == ""
    _same_calls(parsed.calls, calls, ids=name in ID_FORMATS)


@pytest.mark.parametrize("name", [n for n in NAMES if n not in ("llama3", "glm4")])
def test_round_trip_keeps_surrounding_text(name: str) -> None:
    fmt = get_tool_format(name)
    text = "Let me check.\n" + fmt.format_calls(CALLS)
    parsed = fmt.parse_calls(text)
    assert parsed.errors == ()
    assert parsed.content == "Let me check."
    _same_calls(parsed.calls, CALLS, ids=name in ID_FORMATS)


@pytest.mark.parametrize("name", NAMES)
def test_plain_text_has_no_calls(name: str) -> None:
    text = "The weather in 北京 is sunny, 25 °C. {not a call}"
    parsed = get_tool_format(name).parse_calls(text)
    assert parsed == ParsedToolCalls(text, (), ())


def test_no_calls_format_to_empty_text() -> None:
    for name in NAMES:
        assert get_tool_format(name).format_calls([]) == ""


def test_llama3_reads_lists_and_semicolons() -> None:
    fmt = get_tool_format("llama3")
    one, two = (f'{{"name": "{c.name}", "parameters": {json.dumps(dict(c.arguments))}}}' for c in CALLS)
    for text in (f"[{one}, {two}]", f"{one}; {two}", f"<|python_tag|>{one};{two};"):
        parsed = fmt.parse_calls(text)
        assert parsed.errors == () and parsed.content == ""
        _same_calls(parsed.calls, CALLS, ids=False)
    assert fmt.parse_calls('{"answer": 42}').calls == ()  # JSON that is not a call is content


def test_glm4_moe_uses_tool_schema_for_string_values() -> None:
    fmt = get_tool_format("glm4_moe")
    assert isinstance(fmt, Glm4MoeToolFormat)
    call = ToolCall("get_weather", {"城市": "3", "days": 3})
    text = fmt.format_calls([call])
    assert fmt.parse_calls(text).calls[0].arguments == {"城市": 3, "days": 3}  # ambiguous without a schema
    assert fmt.parse_calls(text, tools=TOOLS).calls[0].arguments == {"城市": "3", "days": 3}


def test_mistral_ids_are_required_and_can_be_filled() -> None:
    bare = [ToolCall(c.name, c.arguments) for c in CALLS]
    for name in ("mistral", "mistral_v11"):
        with pytest.raises(ToolFormatError, match="9 ASCII letters or digits"):
            get_tool_format(name).format_calls(bare)
        with pytest.raises(ToolFormatError):
            get_tool_format(name).format_calls([ToolCall("f", {}, "short")])
    filled = with_call_ids(bare)
    assert filled == with_call_ids(bare)  # deterministic
    assert all(c.id is not None and len(c.id) == 9 and c.id.isalnum() and c.id.isascii() for c in filled)
    assert filled[0].id != filled[1].id
    assert with_call_ids(CALLS) == CALLS  # existing ids are kept
    assert make_call_id("x") == make_call_id("x") != make_call_id("y")
    parsed = get_tool_format("mistral").parse_calls(get_tool_format("mistral").format_calls(filled))
    _same_calls(parsed.calls, filled, ids=True)
    assert get_tool_format("mistral_v13").format_calls(bare)  # v13 has no ids


# ------------------------------------------------------------------------------------- malformed output

MALFORMED: dict[str, list[str]] = {
    "qwen": [
        '<tool_call>\n{"name": "get_weather", "arguments": {"城市": "北',
        '<tool_call>\n{"name": "get_weather", "arguments": ["a"]}\n</tool_call>',
        '<tool_call>\n{"name": 5, "arguments": {}}\n</tool_call>',
        "<tool_call>\nnot json\n</tool_call>",
    ],
    "llama3": [
        '{"name": "get_weather", "parameters": {"城市": "北',
        '{"name": "get_weather", "parameters": "oops"}',
        '[{"name": null, "parameters": {}}]',
    ],
    "mistral": [
        '[TOOL_CALLS][{"name": "get_weather", "arguments": {"城市": "北',
        '[TOOL_CALLS][{"name": "get_weather", "arguments": 3, "id": "abc123XYZ"}]',
        '[TOOL_CALLS][{"name": "get_weather", "arguments": {}, "id": 7}]',
    ],
    "mistral_v11": [
        '[TOOL_CALLS]get_weather[CALL_ID]abc123XYZ[ARGS]{"城市": "北',
        "[TOOL_CALLS]get_weather[ARGS]{}",
        "[TOOL_CALLS]get_weather[CALL_ID]abc123XYZ[ARGS][1, 2]",
    ],
    "mistral_v13": [
        '[TOOL_CALLS]get_weather[ARGS]{"城市": "北',
        "[TOOL_CALLS]get_weather",
        "[TOOL_CALLS][ARGS]{}",
    ],
    "glm4": ['get_weather\n{"城市": "北', "get_weather\n{]"],
    "glm4_moe": [
        "<tool_call>get_weather\n<arg_key>城市</arg_key>\n<arg_value>北",
        "<tool_call>get_weather\n<arg_key>城市</arg_key>\n<arg_val>北京</arg_value>\n</tool_call>",
        "<tool_call>\n<arg_key>城市</arg_key>\n<arg_value>北京</arg_value>\n</tool_call>",
    ],
    "deepseek_v3": [
        '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{"城市": "北',
        "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n[1]\n```"
        "<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
        "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather {}<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
    ],
    "deepseek_v3_1": [
        '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{"城市": "北',
        '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>"s"<｜tool▁call▁end｜><｜tool▁calls▁end｜>',
        "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather {}<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
    ],
    "react": [
        'Action: get_weather\nAction Input: {"城市": "北',
        "Action: get_weather\nAction Input: [1, 2]",
        "Action: get_weather\nAction Input: hello",
    ],
}
MALFORMED["hermes"] = MALFORMED["qwen"]
from tests.templates.test_tool_formats_more import MALFORMED as _MORE  # noqa: E402

MALFORMED.update(_MORE)
from tests.templates.test_tool_formats_granite_cohere import MALFORMED as _GRANITE_COHERE  # noqa: E402

MALFORMED.update(_GRANITE_COHERE)


def test_every_format_has_malformed_cases() -> None:
    assert sorted(MALFORMED) == NAMES


@pytest.mark.parametrize(("name", "bad"), [(n, b) for n in NAMES for b in MALFORMED[n]])
def test_malformed_output_is_reported_not_raised(name: str, bad: str) -> None:
    fmt = get_tool_format(name)
    prefix = "" if name in ("llama3", "glm4") else "Let me check. "
    parsed = fmt.parse_calls(prefix + bad)
    assert parsed.errors, parsed
    assert not parsed.ok
    assert parsed.calls == ()
    assert (prefix + bad).strip() in parsed.content or parsed.content == (prefix + bad).strip()


@pytest.mark.parametrize("name", [n for n in NAMES if n not in ("llama3", "glm4")])
def test_good_call_survives_next_to_a_bad_one(name: str) -> None:
    fmt = get_tool_format(name)
    good = fmt.format_calls(CALLS[:1])
    bad = MALFORMED[name][0]
    parsed = fmt.parse_calls(good + "\n" + bad)
    assert len(parsed.errors) == 1
    _same_calls(parsed.calls, CALLS[:1], ids=name in ID_FORMATS)


# ------------------------------------------------------------------------------ official-template checks


@dataclass(frozen=True)
class Case:
    """One official template and how the format's text must sit inside its rendering."""

    template: str  # a file in shared/chat_templates (without .json) or "trl:<file>.jinja"
    fmt: str
    turn_start: str  # the text just before the assistant's tool-call output
    turn_end: str  # the text right after it
    counts: tuple[int, ...] = (1, 2)
    contents: tuple[str, ...] = ("",)
    defs_around: tuple[str, str] | None = None
    results_around: tuple[str, str] | None = None
    raw: bool = False
    """Render without dropping None values (transformers' ``render_jinja_template``, which vLLM uses):
    ``tokenizer.apply_chat_template`` drops ``content: None``, and these templates then fail."""
    string_args: bool = False  # the template concatenates arguments as a string
    glm4_layout: bool = False  # tools in the system message, calls as metadata turns
    render_kwargs: dict[str, Any] = field(default_factory=dict)


QWEN_DEFS = ("You are helpful.\n\n", "<|im_end|>")
CASES = [
    Case("qwen2_5-7b-instruct", "qwen", "<|im_start|>assistant\n", "<|im_end|>", contents=("", "Let me check."),
         defs_around=("<|im_start|>system\n" + QWEN_DEFS[0], QWEN_DEFS[1]),
         results_around=("<|im_start|>user", "<|im_end|>")),
    Case("qwq-32b", "qwen", "<|im_start|>assistant\n", "<|im_end|>", contents=("", "Let me check."),
         defs_around=QWEN_DEFS, results_around=("<|im_start|>user", "<|im_end|>")),
    Case("qwen3-0_6b", "qwen", "<|im_start|>assistant", "<|im_end|>", contents=("", "Let me check."),
         defs_around=("<|im_start|>system\n" + QWEN_DEFS[0], QWEN_DEFS[1]),
         results_around=("<|im_start|>user", "<|im_end|>")),
    Case("trl:qwen3.jinja", "qwen", "<|im_start|>assistant", "<|im_end|>", contents=("", "Let me check."),
         defs_around=QWEN_DEFS, results_around=("<|im_start|>user", "<|im_end|>")),
    Case("hermes-2-pro-llama-3-8b", "hermes", "<|im_start|>assistant\n", "<|im_end|>",
         defs_around=("<|begin_of_text|><|im_start|>system\n", "<|im_end|>\n<|im_start|>system\nYou are helpful."),
         results_around=("<|im_start|>tool\n", "<|im_end|>")),
    Case("hermes-2-pro-mistral-7b", "hermes", "<|im_start|>assistant\n", "<|im_end|>",
         defs_around=("<|im_start|>system\n", "<|im_end|>"), results_around=("<|im_start|>tool\n", "<|im_end|>")),
    Case("hermes-3-llama-3_1-70b", "hermes", "<|im_start|>assistant\n", "<|im_end|>",
         defs_around=("<|im_start|>system\n", "<|im_end|>"), results_around=("<|im_start|>tool\n", "<|im_end|>")),
    *[
        Case(t, "llama3", "<|start_header_id|>assistant<|end_header_id|>\n\n", "<|eot_id|>", counts=(1,),
             defs_around=("<|start_header_id|>user<|end_header_id|>\n\n", "Weather in 北京?<|eot_id|>"),
             results_around=("<|start_header_id|>ipython<|end_header_id|>\n\n", "<|eot_id|>"),
             render_kwargs={"date_string": "26 Jul 2024"})
        for t in ("llama-3_1-8b-instruct", "llama-3_2-3b-instruct", "llama-3_3-70b-instruct", "trl:llama3_1.jinja")
    ],
    Case("mistral-nemo-instruct-2407", "mistral", "[/INST]", "</s>",
         defs_around=("<s>", "[INST]"), results_around=("</s>", "Sunny.")),
    Case("mistral-small-3_2-24b-instruct-2506", "mistral_v11", "[/INST]", "</s>",
         defs_around=("[/SYSTEM_PROMPT]", "[INST]"), results_around=("</s>", "Sunny.")),
    Case("ministral-3-14b-reasoning-2512", "mistral_v13", "[/INST]", "</s>", contents=("", "Let me check."),
         defs_around=("[/SYSTEM_PROMPT]", "[INST]"), results_around=("</s>", "Sunny.")),
    Case("glm-4-9b-chat", "glm4", "<|assistant|>", "<|observation|>", glm4_layout=True,
         defs_around=("[gMASK]<sop><|system|>\n", "<|system|>\nYou are helpful.")),
    Case("glm-4_6", "glm4_moe", "<think></think>", "<|observation|>", contents=("", "Let me check."),
         defs_around=("[gMASK]<sop><|system|>\n", "<|system|>\nYou are helpful."),
         results_around=("<|observation|>", "<|assistant|>")),
    Case("trl:glm4moe.jinja", "glm4_moe", "<think></think>", "<|observation|>", contents=("", "Let me check."),
         defs_around=("[gMASK]<sop><|system|>\n", "<|system|>\nYou are helpful."),
         results_around=("<|observation|>", "<|assistant|>")),
    *[
        Case(t, "deepseek_v3", "<｜Assistant｜>", "<｜end▁of▁sentence｜>", counts=(2,), raw=True, string_args=True,
             results_around=("<｜end▁of▁sentence｜>", "Sunny."))
        for t in ("deepseek-v3", "deepseek-r1-distill-llama-8b")
    ],
    Case("deepseek-r1-distill-qwen-32b", "deepseek_v3", "<｜Assistant｜>", "<｜end▁of▁sentence｜>", counts=(), raw=True,
         string_args=True, results_around=("<｜end▁of▁sentence｜>", "Sunny.")),
    Case("trl:deepseekv3.jinja", "deepseek_v3", "<｜Assistant｜>", "<｜end▁of▁sentence｜>", raw=True,
         string_args=True),
    Case("deepseek-v3_1", "deepseek_v3_1", "<｜Assistant｜></think>", "<｜end▁of▁sentence｜>", string_args=True,
         contents=("", "Let me check."), results_around=("<｜end▁of▁sentence｜>", "Sunny.")),
]  # fmt: skip


def _load(template: str) -> tuple[str, dict[str, str]]:
    if template.startswith("trl:"):
        if TRL_TEMPLATES is None or not (TRL_TEMPLATES / template[4:]).is_file():
            pytest.skip(f"trl's chat template {template[4:]} is not installed")
        return (TRL_TEMPLATES / template[4:]).read_text(encoding="utf-8"), {
            "bos_token": "",
            "eos_token": "</s>",
        }
    path = CHAT_TEMPLATES / f"{template}.json"
    if not path.is_file():
        pytest.skip(
            f"official chat templates not found at {CHAT_TEMPLATES} (the shared folder beside the repo)"
        )
    data = json.loads(path.read_text(encoding="utf-8"))
    source = data["chat_template"]
    if isinstance(source, dict):
        source = source["tool_use"]
    return source, {k: data.get(k) or "" for k in ("bos_token", "eos_token")}


def _hf_call(call: ToolCall, string_args: bool) -> dict[str, Any]:
    out = call.to_dict()
    if string_args:
        out["function"]["arguments"] = json.dumps(dict(call.arguments), ensure_ascii=False)
    return out


def _conversation(case: Case, n: int, content: str) -> list[dict[str, Any]]:
    calls = CALLS[:n]
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You are helpful."}]
    if case.glm4_layout:
        messages[0]["tools"] = TOOLS
    messages.append({"role": "user", "content": "Weather in 北京?"})
    if case.glm4_layout:  # GLM-4 writes a call as the metadata line and the content of an assistant turn
        for c in calls:
            messages.append(
                {
                    "role": "assistant",
                    "metadata": c.name,
                    "content": json.dumps(dict(c.arguments), ensure_ascii=False),
                }
            )
    else:
        messages.append(
            {
                "role": "assistant",
                "content": None if case.raw else content,
                "tool_calls": [_hf_call(c, case.string_args) for c in calls],
            }
        )
    for i, c in enumerate(calls):
        messages.append(
            {
                "role": "observation" if case.glm4_layout else "tool",
                "tool_call_id": c.id,
                "content": f'{{"result": {i}}}',
            }
        )
    messages.append({"role": "assistant", "content": "Sunny."})
    return messages  # fmt: skip


def _render(case: Case, n: int, content: str) -> str:
    source, special = _load(case.template)
    messages = _conversation(case, n, content)
    tools = None if case.glm4_layout else TOOLS
    if case.raw:
        template = compile_template(source)
        return template.render(messages=messages, tools=tools, add_generation_prompt=False, **special)
    return render_template(source, messages, tools=tools, special_tokens=special, **case.render_kwargs)[0]


def _case_params() -> list[Any]:
    params = []
    for case in CASES:
        for n in case.counts:
            for content in case.contents:
                label = f"{case.template}-{n}call{'s' if n > 1 else ''}{'-content' if content else ''}"
                params.append(pytest.param(case, n, content, id=label))
    return params


@pytest.mark.parametrize(("case", "n", "content"), _case_params())
def test_calls_match_official_template(case: Case, n: int, content: str) -> None:
    fmt = get_tool_format(case.fmt)
    calls = CALLS[:n]
    rendered = _render(case, n, content)
    expected = fmt.format_calls(calls)
    assert expected in rendered, f"{case.fmt} calls not found verbatim in {case.template}:\n{rendered}"
    at = rendered.index(expected)
    start = rendered.rindex(case.turn_start, 0, at) + len(case.turn_start)
    end = rendered.index(case.turn_end, at + len(expected))
    segment = rendered[start:end]
    parsed = fmt.parse_calls(segment)
    assert parsed.errors == ()
    assert parsed.content == content
    _same_calls(parsed.calls, calls, ids=case.fmt in ID_FORMATS)


@pytest.mark.parametrize("case", [c for c in CASES if c.defs_around], ids=lambda c: c.template)
def test_definitions_match_official_template(case: Case) -> None:
    assert case.defs_around is not None
    fmt = get_tool_format(case.fmt)
    rendered = _render(case, case.counts[0], "")
    before, after = case.defs_around
    assert before + fmt.format_definitions(TOOLS) + after in rendered, rendered


@pytest.mark.parametrize("case", [c for c in CASES if c.results_around], ids=lambda c: c.template)
def test_results_match_official_template(case: Case) -> None:
    assert case.results_around is not None
    fmt = get_tool_format(case.fmt)
    n = max(case.counts, default=2)
    rendered = _render(case, n, "")
    results = [Message("tool", f'{{"result": {i}}}', tool_call_id=c.id) for i, c in enumerate(CALLS[:n])]
    before, after = case.results_around
    assert before + fmt.format_results(results) + after in rendered, rendered


def test_llama3_tools_in_system_message() -> None:
    source, special = _load("llama-3_1-8b-instruct")
    fmt = Llama3ToolFormat("llama3", tools_in_user_message=False)
    messages = [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": "Hi"}]
    rendered, _ = render_template(
        source, messages, tools=TOOLS, special_tokens=special, tools_in_user_message=False
    )
    assert (
        "Today Date: 26 Jul 2024\n\n" + fmt.format_definitions(TOOLS) + "You are helpful.<|eot_id|>"
        in rendered
    )


def test_llama3_official_template_rejects_parallel_calls() -> None:
    """Documents why llama3's parallel form (a JSON list) cannot be checked against the template."""
    source, special = _load("llama-3_1-8b-instruct")
    case = next(c for c in CASES if c.fmt == "llama3")
    with pytest.raises(jinja2.TemplateError, match="single tool-calls"):
        render_template(source, _conversation(case, 2, ""), tools=TOOLS, special_tokens=special)


@pytest.mark.parametrize("template", ["deepseek-v3", "deepseek-r1-distill-llama-8b"])
def test_deepseek_v3_single_call_matches_up_to_the_missing_closing_marker(template: str) -> None:
    """The official V3 / R1-Distill templates never close a single call with <｜tool▁calls▁end｜>."""
    case = next(c for c in CASES if c.template == template)
    rendered = _render(case, 1, "")
    fmt = get_tool_format("deepseek_v3")
    text = fmt.format_calls(CALLS[:1])
    assert text.endswith("<｜tool▁calls▁end｜>")
    head = text[: -len("<｜tool▁calls▁end｜>")]
    assert "<｜Assistant｜>" + head + "<｜tool▁outputs▁begin｜>" in rendered
    _same_calls(fmt.parse_calls(head).calls, CALLS[:1], ids=False)


def test_deepseek_r1_distill_qwen_multiline_template_adds_a_line_break() -> None:
    """The shared Qwen-32B distill copy is a multi-line reformatting of the R1 template: the line break
    between two ``{{ }}`` expressions survives (trim_blocks only trims after block tags), so a "\n"
    lands before <｜tool▁calls▁end｜>. Everything else is byte-identical, and the parser reads it."""
    case = next(c for c in CASES if c.template == "deepseek-r1-distill-qwen-32b")
    rendered = _render(case, 2, "")
    fmt = get_tool_format("deepseek_v3")
    text = fmt.format_calls(CALLS)
    quirk = text.replace("<｜tool▁calls▁end｜>", "\n<｜tool▁calls▁end｜>")
    assert "<｜Assistant｜>" + quirk + "<｜end▁of▁sentence｜>" in rendered
    parsed = fmt.parse_calls(quirk)
    assert parsed.errors == () and parsed.content == ""
    _same_calls(parsed.calls, CALLS, ids=False)


def test_deepseek_v3_official_template_drops_calls_under_apply_chat_template() -> None:
    """With content None dropped (as tokenizer.apply_chat_template does) the V3 template cannot render."""
    source, special = _load("deepseek-v3")
    case = next(c for c in CASES if c.template == "deepseek-v3")
    messages = _conversation(case, 2, "")
    with pytest.raises(jinja2.UndefinedError):
        render_template(source, messages, tools=TOOLS, special_tokens=special)


RICH_TOOLS = [
    *TOOLS,
    {
        "type": "function",
        "function": {
            "name": "f",
            "description": " multi\nline ",
            "parameters": {
                "type": "object",
                "properties": {
                    "a": {"type": "array", "items": {"type": "string"}, "description": "  arr  "},
                    "o": {"type": "object", "description": "obj"},
                    "m": {"type": "object", "additionalProperties": {"type": "integer"}},
                    "u": {"type": ["string", "integer"], "description": "u"},
                    "n": {"description": "no type"},
                    "x": {"type": 5},
                },
            },
            "return": {"type": "string", "description": "ret"},
        },
    },
    {"name": "bare", "description": "no params", "parameters": {"type": "object", "properties": {}}},
]


@pytest.mark.parametrize(
    "template", ["hermes-2-pro-llama-3-8b", "hermes-2-pro-mistral-7b", "hermes-3-llama-3_1-70b"]
)
def test_hermes_definitions_reproduce_the_template_quirks(template: str) -> None:
    """Arrays, unions, untyped and non-string types, returns and bare schemas, as the macro renders them."""
    source, special = _load(template)
    rendered, _ = render_template(
        source, [{"role": "user", "content": "hi"}], tools=RICH_TOOLS, special_tokens=special
    )
    defs = get_tool_format("hermes").format_definitions(RICH_TOOLS)
    assert rendered.startswith(special["bos_token"] + "<|im_start|>system\n" + defs + "<|im_end|>\n")


def test_hermes_refuses_types_the_template_cannot_render() -> None:
    tool = {"name": "g", "description": "d", "parameters": {"properties": {"p": {"type": "null"}}}}
    with pytest.raises(ToolFormatError, match="recurse"):
        get_tool_format("hermes").format_definitions([tool])


def test_react_definitions_are_llamafactory_default_prompt() -> None:
    expected = (
        "You have access to the following tools:\n"
        "> Tool Name: get_weather\nTool Description: Get the weather\nTool Args:\n"
        "  - 城市 (string, required): City\n  - days (integer): Days\n"
        "  - unit (string): Unit, should be one of [c, f]\n\n"
        "> Tool Name: search\nTool Description: Search the web\nTool Args:\n  - q (string, required): query\n\n"
        "Use the following format if using a tool:\n```\n"
        "Action: tool name (one of [get_weather, search])\n"
        "Action Input: the input to the tool, in a JSON format representing the kwargs "
        '(e.g. ```{"input": "hello world", "num_beams": 5}```)\n```\n'
    )
    assert get_tool_format("react").format_definitions(TOOLS) == expected
    assert get_tool_format("react").format_calls(CALLS[:1]) == (
        'Action: get_weather\nAction Input: {"城市": "北京", "days": 3, "ratio": 2.5, '
        '"opts": {"unit": "c", "hours": [1, 2], "deep": {"ok": true}}}'
    )


def test_deepseek_v3_1_definitions_follow_the_model_card() -> None:
    text = get_tool_format("deepseek_v3_1").format_definitions(TOOLS[1:])
    assert text == (
        "## Tools\nYou have access to the following tools:\n\n"
        "### search\nDescription: Search the web\n\n"
        'Parameters: {"type": "object", "properties": {"q": {"type": "string", "description": "query"}}, '
        '"required": ["q"]}\n\n'
        "IMPORTANT: ALWAYS adhere to this exact format for tool use:\n"
        "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>tool_call_name<｜tool▁sep｜>tool_call_arguments"
        "<｜tool▁call▁end｜>{additional_tool_calls}<｜tool▁calls▁end｜>\n\n"
        "Where:\n- `tool_call_name` must be an exact match to one of the available tools\n"
        "- `tool_call_arguments` must be valid JSON that strictly follows the tool's Parameters Schema\n"
        "- For multiple tool calls, chain them directly without separators or spaces"
    )
