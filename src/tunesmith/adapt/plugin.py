"""The plugin file `tunesmith adapt` writes: a family with the model group, template and composite keys."""

from __future__ import annotations

import pprint

from tunesmith.model.composite import CompositeKeys
from tunesmith.templates.declarative import DeclarativeTemplate
from tunesmith.templates.derive import template_source


def adapt_plugin_source(
    *,
    name: str,
    family: str,
    model_dir: str,
    template_name: str | None,
    derived: DeclarativeTemplate | None,
    unsupported: tuple[tuple[str, str], ...],
    model_type: str | None,
    register_model_type: bool,
    composite: CompositeKeys | None,
    multimodal: bool,
    notes: str,
) -> str:
    head = f'"""Plugin written by `tunesmith adapt {model_dir}`: family {family!r}, model {name!r}."""\n\n'
    imports = "from tunesmith.families import DeclarativeTemplate, Family, ModelGroup\n\n"
    body = ""
    if derived is not None:
        if unsupported:
            body += (
                "# Battery shapes this declarative template does not reproduce (train with template: jinja,\n"
                "# or write these rules by hand):\n"
                + "\n".join(f"#   - {shape}: {why[:150]}" for shape, why in unsupported)
                + "\n"
            )
        body += template_source(derived, family)
    args = [f"    name={family!r},"]
    if derived is not None:
        args.append("    templates=(TEMPLATE,),")
    if template_name and derived is not None and not unsupported:
        args.append(f"    default_template={template_name!r},")
    group_template = template_name if (derived is None or not unsupported) else None
    args.append(
        f"    groups=(ModelGroup({name!r}, template={group_template!r}, multimodal={multimodal!r}),),"
    )
    if register_model_type and model_type:
        args.append(f"    model_types=({model_type!r},),")
    if composite is not None and composite.how == "discovered" and model_type:
        args.append(f"    composite={{{model_type!r}: {pprint.pformat(composite.as_mapping(), width=90)}}},")
    args.append(f"    notes={notes!r},")
    family_src = "FAMILY = Family(\n" + "\n".join(args) + "\n)\n\n\n"
    return head + imports + body + family_src + "def register(catalog):\n    catalog.add_family(FAMILY)\n"
