"""`tunesmith models list`: the registered model groups (hub ids, default template, multimodal)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tunesmith models", description="Registered models (model groups).")
    sub = p.add_subparsers(dest="action", required=True)
    sp = sub.add_parser("list", help="every registered model with its hub ids and default template")
    sp.add_argument("--family", help="only this family's models")
    sp.add_argument(
        "--plugins",
        action="append",
        default=[],
        metavar="FILE",
        help="plugin file registering families (repeatable)",
    )
    return p


def model_rows(catalog, family: str | None = None) -> list[tuple[str, str, str, str, str, str]]:
    """(name, family, Hugging Face id, ModelScope id, default template, multimodal) in registration order."""
    rows = []
    for entry in catalog.groups:
        group, family_name = entry.item
        if family is not None and family_name.lower() != family.lower():
            continue
        default = catalog.default_template_for(catalog.families.get(family_name), group)
        rows.append(
            (
                group.name,
                family_name,
                group.hf_id or "-",
                group.ms_id or "-",
                default or "-",
                "yes" if group.multimodal else "no",
            )
        )
    return rows


def cmd_list(args: argparse.Namespace) -> int:
    from tunesmith.families import build_catalog

    catalog = build_catalog(args.plugins)
    if args.family is not None and args.family not in catalog.families:
        names = ", ".join(sorted(catalog.families.names()))
        print(f"tunesmith models: unknown family {args.family!r}; registered: {names}", file=sys.stderr)
        return 1
    rows = model_rows(catalog, args.family)
    header = ("model", "family", "Hugging Face", "ModelScope", "template", "multimodal")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(f"{c:<{w}}" for c, w in zip(r, widths, strict=True)).rstrip())
    print(f"\n{len(rows)} models.")
    return 0


def run(argv: Sequence[str], *, verb: str = "models") -> int:
    args = _parser().parse_args(list(argv))
    from tunesmith.registry import RegistryError

    try:
        return {"list": cmd_list}[args.action](args)
    except (RegistryError, FileNotFoundError, ImportError) as exc:
        print(f"tunesmith models: {exc}", file=sys.stderr)
        return 1
