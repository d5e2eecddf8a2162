"""`tunesmith adapt MODEL_DIR [--name NAME] [--out plugin.py]`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tunesmith adapt",
        description="Inspect a model folder, check template / composite keys / quantization, run one LoRA "
        "step and one generation on a truncated copy (CPU), and write a plugin file.",
    )
    p.add_argument("model_dir", help="saved model folder (config.json, weights, tokenizer)")
    p.add_argument("--name", help="model group / template name (default: from the folder name)")
    p.add_argument("--out", help="plugin file to write (default: <name>_plugin.py)")
    p.add_argument("--layers", type=int, default=2, help="layers kept in the truncated copy (default 2)")
    p.add_argument(
        "--plugins", action="append", default=[], metavar="FILE", help="plugin files to load first"
    )
    return p


def run(argv: Sequence[str], *, verb: str = "adapt") -> int:
    args = _parser().parse_args(list(argv))
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    from tunesmith.adapt import run_adapt
    from tunesmith.model.errors import ModelError

    try:
        report = run_adapt(
            args.model_dir, name=args.name, out=args.out, plugins=args.plugins, layers=args.layers
        )
    except (ModelError, OSError, ValueError, ImportError) as exc:
        print(f"tunesmith adapt: {exc}", file=sys.stderr)
        return 1
    print(report.format())
    return 0 if report.ok else 1
