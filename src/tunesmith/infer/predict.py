"""Batch prediction over a dataset: each conversation minus its final assistant turn is the prompt,
that turn is the label. Writes ``generated_predictions.jsonl`` (``prompt``, ``predict``, ``label`` per
line, as LLaMA-Factory does) and ``predict_results.json`` (BLEU-4 / ROUGE when there are labels,
and timing)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunesmith.infer.engine import InferenceEngine
from tunesmith.infer.metrics import corpus_scores, prefixed
from tunesmith.infer.output import Generation
from tunesmith.infer.sampling import SamplingParams
from tunesmith.infer.session import with_default_system
from tunesmith.templates.messages import Conversation, Message

if TYPE_CHECKING:
    from tunesmith.config import RunConfig
    from tunesmith.data import RecordRef

logger = logging.getLogger(__name__)

PREDICTIONS_FILE = "generated_predictions.jsonl"
RESULTS_FILE = "predict_results.json"


@dataclass(frozen=True)
class PredictItem:
    """One prompt to answer and, when the data has it, the reference answer."""

    prompt: Conversation
    label: str | None = None
    source: RecordRef | None = None


@dataclass(frozen=True)
class PredictResult:
    rows: list[dict[str, Any]]
    """``{"prompt", "predict", "label"}`` per item, in input order."""
    generations: list[Generation]
    metrics: dict[str, float] = field(default_factory=dict)
    skipped: int = 0
    """Items whose prompt could not be rendered (each one logged with its record)."""


def split_prompt(
    conversation: Conversation, *, tool_format: str | None = None
) -> tuple[Conversation, str | None]:
    """The prompt (``conversation`` without its final assistant turn) and that turn's text as label
    (tool calls written with ``tool_format``); a conversation that does not end with the assistant is
    all prompt, without label."""
    if not conversation.messages or conversation.messages[-1].role != "assistant":
        return conversation, None
    last = conversation.messages[-1]
    return Conversation(conversation.messages[:-1], conversation.tools), _label_text(last, tool_format)


def _label_text(message: Message, tool_format: str | None) -> str:
    if not message.tool_calls or tool_format is None:
        return message.text
    from tunesmith.templates.tools import get_tool_format

    calls = get_tool_format(tool_format).format_calls(message.tool_calls)
    return f"{message.text}\n{calls}" if message.text else calls


def predict(
    engine: InferenceEngine,
    items: Sequence[PredictItem],
    params: SamplingParams,
    *,
    batch_size: int = 8,
    show_progress: bool = True,
) -> PredictResult:
    """Generate a reply for every item, ``batch_size`` prompts at a time.

    Prompts are batched by length (longest first, so running out of memory happens at once) to keep
    left padding small; the rows come back in input order.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    texts: list[str | None] = []
    lengths: list[int] = []
    skipped = 0
    for item in items:
        try:
            prompt = engine.render(item.prompt)
        except ValueError as exc:  # TemplateError and ConversationError are ValueErrors
            where = item.source.describe() if item.source is not None else "an item"
            logger.warning("skipped %s: its prompt cannot be rendered: %s", where, exc)
            texts.append(None)
            lengths.append(0)
            skipped += 1
            continue
        texts.append(prompt.text)
        lengths.append(len(prompt.ids))
    order = sorted((i for i, t in enumerate(texts) if t is not None), key=lambda i: -lengths[i])
    generations: dict[int, Generation] = {}
    columns = (TextColumn("predict"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, disable=not show_progress, transient=True) as progress:
        task = progress.add_task("predict", total=len(order))
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            outs = engine.generate([items[i].prompt for i in batch], params)
            generations.update(zip(batch, outs, strict=True))
            progress.advance(task, len(batch))
    rows = [
        {"prompt": texts[i], "predict": generations[i].text, "label": items[i].label or ""}
        for i in range(len(items))
        if texts[i] is not None
    ]
    kept = [generations[i] for i in range(len(items)) if texts[i] is not None]
    metrics: dict[str, float] = {}
    if any(items[i].label is not None for i in range(len(items)) if texts[i] is not None):
        metrics = prefixed(corpus_scores((r["predict"] for r in rows), (r["label"] for r in rows)))
    return PredictResult(rows, kept, metrics, skipped)


def write_predictions(output_dir: str | Path, result: PredictResult, timing: dict[str, float]) -> Path:
    """Write the two result files into ``output_dir``; returns the predictions file."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / PREDICTIONS_FILE
    with path.open("w", encoding="utf-8") as f:
        for row in result.rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    results = {**result.metrics, **timing}
    (out / RESULTS_FILE).write_text(json.dumps(results, indent=4, sort_keys=True) + "\n", encoding="utf-8")
    return path


def load_predict_items(cfg: RunConfig, *, tool_format: str | None = None) -> list[PredictItem]:
    """The run's evaluation datasets (else its training datasets) as prompts with labels."""
    from tunesmith.data import ConversationExample, load_conversations

    names = cfg.data.eval_dataset or cfg.data.dataset
    if not names:
        raise ValueError("predict needs eval_dataset (or dataset): the datasets to generate for")
    loaded = load_conversations(
        names,
        cfg.data.dataset_dir,
        stage="sft",
        max_samples=cfg.data.max_samples,
        on_bad_record=cfg.data.on_bad_record,
        seed=cfg.train.seed,
        cache_dir=cfg.model.cache_dir,
        prefer_modelscope=cfg.model.use_modelscope_hub,
    )
    items: list[PredictItem] = []
    for example in loaded.examples:
        if not isinstance(example, ConversationExample):  # load_conversations(stage="sft") gives these
            raise TypeError(f"expected conversations, got {type(example).__name__}")
        conv = with_default_system(example.conversation, cfg.template.default_system)
        prompt, label = split_prompt(conv, tool_format=tool_format)
        items.append(PredictItem(prompt, label, example.source))
    return items


def run_predict(
    cfg: RunConfig, *, engine: InferenceEngine | None = None, show_progress: bool = True
) -> PredictResult:
    """Everything ``tunesmith predict`` does: load data (and the model unless ``engine`` is given),
    generate, score, and write the result files into ``output_dir``."""
    if not cfg.train.output_dir:
        raise ValueError("predict needs output_dir: the folder the predictions are written to")
    if engine is None:
        from tunesmith.infer.build import build_engine

        engine = build_engine(cfg)
    items = load_predict_items(cfg, tool_format=engine.tool_format)
    from transformers import set_seed

    set_seed(cfg.train.seed)
    params = SamplingParams.from_config(cfg.generate)
    batch_size = cfg.train.per_device_eval_batch_size
    started = time.perf_counter()
    result = predict(engine, items, params, batch_size=batch_size, show_progress=show_progress)
    runtime = time.perf_counter() - started
    samples = len(result.rows)
    steps = -(-samples // batch_size)
    tokens = sum(g.completion_tokens for g in result.generations)
    timing = {
        "predict_runtime": round(runtime, 4),
        "predict_samples": samples,
        "predict_samples_per_second": round(samples / runtime, 3) if runtime else 0.0,
        "predict_steps_per_second": round(steps / runtime, 3) if runtime else 0.0,
        "predict_tokens_per_second": round(tokens / runtime, 3) if runtime else 0.0,
    }
    path = write_predictions(cfg.train.output_dir, result, timing)
    logger.info("wrote %d predictions to %s", samples, path)
    if result.skipped:
        logger.warning("%d item(s) skipped (see the warnings above)", result.skipped)
    return PredictResult(result.rows, result.generations, {**result.metrics, **timing}, result.skipped)
