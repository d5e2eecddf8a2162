"""Choosing the template for a model, with the reason logged — never a silent fallback.

Order (when no template is named):
1. the model directory's name (or ``model_name_or_path`` when it is a hub id) matches a registered
   model group — by group name or the last part of its Hugging Face / ModelScope id,
   case-insensitive → that group's template; when the directory has its own chat template and the
   group's template does not render exactly like it over the conformance battery, the directory's
   own template is used instead (the reason is logged);
2. the directory's ``config.json`` ``architectures`` or ``model_type`` belongs to a registered family
   whose default declarative template renders exactly like the directory's own chat template (or the
   directory has no chat template) → that declarative template;
3. the directory's own chat template is identical (after stripping) to a registered template's exported
   Jinja, or renders exactly like one of the registered templates that have an official reference
   (the candidate family's templates are tried first) → that declarative template;
4. the directory's own chat template (Jinja) → rendered as is;
5. otherwise: an error saying which template names exist.

``template: jinja`` (or ``own``) forces the model's own Jinja template; any other name must be
registered.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunesmith.families.spec import Catalog, Family, ModelGroup
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


def read_config(model_dir: str | Path) -> dict[str, Any] | None:
    """The directory's ``config.json`` as a dict, or None when absent or unreadable."""
    cfg = Path(model_dir) / "config.json"
    if not cfg.is_file():
        return None
    try:
        data = json.loads(cfg.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _model_type_of(data: Mapping[str, Any] | None) -> str | None:
    if data is None:
        return None
    model_type = data.get("model_type")
    if model_type is None and isinstance(data.get("text_config"), dict):
        model_type = data["text_config"].get("model_type")
    return model_type if isinstance(model_type, str) else None


def _architectures_of(data: Mapping[str, Any] | None) -> tuple[str, ...]:
    if data is None:
        return ()
    archs = data.get("architectures")
    if not archs and isinstance(data.get("text_config"), dict):
        archs = data["text_config"].get("architectures")
    return tuple(a for a in archs or () if isinstance(a, str))


def read_model_type(model_dir: str | Path) -> str | None:
    return _model_type_of(read_config(model_dir))


def read_architectures(model_dir: str | Path) -> tuple[str, ...]:
    return _architectures_of(read_config(model_dir))


def family_for_architectures(catalog: Catalog, architectures: tuple[str, ...]) -> Family | None:
    for arch in architectures:
        for entry in catalog.families:
            if arch in entry.item.architectures:
                return entry.item
    return None


def _last_part(identifier: str) -> str:
    return identifier.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1].lower()


def group_for_model(catalog: Catalog, model: str | Path) -> tuple[ModelGroup, str] | None:
    """The registered model group whose name, or the last part of whose hub id, is the last part of
    ``model`` (a directory or a hub id), case-insensitive: ``(group, family name)``."""
    key = _last_part(str(model))
    if not key:
        return None
    for entry in catalog.groups:
        group, family = entry.item
        names = {group.name.lower()}
        names.update(_last_part(i) for i in (group.hf_id, group.ms_id) if i)
        if key in names:
            return group, family
    return None


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


def _chosen(choice: TemplateChoice) -> TemplateChoice:
    logger.info("template %s: %s", choice.name, choice.reason)
    return choice


def _candidate_entries(
    catalog: Catalog, families: list[str], prefer: str | None
) -> Iterator[tuple[str, Any]]:
    """The template named like the model type, then the candidate families' templates, then every
    other one (registration order): text-only battery shapes cannot tell qwen2_vl from qwen2."""
    entries = list(catalog.templates)
    seen: set[str] = set()
    if prefer and prefer in catalog.templates:
        seen.add(catalog.templates.entry(prefer).name)
        yield catalog.templates.entry(prefer).name, catalog.templates.get(prefer)
    for family in families:
        for e in entries:
            if e.item.family == family and e.name not in seen:
                seen.add(e.name)
                yield e.name, e.item
    for e in entries:
        if e.name not in seen:
            seen.add(e.name)
            yield e.name, e.item


