"""``predict_with_generate`` after an sft run: the trained (in-memory) model answers the eval split's
prompts through the run's template; BLEU-4 / ROUGE against the reference answers become
``eval_bleu-4``, ``eval_rouge-1`` … and the answers go to ``generated_predictions.jsonl``."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunesmith.config import RunConfig
    from tunesmith.infer.predict import PredictItem
    from tunesmith.templates.base import ChatTemplate

logger = logging.getLogger(__name__)


def eval_items(cfg: RunConfig, *, tool_format: str | None = None) -> list[PredictItem]:
    """The conversations of the sft eval split (``eval_dataset``, else the ``val_size`` hold-out, drawn
    with the same seed as for training), each as prompt (minus the final assistant turn) and label."""
    from tunesmith.data import ConversationExample
    from tunesmith.data.pipeline import _load_splits
    from tunesmith.infer.predict import PredictItem, split_prompt
    from tunesmith.infer.session import with_default_system

    _, held, _ = _load_splits(cfg, "sft")
    items: list[PredictItem] = []
    for example in held:
        if not isinstance(example, ConversationExample):
            raise TypeError(f"expected conversations, got {type(example).__name__}")
        conv = with_default_system(example.conversation, cfg.template.default_system)
        prompt, label = split_prompt(conv, tool_format=tool_format)
        items.append(PredictItem(prompt, label, example.source))
    return items


def generate_eval(
    cfg: RunConfig, model: Any, tokenizer: Any, template: ChatTemplate, output_dir: str | Path
) -> dict[str, float]:
    """Generate for the eval split with ``model``, write ``generated_predictions.jsonl`` into
    ``output_dir`` and return ``{"eval_bleu-4": …, "eval_rouge-1": …, "eval_rouge-2": …, "eval_rouge-l": …}``."""
    from tunesmith.infer.build import render_options
    from tunesmith.infer.engine import TransformersEngine
    from tunesmith.infer.metrics import corpus_scores, prefixed
    from tunesmith.infer.predict import PREDICTIONS_FILE, predict
    from tunesmith.infer.sampling import SamplingParams

    tokenizer = getattr(tokenizer, "tokenizer", tokenizer)
    was_training = model.training
    model.eval()
    try:
        engine = TransformersEngine(
            model,
            tokenizer,
            template,
            tool_format=cfg.template.tool_format,
            render_options=render_options(cfg),
        )
        items = eval_items(cfg, tool_format=engine.tool_format)
        params = SamplingParams.from_config(cfg.generate)
        result = predict(
            engine,
            items,
            params,
            batch_size=cfg.train.per_device_eval_batch_size,
            show_progress=False,
        )
    finally:
        model.train(was_training)
    path = Path(output_dir) / PREDICTIONS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for row in result.rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    logger.info("wrote %d eval predictions to %s", len(result.rows), path)
    scores = corpus_scores((r["predict"] for r in result.rows), (r["label"] for r in result.rows))
    return prefixed(scores, "eval")
