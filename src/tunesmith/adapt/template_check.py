"""Which template a model trains with: a registered one that renders like its own, or a derived one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tunesmith.adapt.report import Check
from tunesmith.families.spec import Catalog
from tunesmith.templates.declarative import DeclarativeTemplate


@dataclass(frozen=True)
class TemplateOutcome:
    check: Check
    template: Any
    """The template the smoke test trains with (declarative, or the model's own Jinja)."""
    registered: str | None = None
    """Name of a registered template that renders like the model's own."""
    derived: DeclarativeTemplate | None = None
    unsupported: tuple[tuple[str, str], ...] = ()


def _specials(tokenizer: Any) -> list[str]:
    return [t for t in tokenizer.all_special_tokens if t not in (tokenizer.bos_token, tokenizer.pad_token)]


def check_template(
    catalog: Catalog, tokenizer: Any, model_dir: str, model_type: str | None, name: str
) -> TemplateOutcome:
    from tunesmith.families.resolve import choose_template, renders_like
    from tunesmith.templates import jinja_template_from_tokenizer
    from tunesmith.templates.base import TemplateError
    from tunesmith.templates.conformance import battery, run_battery
    from tunesmith.templates.derive import derive

    try:
        choice = choose_template(catalog, tokenizer, model_dir=model_dir)
    except TemplateError as exc:
        return TemplateOutcome(Check("template", "fail", str(exc)), None)
    if choice.name != "jinja":
        if not getattr(tokenizer, "chat_template", None):
            detail = f"no chat template in the folder; {choice.name} chosen by model_type ({choice.reason}): check it"
            return TemplateOutcome(
                Check("template", "human", detail), choice.template, registered=choice.name
            )
        results = run_battery(choice.template, tokenizer, shapes=battery(_specials(tokenizer)))
        bad = [r for r in results if not r.ok]
        status = "pass" if not bad else "fail"
        detail = (
            f"registered {choice.name} ({choice.reason}); battery {len(results) - len(bad)}/{len(results)}"
        )
        if bad:
            detail += "; " + "; ".join(f"{r.shape}: {r.detail[:120]}" for r in bad)
        return TemplateOutcome(Check("template", status, detail), choice.template, registered=choice.name)
    own = jinja_template_from_tokenizer(tokenizer, "jinja")
    family = catalog.family_for_model_type(model_type) if model_type else None
    # the template named like the model type first (qwen2_vl before qwen2: text-only shapes cannot tell them apart)
    for t in sorted(family.templates if family else (), key=lambda t: t.name != model_type):
        bound = t.bind(dict(tokenizer.special_tokens_map))
        if renders_like(bound, own):
            detail = f"registered {t.name} (family {family.name}) renders identically to the own template"
            return TemplateOutcome(Check("template", "pass", detail), bound, registered=t.name)
    result = derive(own, tokenizer, name)
    if result.template is None:
        detail = f"{result.problem}; training uses the model's own Jinja template (template: jinja), exact by construction"
        return TemplateOutcome(Check("template", "human", detail), own)
    total = len(result.passed) + len(result.failed)
    if not result.failed:
        detail = f"derived declarative template {name!r}: battery {total}/{total}"
        bound = result.template
        return TemplateOutcome(Check("template", "pass", detail), bound, derived=result.template)
    shapes = ", ".join(s for s, _ in result.failed)
    detail = (
        f"derived {name!r} reproduces {len(result.passed)}/{total} battery shapes; not expressible declaratively: "
        f"{shapes}. Training uses the model's own Jinja template (template: jinja); write the rule for those "
        "shapes by hand to use the declarative one"
    )
    return TemplateOutcome(
        Check("template", "human", detail), own, derived=result.template, unsupported=result.failed
    )
