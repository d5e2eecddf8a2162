"""Choosing the template for a model, with the reason logged — never a silent fallback.

Order (when no template is named):
1. the model directory's ``config.json`` ``model_type`` belongs to a registered family whose default
   declarative template renders exactly like the directory's own chat template over the conformance
   battery (or the directory has no chat template) → that declarative template;
2. the directory's own chat template (Jinja) → rendered as is;
3. otherwise: an error saying which template names exist.

``template: jinja`` (or ``own``) forces the model's own Jinja template; any other name must be
registered.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunesmith.families.spec import Catalog
from tunesmith.templates import JinjaTemplate, jinja_template_from_tokenizer
from tunesmith.templates.base import ChatTemplate, TemplateError
from tunesmith.templates.declarative import DeclarativeTemplate

logger = logging.getLogger(__name__)

OWN_TEMPLATE_NAMES = ("jinja", "own", "model")


@dataclass(frozen=True)
class TemplateChoice:
    template: ChatTemplate
    name: str
    reason: str


def read_model_type(model_dir: str | Path) -> str | None:
    cfg = Path(model_dir) / "config.json"
    if not cfg.is_file():
        return None
    try:
        data = json.loads(cfg.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    model_type = data.get("model_type")
    if model_type is None and isinstance(data.get("text_config"), dict):
        model_type = data["text_config"].get("model_type")
    return model_type


def renders_like(candidate: ChatTemplate, reference: JinjaTemplate) -> bool:
    """True when ``candidate`` renders the same text as ``reference`` over the whole battery
    (both refusing an input counts as agreement)."""
    from tunesmith.templates.conformance import battery

    for shape in battery():
        conv = shape.conversation()
        outs = []
        for t in (candidate, reference):
            try:
                outs.append(t.render(conv, add_generation_prompt=shape.add_generation_prompt).text)
            except TemplateError:
                outs.append(None)
        if outs[0] != outs[1]:
            return False
    return True


def choose_template(
    catalog: Catalog,
    tokenizer: Any,
    *,
    name: str | None = None,
    model_dir: str | Path | None = None,
) -> TemplateChoice:
    if name and name.lower() in OWN_TEMPLATE_NAMES:
        return TemplateChoice(jinja_template_from_tokenizer(tokenizer, "jinja"), "jinja", "asked for by name")
    if name:
        declarative: DeclarativeTemplate = catalog.template(name)
        bound = declarative.bind(dict(tokenizer.special_tokens_map))
        return TemplateChoice(bound, declarative.name, "asked for by name")
    own = None
    if getattr(tokenizer, "chat_template", None):
        own = jinja_template_from_tokenizer(tokenizer, "jinja")
    model_type = read_model_type(model_dir) if model_dir is not None else None
    if model_type:
        family = catalog.family_for_model_type(model_type)
        if family is not None:
            default = catalog.default_template_for(family)
            if default:
                bound = catalog.template(default).bind(dict(tokenizer.special_tokens_map))
                if own is None:
                    choice = TemplateChoice(
                        bound,
                        default,
                        f"model_type {model_type!r} → family {family.name}; no own chat template",
                    )
                    logger.info("template %s: %s", choice.name, choice.reason)
                    return choice
                if renders_like(bound, own):
                    choice = TemplateChoice(
                        bound,
                        default,
                        f"model_type {model_type!r} → family {family.name}; renders identically to the own template",
                    )
                    logger.info("template %s: %s", choice.name, choice.reason)
                    return choice
                logger.info(
                    "model_type %r → family %s, but %s differs from the directory's chat template; "
                    "using the directory's own template",
                    model_type,
                    family.name,
                    default,
                )
    if own is not None:
        choice = TemplateChoice(own, "jinja", "the model directory's own chat template")
        logger.info("template jinja: %s", choice.reason)
        return choice
    raise TemplateError(
        f"cannot choose a template for {model_dir or 'this model'}: it has no chat template and its model_type "
        f"{model_type!r} is not registered. Name one with --template (see `tunesmith template list`)."
    )
