"""The supported-models page (docs/supported-models.md), generated from the catalog.

Regenerate with ``python -m tunesmith.families.docs > docs/supported-models.md``; a test fails when the
committed page is stale.
"""

from __future__ import annotations

import sys

from tunesmith.families.spec import Catalog

REGENERATE_COMMAND = "python -m tunesmith.families.docs > docs/supported-models.md"


def _cell(value: str | None) -> str:
    return (value or "-").replace("|", "\\|")


def supported_models_markdown(catalog: Catalog) -> str:
    """Markdown: per family (sorted by name), its models in registration order and its templates,
    each with whether it has an official reference template in the conformance corpus."""
    lines = [
        "# Supported models",
        "",
        f"<!-- Generated from the catalog; do not edit by hand. Regenerate with: {REGENERATE_COMMAND} -->",
        "",
        "Every model group registered by the built-in families, with its default chat template. Any other "
        "model works with its own chat template (`template: jinja`); see adding-a-model.md to register one.",
        "",
    ]
    groups_by_family: dict[str, list] = {}
    for entry in catalog.groups:
        group, family_name = entry.item
        groups_by_family.setdefault(family_name, []).append(group)
    families = sorted(catalog.families, key=lambda e: e.name)
    for entry in families:
        family = entry.item
        lines += [f"## {family.name}", ""]
        if family.model_types:
            lines += ["config.json `model_type`: " + ", ".join(f"`{t}`" for t in family.model_types), ""]
        groups = groups_by_family.get(family.name, [])
        if groups:
            lines += [
                "| model | Hugging Face | ModelScope | template | multimodal |",
                "| --- | --- | --- | --- | --- |",
            ]
            for g in groups:
                template = catalog.default_template_for(family, g)
                lines.append(
                    f"| {_cell(g.name)} | {_cell(g.hf_id)} | {_cell(g.ms_id)} | {_cell(template)} | "
                    f"{'yes' if g.multimodal else 'no'} |"
                )
            lines.append("")
        templates = [e for e in catalog.templates if e.item.family == family.name]
        if templates:
            default = catalog.default_template_for(family)
            lines += ["| template | default | official reference |", "| --- | --- | --- |"]
            for t in templates:
                ref = f"yes (`{t.item.reference}`)" if t.item.reference else "no"
                lines.append(f"| {_cell(t.name)} | {'yes' if t.name == default else ''} | {ref} |")
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> int:
    from tunesmith.families.spec import build_catalog

    sys.stdout.write(supported_models_markdown(build_catalog(entry_points=False)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
