"""Tool calls end to end: a tiny qwen3 model fine-tuned (full, on CPU) to answer a prompt with a
``<tool_call>``, served, and asked through the openai client; the call comes back as ``tool_calls``
with finish_reason ``tool_calls``, streamed and not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serve.conftest import Running, serving

openai = pytest.importorskip("openai")

pytestmark = pytest.mark.slow

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather of a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
QUESTION = [{"role": "user", "content": "weather in Paris?"}]
CALL = {"type": "function", "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})}}


@pytest.fixture(scope="module")
def tool_model(tmp_path_factory) -> Path:
    """Memorise one tool-calling answer: full fine-tune of a tiny model, 40 steps (~10-30 s on CPU)."""
    from tunesmith.config import load_config
    from tunesmith.testing import build_tiny_model
    from tunesmith.train.workflow import run_train

    root = tmp_path_factory.mktemp("tool-sft")
    base = build_tiny_model("qwen3", root / "base")
    record = {
        "messages": [*QUESTION, {"role": "assistant", "content": "", "tool_calls": [CALL]}],
        "tools": json.dumps(TOOLS),
    }
    data = root / "data"
    data.mkdir()
    (data / "tools.json").write_text(json.dumps([record]))
    info = {
        "tools_sft": {
            "file_name": "tools.json",
            "formatting": "openai",
            "columns": {"messages": "messages", "tools": "tools"},
        }
    }
    (data / "dataset_info.json").write_text(json.dumps(info))
    out = root / "tiny-tools"
    cfg = load_config(
        [
            f"model_name_or_path={base}",
            "stage=sft",
            "do_train=true",
            "finetuning_type=full",
            "dataset=tools_sft",
            f"dataset_dir={data}",
            f"output_dir={out}",
            "per_device_train_batch_size=1",
            "learning_rate=5e-3",
            "max_steps=40",
            "logging_steps=10",
            "save_strategy=no",
            "report_to=none",
            "cutoff_len=512",
            "overwrite_output_dir=true",
            "seed=0",
        ],
        verb="train",
    )
    run_train(cfg)
    return out


@pytest.fixture(scope="module")
def tool_server(tool_model) -> Iterator[Running]:
    from tunesmith.config import load_config
    from tunesmith.infer import SamplingParams
    from tunesmith.serve.backend import build_serving_engine

    engine = build_serving_engine(load_config([f"model_name_or_path={tool_model}"], verb="serve"))
    from tunesmith.serve.toolcalls import tool_call_marker

    assert tool_call_marker(engine.tool_format) == "<tool_call>"  # qwen / hermes: same call format
    with serving(engine, model_name="tiny-tools", defaults=SamplingParams(max_new_tokens=64)) as running:
        yield running


@pytest.fixture(scope="module")
def client(tool_server) -> Any:
    return openai.OpenAI(base_url=tool_server.base_url, api_key="unused", max_retries=0, timeout=120)


def ask(client: Any, **kwargs: Any) -> Any:
    return client.chat.completions.create(
        model="tiny-tools", messages=QUESTION, tools=TOOLS, temperature=0, max_tokens=64, **kwargs
    )


def test_tool_call_non_streamed(client) -> None:
    reply = ask(client)
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert "<tool_call>" not in (choice.message.content or "")


def test_tool_call_streamed_matches(client) -> None:
    reply = ask(client).choices[0]
    content, calls, reason, usage = [], {}, None, None
    for chunk in ask(client, stream=True, stream_options={"include_usage": True}):
        usage = chunk.usage or usage
        for choice in chunk.choices:
            content.append(choice.delta.content or "")
            for delta in choice.delta.tool_calls or ():
                entry = calls.setdefault(delta.index, {"name": "", "arguments": "", "id": None})
                entry["id"] = delta.id or entry["id"]
                entry["name"] += delta.function.name or ""
                entry["arguments"] += delta.function.arguments or ""
            reason = choice.finish_reason or reason
    assert reason == "tool_calls"
    assert [(c["name"], json.loads(c["arguments"])) for c in calls.values()] == [
        ("get_weather", {"city": "Paris"})
    ]
    assert "".join(content) == (reply.message.content or "")
    assert "<tool_call>" not in "".join(content)
    assert usage is not None and usage.completion_tokens == ask(client).usage.completion_tokens


def test_tool_choice_none_returns_text(client) -> None:
    choice = ask(client, tool_choice="none").choices[0]
    assert choice.finish_reason == "stop"
    assert not choice.message.tool_calls
    assert "<tool_call>" in choice.message.content


def test_tool_result_turn_is_accepted(client) -> None:
    first = ask(client).choices[0].message
    call = first.tool_calls[0]
    messages = [
        *QUESTION,
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temp_c": 21})},
    ]
    reply = client.chat.completions.create(
        model="tiny-tools", messages=messages, tools=TOOLS, temperature=0, max_tokens=8
    )
    assert reply.choices[0].finish_reason in ("stop", "length", "tool_calls")
