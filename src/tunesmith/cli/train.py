"""`tunesmith train CONFIG [key=value ...]`."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from tunesmith.cli.common import load_run_config


def run(argv: Sequence[str], *, verb: str = "train") -> int:
    cfg = load_run_config(argv, verb)
    if isinstance(cfg, int):
        return cfg
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