def _own_source(tokenizer: Any) -> str | None:
    source = getattr(tokenizer, "chat_template", None)
    if isinstance(source, Mapping):
        source = source.get("default")
    return source.strip() if isinstance(source, str) else None


def _match_registered(
    catalog: Catalog,
    tokenizer: Any,
    own: JinjaTemplate,
    specials: dict[str, Any],
    families: list[str],
    prefer: str | None,
) -> TemplateChoice | None:
    """Step 3: a registered template identical to the own Jinja, or rendering exactly like it."""
    source = _own_source(tokenizer)
    candidates = list(_candidate_entries(catalog, families, prefer))
    bound: dict[str, DeclarativeTemplate] = {}
    for name, entry in candidates:
        bound[name] = entry.template.bind(specials)
        if source is None:
            continue
        for t in (bound[name], entry.template):
            try:
                exported = t.to_jinja()
            except (TemplateError, ValueError, NotImplementedError):
                continue
            if exported.strip() == source:
                return TemplateChoice(
                    bound[name], name, f"the own chat template is identical to {name}'s exported Jinja"
                )
    for name, entry in candidates:
        if entry.reference and renders_like(bound[name], own):
            return TemplateChoice(
                bound[name],
                name,
                f"the own chat template renders identically to {name} (official reference {entry.reference})",
            )
    return None


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
    specials = dict(tokenizer.special_tokens_map)
    own = None
    if getattr(tokenizer, "chat_template", None):
        own = jinja_template_from_tokenizer(tokenizer, "jinja")

    # 1. the model's name matches a registered model group
    matched = group_for_model(catalog, model_dir) if model_dir is not None else None
    if matched is not None:
        group, family_name = matched
        default = catalog.default_template_for(catalog.families.get(family_name), group)
        if default:
            bound = catalog.template(default).bind(specials)
            what = (
                f"model name {_last_part(str(model_dir))!r} → model group {group.name} (family {family_name})"
            )
            if own is None:
                return _chosen(TemplateChoice(bound, default, f"{what}; no own chat template"))
            if renders_like(bound, own):
                return _chosen(
                    TemplateChoice(bound, default, f"{what}; renders identically to the own template")
                )
            return _chosen(
                TemplateChoice(
                    own,
                    "jinja",
                    f"{what}, but {default} renders differently from the directory's own chat template; "
                    "using the own template",
                )
            )

    # 2. config.json architectures / model_type → family default
    config = read_config(model_dir) if model_dir is not None else None
    model_type = _model_type_of(config)
    architectures = _architectures_of(config)
    family = catalog.family_for_model_type(model_type) if model_type else None
    how = f"model_type {model_type!r}"
    if family is None and architectures:
        family = family_for_architectures(catalog, architectures)
        how = f"architectures {list(architectures)!r}"
    if family is not None:
        default = catalog.default_template_for(family)
        if default:
            bound = catalog.template(default).bind(specials)
            if own is None:
                return _chosen(
                    TemplateChoice(bound, default, f"{how} → family {family.name}; no own chat template")
                )
            if renders_like(bound, own):
                return _chosen(
                    TemplateChoice(
                        bound,
                        default,
                        f"{how} → family {family.name}; renders identically to the own template",
                    )
                )
            logger.info(
                "%s → family %s, but %s differs from the directory's chat template; "
                "looking for a registered template that matches it",
                how,
                family.name,
                default,
            )

    if own is not None:
        # 3. the own template is a registered one
        match = _match_registered(
            catalog, tokenizer, own, specials, [family.name] if family else [], model_type
        )
        if match is not None:
            return _chosen(match)
        # 4. the own template as is
        return _chosen(
            TemplateChoice(
                own,
                "jinja",
                "the model directory's own chat template (no registered template renders like it)",
            )
        )
    raise TemplateError(
        f"cannot choose a template for {model_dir or 'this model'}: it has no chat template and its model_type "
        f"{model_type!r} is not registered. Name one with --template (see `tunesmith template list`)."
    )
