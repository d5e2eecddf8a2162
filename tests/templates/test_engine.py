"""Typed messages, label options and span derivation details of the template engine."""

from __future__ import annotations

import pytest

from tunesmith.families import build_catalog
from tunesmith.templates import (
    IGNORE_INDEX,
    Conversation,
    ConversationError,
    JinjaTemplate,
    LabelOptions,
    TemplateError,
    ToolCall,
    encode_rendered,
    jinja_template_from_tokenizer,
)

CONV = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "How are you"},
    {"role": "assistant", "content": "I am fine!"},
    {"role": "user", "content": "你好"},
    {"role": "assistant", "content": "很高兴认识你！"},
]


@pytest.fixture(scope="module")
def tok():
    from tunesmith.testing import tiny_tokenizer

    return tiny_tokenizer("qwen2")


def _trained_text(tok, enc) -> str:
    return tok.decode([t for t in enc.labels if t != IGNORE_INDEX])


def test_openai_messages_are_typed() -> None:
    conv = Conversation.from_openai(
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": "a.png"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
                ],
                "reasoning_content": "think",
            },
            {"role": "tool", "content": "42", "tool_call_id": "c1"},
        ],
        tools=[{"name": "f", "parameters": {"type": "object"}}],
    )
    user, assistant, tool = conv.messages
    assert user.text == "look" and user.media[0].source == "a.png"
    assert assistant.tool_calls == (ToolCall("f", {"x": 1}, "c1"),) and assistant.reasoning == "think"
    assert tool.tool_call_id == "c1"
    assert conv.tools[0]["function"]["name"] == "f"  # bare schemas are wrapped
    assert assistant.to_template_dict()["tool_calls"][0]["function"]["arguments"] == {"x": 1}


@pytest.mark.parametrize(
    "bad,where",
    [
        ([{"role": "robot", "content": "x"}], "messages[0].role"),
        ([{"role": "user", "content": 3}], "messages[0].content"),
        (
            [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{oops"}}]}],
            "arguments",
        ),
    ],
)
def test_bad_messages_name_the_field(bad, where) -> None:
    with pytest.raises(ConversationError, match=where.replace("[", r"\[").replace("]", r"\]")):
        Conversation.from_openai(bad)


def test_labels_default_mask_history_train_on_prompt_and_weights(tok) -> None:
    template = build_catalog(entry_points=False).template("qwen2_5").bind(tok.special_tokens_map)
    conv = Conversation.from_openai(CONV)
    rendered = template.render(conv)
    assert (
        _trained_text(tok, encode_rendered(tok, rendered)) == "I am fine!<|im_end|>很高兴认识你！<|im_end|>"
    )
    last = encode_rendered(tok, rendered, LabelOptions(mask_history=True))
    assert _trained_text(tok, last) == "很高兴认识你！<|im_end|>"
    everything = encode_rendered(tok, rendered, LabelOptions(train_on_prompt=True))
    assert everything.labels == everything.input_ids
    weighted = Conversation.from_openai([*CONV[:2], {**CONV[2], "loss_weight": 0.0}, *CONV[3:]])
    enc = encode_rendered(tok, template.render(weighted))
    assert _trained_text(tok, enc) == "很高兴认识你！<|im_end|>"
    assert set(enc.weights) <= {0.0, 1.0}


def test_ids_come_from_one_tokenization(tok) -> None:
    template = build_catalog(entry_points=False).template("qwen2_5").bind(tok.special_tokens_map)
    rendered = template.render(Conversation.from_openai(CONV))
    enc = encode_rendered(tok, rendered)
    assert enc.input_ids == tok(rendered.text, add_special_tokens=False)["input_ids"]
    assert len(enc.labels) == len(enc.input_ids)


def test_jinja_generation_tag_spans() -> None:
    from tunesmith.testing import build_tokenizer

    source = (
        "{% for m in messages %}{% if m.role == 'assistant' %}A: {% generation %}{{ m.content }}</s>"
        "{% endgeneration %}\n{% else %}U: {{ m.content }}\n{% endif %}{% endfor %}"
    )
    tok = build_tokenizer(eos_token="</s>", chat_template=source)
    t = jinja_template_from_tokenizer(tok)
    rendered = t.render(
        Conversation.from_openai([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}])
    )
    assert [rendered.text[s.start : s.end] for s in rendered.trainable_spans()] == ["yo</s>"]


def test_history_reasoning_rule_qwen3() -> None:
    """Reasoning of earlier turns is dropped by the official template, so it is not trained;
    the last turn's reasoning is trained."""
    from tunesmith.testing import tiny_tokenizer

    tok = tiny_tokenizer("qwen3")
    t = jinja_template_from_tokenizer(tok)
    conv = Conversation.from_openai(
        [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b", "reasoning_content": "r1"},
            {"role": "user", "content": "c"},
            {"role": "assistant", "content": "d", "reasoning_content": "r2"},
        ]
    )
    rendered = t.render(conv)
    spans = [rendered.text[s.start : s.end] for s in rendered.trainable_spans()]
    assert spans == ["b<|im_end|>", "<think>\nr2\n</think>\n\nd<|im_end|>"]
    assert "r1" not in rendered.text


def test_official_rejection_is_a_template_error() -> None:
    t = JinjaTemplate("{{ raise_exception('System role not supported') }}", {}, "strict")
    with pytest.raises(TemplateError, match="System role not supported"):
        t.render(Conversation.from_openai([{"role": "user", "content": "x"}]))
