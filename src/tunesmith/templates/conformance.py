"""The conformance battery (GUIDE §3): each shape rendered by a candidate template and by the reference
(transformers' ``apply_chat_template`` with the model's own chat template) — same text, same ids, exact
labels; where the reference refuses the input, the candidate must refuse it with a clear error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tunesmith.templates.base import ChatTemplate, RenderOptions, TemplateError
from tunesmith.templates.encode import IGNORE_INDEX, encode_rendered, token_weights
from tunesmith.templates.messages import Conversation

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Get the local time in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def _call(name: str, args: dict[str, Any], cid: str) -> dict[str, Any]:
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}


@dataclass(frozen=True)
class Shape:
    name: str
    messages: tuple[Mapping[str, Any], ...]
    tools: tuple[Mapping[str, Any], ...] | None = None
    add_generation_prompt: bool = False
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def conversation(self) -> Conversation:
        return Conversation.from_openai(list(self.messages), self.tools)


def _pairs(n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for k in range(n):
        out.append({"role": "user", "content": f"Question number {k + 1}: what is {k} + {k}?"})
        out.append({"role": "assistant", "content": f"The answer to {k} + {k} is {2 * k}."})
    return out


def battery(special_strings: Sequence[str] = ()) -> list[Shape]:
    """Every shape of GUIDE §3. ``special_strings``: the template's own markers, put in user text."""
    u, a = "user", "assistant"
    specials = " ".join(special_strings[:4]) or "<|im_start|> [INST] <s>"
    tool_turns = (
        {"role": u, "content": "What's the weather in Paris?"},
        {"role": a, "content": "", "tool_calls": [_call("get_weather", {"city": "Paris"}, "call_0001")]},
        {"role": "tool", "content": '{"temperature": 22, "unit": "celsius"}', "tool_call_id": "call_0001"},
        {"role": a, "content": "It is 22°C in Paris."},
    )
    parallel_turns = (
        {"role": u, "content": "Weather and time in 北京?"},
        {
            "role": a,
            "content": "",
            "tool_calls": [
                _call("get_weather", {"city": "北京", "unit": "celsius"}, "call_0001"),
                _call("get_time", {"city": "北京"}, "call_0002"),
            ],
        },
        {"role": "tool", "content": '{"temperature": 18}', "tool_call_id": "call_0001"},
        {"role": "tool", "content": '{"time": "14:05"}', "tool_call_id": "call_0002"},
        {"role": a, "content": "18°C, and it is 14:05 in 北京."},
    )
    return [
        Shape("user+generation_prompt", ({"role": u, "content": "How are you"},), add_generation_prompt=True),
        Shape(
            "user+assistant", ({"role": u, "content": "How are you"}, {"role": a, "content": "I am fine!"})
        ),
        Shape(
            "system",
            (
                {"role": "system", "content": "You are a terse assistant."},
                {"role": u, "content": "How are you"},
                {"role": a, "content": "I am fine!"},
            ),
        ),
        Shape(
            "empty_system",
            (
                {"role": "system", "content": ""},
                {"role": u, "content": "Hi"},
                {"role": a, "content": "Hello."},
            ),
        ),
        Shape(
            "no_system_multi+prompt",
            tuple(_pairs(1)) + ({"role": u, "content": "你好"},),
            add_generation_prompt=True,
        ),
        Shape("3_turns", tuple(_pairs(3))),
        Shape("20_turns", tuple(_pairs(20))),
        Shape(
            "cjk_emoji_whitespace",
            (
                {"role": u, "content": "  你好，世界！🌍\n\n"},
                {"role": a, "content": "\n很高兴认识你！😀  "},
                {"role": u, "content": "\ttabs and\r\nnewlines "},
                {"role": a, "content": " ok\n"},
            ),
        ),
        Shape("tools", tool_turns, tools=(WEATHER_TOOL,)),
        Shape("parallel_tools", parallel_turns, tools=(WEATHER_TOOL, TIME_TOOL)),
        Shape(
            "reasoning_last",
            (
                {"role": u, "content": "What is 2+2?"},
                {"role": a, "content": "4", "reasoning_content": "2 plus 2 makes 4."},
            ),
        ),
        Shape(
            "reasoning_history",
            (
                {"role": u, "content": "What is 2+2?"},
                {"role": a, "content": "4", "reasoning_content": "Adding."},
                {"role": u, "content": "And 3+3?"},
                {"role": a, "content": "6", "reasoning_content": "Adding again."},
            ),
        ),
        Shape(
            "special_strings_in_user",
            ({"role": u, "content": f"Say {specials} please"}, {"role": a, "content": "No."}),
        ),
        Shape(
            "invalid_roles",
            ({"role": u, "content": "one"}, {"role": u, "content": "two"}, {"role": a, "content": "three"}),
        ),
    ]


@dataclass(frozen=True)
class ShapeResult:
    shape: str
    status: str  # "pass", "fail", "both-reject"
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("pass", "both-reject")


def first_difference(a: str, b: str, context: int = 30) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    lo = max(0, n - 10)
    return f"at char {n}: expected {a[lo : n + context]!r}, got {b[lo : n + context]!r}"


