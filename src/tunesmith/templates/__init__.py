"""The template engine: typed conversations, declarative and Jinja templates, spans, labels, export."""

from __future__ import annotations

from typing import Any

from tunesmith.templates.base import ChatTemplate, Rendered, RenderOptions, Span, TemplateError
from tunesmith.templates.declarative import DeclarativeTemplate, ReasoningSpec
from tunesmith.templates.encode import IGNORE_INDEX, Encoded, LabelOptions, encode_rendered
from tunesmith.templates.jinja import JinjaTemplate
from tunesmith.templates.messages import Conversation, ConversationError, Message, Part, ToolCall

__all__ = [
    "IGNORE_INDEX",
    "ChatTemplate",
    "Conversation",
    "ConversationError",
    "DeclarativeTemplate",
    "Encoded",
    "JinjaTemplate",
    "LabelOptions",
    "Message",
    "Part",
    "ReasoningSpec",
    "RenderOptions",
    "Rendered",
    "Span",
    "TemplateError",
    "ToolCall",
    "encode_rendered",
    "jinja_template_from_tokenizer",
]


def jinja_template_from_tokenizer(tokenizer: Any, name: str = "jinja") -> JinjaTemplate:
    """The tokenizer's own chat template as a :class:`JinjaTemplate` (special tokens as transformers passes them)."""
    source = getattr(tokenizer, "chat_template", None)
    if not source:
        raise TemplateError(
            f"{getattr(tokenizer, 'name_or_path', 'this tokenizer') or 'this tokenizer'} has no chat template; "
            "choose a registered template with --template NAME (see `tunesmith template list`)"
        )
    return JinjaTemplate(
        source=source,
        special_tokens=dict(tokenizer.special_tokens_map),
        name=name,
        control_tokens=tuple(tokenizer.all_special_tokens),
    )
