"""`tunesmith train CONFIG [key=value ...]`."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence


def run(argv: Sequence[str], *, verb: str = "train") -> int:
    from tunesmith.config import ConfigError, format_help, load_config

    if any(a in ("-h", "--help") for a in argv):
        print(format_help(verb))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        cfg = load_config(list(argv), verb=verb)
    except ConfigError as exc:
        print(f"tunesmith train: {exc}", file=sys.stderr)
        return 2
    from tunesmith.train.workflow import run_train

    try:
        result = run_train(cfg)
    except (ValueError, FileNotFoundError, ImportError) as exc:
        print(f"tunesmith train: {exc}", file=sys.stderr)
        return 1
    print(f"output_dir: {result.output_dir}")
    for key in ("train_loss", "trained_tokens", "train_tokens_per_second", "peak_memory_mb"):
        if key in result.summary:
            print(f"  {key}: {result.summary[key]}")
    return 0
