"""Post-processing of generated text (stop strings, tool calls, finish reason), also end to end
through the engine with a stand-in model that writes a fixed reply."""

from __future__ import annotations

from typing import Any

import pytest

from tunesmith.infer import SamplingParams, TransformersEngine, finish, held_back, trim_at_stop
from tunesmith.templates import Conversation, Message, ToolCall

TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'


def test_trim_and_hold_back() -> None:
    assert trim_at_stop("hello STOP world", ["STOP", "wor"]) == ("hello ", True)
    assert trim_at_stop("hello", ["STOP"]) == ("hello", False)
    assert held_back("abc<|im", ["<|im_end|>"]) == 4
    assert held_back("abc<|im_end", ["<|im_end|>", "xyz"]) == 8
    assert held_back("abc", ["<|im_end|>"]) == 0


def test_finish_reads_hermes_tool_calls() -> None:
    g = finish(
        f"Let me check.\n{CALL}",
        stops=(),
        stopped=True,
        completion_tokens=30,
        max_new_tokens=64,
        tool_format="hermes",
    )
    assert g.finish_reason == "tool_calls"
    assert g.tool_calls == (ToolCall("get_weather", {"city": "Paris"}),)
    assert g.content == "Let me check." and g.reply == "Let me check."
    assert g.text.endswith("</tool_call>")


def test_finish_without_tools_or_on_length_keeps_text() -> None:
    g = finish(CALL, stops=(), stopped=True, completion_tokens=30, max_new_tokens=64, tool_format=None)
    assert g.tool_calls == () and g.finish_reason == "stop" and g.reply == CALL
    g = finish(
        CALL[:20], stops=(), stopped=False, completion_tokens=64, max_new_tokens=64, tool_format="hermes"
    )
    assert g.finish_reason == "length" and g.tool_calls == ()


def test_finish_reports_unreadable_calls() -> None:
    bad = '<tool_call>\n{"name": "f", "arguments": {\n</tool_call>'
    g = finish(bad, stops=(), stopped=True, completion_tokens=5, max_new_tokens=64, tool_format="hermes")
    assert g.finish_reason == "stop" and g.tool_calls == () and g.tool_errors


class ScriptedModel:
    """Stands in for a causal LM: ``generate`` appends the ids of a fixed reply."""

    def __init__(self, reply_ids: list[int], generation_config: Any) -> None:
        self.reply_ids = reply_ids
        self.generation_config = generation_config
        self.device = None
        self.calls: list[dict[str, Any]] = []

    def generate(self, input_ids: Any, attention_mask: Any, **kwargs: Any) -> Any:
        import torch

        self.calls.append(kwargs)
        reply = self.reply_ids[: kwargs["max_new_tokens"]]
        tail = torch.tensor([reply] * input_ids.shape[0], dtype=torch.long)
        return torch.cat([input_ids, tail], dim=1)


@pytest.fixture
def scripted(tiny_parts):
    _, tokenizer, template = tiny_parts
    from transformers import GenerationConfig

    def make(reply: str) -> TransformersEngine:
        ids = tokenizer(reply, add_special_tokens=False)["input_ids"]
        cfg = GenerationConfig(eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"))
        return TransformersEngine(ScriptedModel(ids, cfg), tokenizer, template)

    return make


def test_engine_parses_tool_calls_only_with_tools(scripted) -> None:
    engine = scripted(f"{CALL}<|im_end|>")
    with_tools = Conversation((Message("user", "weather in Paris?"),), TOOLS)
    (g,) = engine.generate([with_tools], SamplingParams(max_new_tokens=200))
    assert g.finish_reason == "tool_calls"
    assert g.tool_calls == (ToolCall("get_weather", {"city": "Paris"}),)
    assert g.content == ""
    (plain,) = engine.generate([Conversation((Message("user", "hi"),))], SamplingParams(max_new_tokens=200))
    # without tools nothing is parsed (and this tiny tokenizer's <tool_call> is special, so dropped)
    assert plain.finish_reason == "stop" and plain.tool_calls == () and '"get_weather"' in plain.text


def test_engine_trims_forced_stop_string_and_counts_tokens(scripted, tiny_parts) -> None:
    _, tokenizer, _ = tiny_parts
    engine = scripted("hello STOP world<|im_end|>")
    conv = Conversation((Message("user", "hi"),))
    (g,) = engine.generate([conv], SamplingParams(max_new_tokens=50, stop=("STOP",)))
    assert g.text == "hello " and g.finish_reason == "stop"
    assert g.completion_tokens == len(tokenizer("hello STOP", add_special_tokens=False)["input_ids"])
    assert g.prompt_tokens == len(engine.render(conv).ids)
    (whole,) = engine.generate([conv], SamplingParams(max_new_tokens=50))
    assert whole.text == "hello STOP world" and whole.finish_reason == "stop"
    (cut,) = engine.generate([conv], SamplingParams(max_new_tokens=2))
    assert cut.finish_reason == "length" and cut.completion_tokens == 2


def test_tiny_temperatures_decode_greedily() -> None:
    """logits / 5e-192 overflow to inf (schemathesis found it): such temperatures are greedy decoding."""
    from tunesmith.infer import SamplingParams

    assert SamplingParams(do_sample=True, temperature=5.0479571832901e-192).greedy
    assert SamplingParams(do_sample=True, temperature=1e-6).greedy
    assert not SamplingParams(do_sample=True, temperature=1e-4).greedy
