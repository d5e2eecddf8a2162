"""`tunesmith predict CONFIG [key=value ...]`: generate for every example of eval_dataset (or
dataset) and write generated_predictions.jsonl and predict_results.json into output_dir."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence


def run(argv: Sequence[str], *, verb: str = "predict") -> int:
    from tunesmith.config import ConfigError, format_help, load_config

    if any(a in ("-h", "--help") for a in argv):
        print(format_help(verb))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        cfg = load_config(list(argv), verb=verb)
    except ConfigError as exc:
        print(f"tunesmith {verb}: {exc}", file=sys.stderr)
        return 2
    from tunesmith.infer.build import user_errors
    from tunesmith.infer.predict import PREDICTIONS_FILE, run_predict

    try:
        result = run_predict(cfg, show_progress=sys.stderr.isatty())
    except user_errors() as exc:
        print(f"tunesmith {verb}: {exc}", file=sys.stderr)
        return 1
    print(f"predictions: {cfg.train.output_dir}/{PREDICTIONS_FILE}")
    for key, value in result.metrics.items():
        print(f"  {key}: {value}")
    return 0
