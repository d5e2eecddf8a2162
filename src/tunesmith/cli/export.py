"""`tunesmith export CONFIG [key=value ...]`: merge adapters and save the model with its chat template."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from tunesmith.cli.common import load_run_config


def _setup_logging() -> None:
    from rich.logging import RichHandler

    logging.basicConfig(level=logging.INFO, format="%(message)s", handlers=[RichHandler(show_path=False)])


def run(argv: Sequence[str], *, verb: str = "export") -> int:
    cfg = load_run_config(argv, verb, setup_logging=False)
    if isinstance(cfg, int):
        return cfg
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
