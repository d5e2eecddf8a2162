"""`tunesmith export CONFIG [key=value ...]`: merge adapters and save the model with its chat template."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence


def _setup_logging() -> None:
    from rich.logging import RichHandler

    logging.basicConfig(level=logging.INFO, format="%(message)s", handlers=[RichHandler(show_path=False)])


def run(argv: Sequence[str], *, verb: str = "export") -> int:
    from tunesmith.config import ConfigError, format_help, load_config

    args = list(argv)
    if any(a in ("-h", "--help") for a in args):
        print(format_help(verb))
        return 0
    try:
        cfg = load_config(args, verb=verb)
    except ConfigError as exc:
        print(f"tunesmith {verb}: {exc}", file=sys.stderr)
        return 2
    _setup_logging()
    from tunesmith.model import ModelError, export_model
    from tunesmith.registry import RegistryError
    from tunesmith.templates import TemplateError

    try:
        result = export_model(cfg)
    except (ModelError, TemplateError, RegistryError) as exc:
        print(f"tunesmith {verb}: {exc}", file=sys.stderr)
        return 1
    print(f"exported to {result.export_dir} (template {result.template_name}, {result.dtype})")
    return 0
