"""`tunesmith predict CONFIG [key=value ...]`: generate for every example of eval_dataset (or
dataset) and write generated_predictions.jsonl and predict_results.json into output_dir."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from tunesmith.cli.common import load_run_config


def run(argv: Sequence[str], *, verb: str = "predict") -> int:
    cfg = load_run_config(argv, verb)
    if isinstance(cfg, int):
        return cfg
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