def _reference(tokenizer: Any, source: str | None, shape: Shape) -> tuple[str, list[int]]:
    kw: dict[str, Any] = dict(shape.kwargs)
    if source is not None:
        kw["chat_template"] = source
    msgs = [dict(m) for m in shape.messages]
    tools = [dict(t) for t in shape.tools] if shape.tools else None
    text = tokenizer.apply_chat_template(
        msgs, tools=tools, add_generation_prompt=shape.add_generation_prompt, tokenize=False, **kw
    )
    enc = tokenizer.apply_chat_template(
        msgs, tools=tools, add_generation_prompt=shape.add_generation_prompt, tokenize=True, **kw
    )
    ids = enc["input_ids"] if isinstance(enc, Mapping) or hasattr(enc, "keys") else enc
    return text, list(ids)


def check_labels(shape: Shape, rendered, encoded) -> str | None:
    """Labels cover exactly the assistant outputs: every assistant content is inside a trainable span,
    no user content is, and labelled tokens are exactly the tokens that overlap trainable spans."""
    text = rendered.text
    trainable = rendered.trainable_spans()
    conv = shape.conversation()
    for i, m in enumerate(conv.messages):
        content = m.text.strip()
        if not content:
            continue
        mine = [s for s in trainable if s.index == i]
        inside = any(content in text[s.start : s.end] for s in mine)
        if m.role == "assistant" and content in text and not inside:
            return f"assistant messages[{i}] content is not inside a trained span"
        in_assistant = any(content in am.text for am in conv.messages if am.role == "assistant")
        if m.role == "user" and not in_assistant and any(content in text[s.start : s.end] for s in trainable):
            return f"user messages[{i}] content is trained"
    weights = token_weights(encoded.offsets, trainable)
    for k, (w, label) in enumerate(zip(weights, encoded.labels, strict=True)):
        if (w > 0) != (label != IGNORE_INDEX):
            return f"token {k} label does not match the trained spans"
    return None


def run_battery(
    candidate: ChatTemplate,
    tokenizer: Any,
    *,
    reference_source: str | None = None,
    shapes: Iterable[Shape] | None = None,
    options: RenderOptions | None = None,
) -> list[ShapeResult]:
    """Compare ``candidate`` with ``tokenizer.apply_chat_template`` (its own template, or ``reference_source``)."""
    results = []
    for shape in shapes if shapes is not None else battery():
        try:
            ref_text, ref_ids = _reference(tokenizer, reference_source, shape)
            ref_error = None
        except Exception as exc:  # the official template refuses this input
            ref_text, ref_ids, ref_error = "", [], exc
        try:
            opts = options or RenderOptions(extra=dict(shape.kwargs))
            rendered = candidate.render(
                shape.conversation(), add_generation_prompt=shape.add_generation_prompt, options=opts
            )
            encoded = encode_rendered(tokenizer, rendered)
            our_error = None
        except TemplateError as exc:
            rendered, encoded, our_error = None, None, exc
        if ref_error is not None:
            if our_error is not None:
                results.append(ShapeResult(shape.name, "both-reject", str(our_error)[:120]))
            else:
                results.append(
                    ShapeResult(shape.name, "fail", f"reference raised {ref_error!r}; we rendered")
                )
            continue
        if our_error is not None:
            results.append(ShapeResult(shape.name, "fail", f"we raised: {our_error}"[:300]))
            continue
        assert rendered is not None and encoded is not None
        if rendered.text != ref_text:
            results.append(
                ShapeResult(shape.name, "fail", "text " + first_difference(ref_text, rendered.text))
            )
        elif encoded.input_ids != ref_ids:
            results.append(ShapeResult(shape.name, "fail", "ids differ with identical text"))
        elif (problem := check_labels(shape, rendered, encoded)) is not None:
            results.append(ShapeResult(shape.name, "fail", problem))
        else:
            results.append(ShapeResult(shape.name, "pass"))
    return results


def format_table(rows: Mapping[str, Sequence[ShapeResult]]) -> str:
    """A plain template × shape table (✓ pass, R both reject, ✗ fail) with failure details below."""
    if not rows:
        return "(no templates)"
    shapes = [r.shape for r in next(iter(rows.values()))]
    abbrev = [s[:6] for s in shapes]
    width = max(len(k) for k in rows) + 2
    lines = [" " * width + " ".join(f"{a:>6}" for a in abbrev)]
    details = []
    for name, results in rows.items():
        marks = []
        for r in results:
            marks.append({"pass": "ok", "both-reject": "R"}.get(r.status, "FAIL"))
            if not r.ok:
                details.append(f"  {name} / {r.shape}: {r.detail}")
        lines.append(f"{name:<{width}}" + " ".join(f"{m:>6}" for m in marks))
    passed = sum(r.ok for rs in rows.values() for r in rs)
    total = sum(len(rs) for rs in rows.values())
    lines.append(f"{passed}/{total} shape checks pass")
    return "\n".join(lines + details)
