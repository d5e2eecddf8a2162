"""Loss-curve PNGs from ``trainer_state.json`` (``plot_loss: true``)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def smooth(values: list[float], weight: float | None = None) -> list[float]:
    """Exponential moving average (TensorBoard style); a pure function. The default weight grows with
    the number of points (as LLaMA-Factory's plots do), so a short run is not drawn as lagging."""
    import math

    if weight is None:
        weight = 1.8 * (1 / (1 + math.exp(-0.05 * len(values))) - 0.5)
    out: list[float] = []
    last = values[0] if values else 0.0
    for v in values:
        last = last * weight + (1 - weight) * v
        out.append(last)
    return out


def plot_loss(output_dir: str | Path, keys: tuple[str, ...] = ("loss", "eval_loss")) -> list[Path]:
    """Write ``training_<key>.png`` for every key logged in ``trainer_state.json``; return the files."""
    state = Path(output_dir) / "trainer_state.json"
    if not state.is_file():
        logger.warning("plot_loss: %s not found; nothing to plot", state)
        return []
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        logger.warning("plot_loss needs matplotlib: pip install 'tunesmith[metrics]'")
        return []
    history = json.loads(state.read_text())["log_history"]
    written = []
    for key in keys:
        points = [(h["step"], h[key]) for h in history if key in h]
        if not points:
            continue
        steps, values = zip(*points, strict=True)
        fig = plt.figure()
        plt.plot(steps, values, color="#1f77b4", alpha=0.4, label="original")
        if len(values) > 1:
            plt.plot(steps, smooth(list(values)), color="#1f77b4", label="smoothed")
        plt.title(f"{key} of {Path(output_dir).name}")
        plt.xlabel("step")
        plt.ylabel(key)
        plt.legend()
        path = Path(output_dir) / f"training_{key}.png"
        plt.savefig(path, format="png", dpi=100)
        plt.close(fig)
        written.append(path)
        logger.info("loss curve written to %s", path)
    return written
