"""``build_datasets``: config → tokenized ``datasets.Dataset`` objects for pt, sft, predict, rm, dpo or kto.

Steps: load the typed examples (:func:`~tunesmith.data.load_conversations`), split off the
evaluation set (``eval_dataset``, else ``val_size``), encode every example (optionally in
``preprocessing_num_workers`` processes; results come back in input order, so the output does not
depend on the number of workers), pack or chunk, and build the datasets. Results are cached on disk
(:mod:`~tunesmith.data.cache`); a second identical run loads them without encoding anything.

Columns: ``input_ids`` and ``labels``; with packing (always for pt with concatenation) also
``position_ids`` and ``seq_lens``; for predict ``labels`` are the reference answer's ids and
``label_text`` its text. Packing always keeps examples apart (positions restart per example), so
``neat_packing`` only switches packing on.

Preference stages are never packed. rm and dpo give one row per pair with the columns of
:func:`~tunesmith.data.pairwise.pairwise_columns` (``chosen_input_ids``, ``chosen_labels``,
``rejected_input_ids``, ``rejected_labels``); kto one row per example with those of
:func:`~tunesmith.data.feedback.feedback_columns` (``input_ids``, ``labels``, ``prompt_len``,
``kto_label``). Their stats count pairs (examples) as ``sequences`` and the tokens of both sides.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tunesmith.data.cache import cache_root, data_fingerprint, load_tokenized, save_tokenized
from tunesmith.data.encode import (
    Dropped,
    PromptExample,
    SupervisedExample,
    encode_supervised,
    encode_unsupervised,
    tokenize_document,
)
from tunesmith.data.examples import (
    ConversationExample,
    Example,
    FeedbackExample,
    PairExample,
    RecordRef,
    TextExample,
)
from tunesmith.data.feedback import EncodedFeedback, encode_feedback, feedback_columns
from tunesmith.data.loader import load_conversations
from tunesmith.data.mixing import split_train_eval
from tunesmith.data.packing import chunk_documents, pack_supervised
from tunesmith.data.pairwise import EncodedPair, encode_pairwise, pairwise_columns
from tunesmith.data.report import BadRecord, BadRecordReport, DataError, Reason
from tunesmith.templates.base import ChatTemplate, RenderOptions
from tunesmith.templates.encode import IGNORE_INDEX, LabelOptions

if TYPE_CHECKING:
    from datasets import Dataset

    from tunesmith.config import RunConfig

logger = logging.getLogger(__name__)

__all__ = ["EncodeJob", "EncodeStats", "Stage", "TokenizedDatasets", "build_datasets", "encode_examples"]

Stage = Literal["pt", "sft", "predict", "rm", "dpo", "kto"]
PAIRWISE_STAGES: tuple[str, ...] = ("rm", "dpo")
PREFERENCE_STAGES: tuple[str, ...] = (*PAIRWISE_STAGES, "kto")
STAGES: tuple[str, ...] = ("pt", "sft", "predict", *PREFERENCE_STAGES)
MAX_DROPPED_SHOWN = 20

Encoded = SupervisedExample | PromptExample | EncodedPair | EncodedFeedback | list[int] | Dropped


@dataclass(frozen=True)
class EncodeStats:
    """What encoding one split did."""

    examples_in: int = 0
    """Examples handed to the encoder (after bad records were skipped)."""
    examples_out: int = 0
    """Examples (documents for pt) that gave tokens."""
    sequences: int = 0
    """Rows of the dataset (after packing or chunking)."""
    truncated: int = 0
    dropped: Mapping[str, int] = field(default_factory=dict)
    """Dropped examples by reason."""
    total_tokens: int = 0
    trainable_tokens: int = 0
    """Tokens with a label (for predict: reference answer tokens)."""
    dropped_examples: tuple[Mapping[str, Any], ...] = ()
    """The first dropped examples: dataset, file, row, line, reason, detail."""

    def summary(self) -> str:
        line = (
            f"{self.examples_in} examples in, {self.examples_out} kept, {self.sequences} sequences, "
            f"{self.total_tokens} tokens ({self.trainable_tokens} trainable), {self.truncated} truncated"
        )
        if self.dropped:
            line += "; dropped: " + ", ".join(f"{reason}: {n}" for reason, n in self.dropped.items())
        return line


@dataclass(frozen=True)
class TokenizedDatasets:
    train: Dataset | None
    eval: Dataset | None
    report: BadRecordReport
    stats: Mapping[str, EncodeStats]
    """``"train"`` and/or ``"eval"`` → :class:`EncodeStats`."""
    from_cache: bool = False
    cache_path: str | None = None


@dataclass(frozen=True)
class EncodeJob:
    """Everything an encoder needs besides the example (picklable, for worker processes)."""

    stage: Stage
    template: ChatTemplate | None
    tokenizer: Any
    cutoff_len: int
    label_options: LabelOptions = LabelOptions()
    render_options: RenderOptions = RenderOptions()


def _encode_one(job: EncodeJob, example: Example) -> Encoded:
    if job.stage == "pt":
        if not isinstance(example, TextExample):
            raise DataError(f"stage pt needs text examples, got {type(example).__name__}")
        return tokenize_document(example.text, job.tokenizer)
    if job.stage in PAIRWISE_STAGES:
        if not isinstance(example, PairExample):
            raise DataError(f"stage {job.stage} needs preference pairs, got {type(example).__name__}")
        assert job.template is not None
        return encode_pairwise(
            example.chosen,
            example.rejected,
            job.template,
            job.tokenizer,
            cutoff_len=job.cutoff_len,
            render_options=job.render_options,
        )
    if job.stage == "kto":
        if not isinstance(example, FeedbackExample):
            raise DataError(f"stage kto needs labelled (kto_tag) examples, got {type(example).__name__}")
        assert job.template is not None
        return encode_feedback(
            example.conversation,
            example.label,
            job.template,
            job.tokenizer,
            cutoff_len=job.cutoff_len,
            render_options=job.render_options,
        )
    if not isinstance(example, ConversationExample):
        raise DataError(f"stage {job.stage} needs conversations, got {type(example).__name__}")
    assert job.template is not None
    if job.stage == "predict":
        return encode_unsupervised(
            example.conversation,
            job.template,
            job.tokenizer,
            cutoff_len=job.cutoff_len,
            render_options=job.render_options,
        )
    return encode_supervised(
        example.conversation,
        job.template,
        job.tokenizer,
        cutoff_len=job.cutoff_len,
        label_options=job.label_options,
        render_options=job.render_options,
    )


def _encode_chunk(job: EncodeJob, examples: Sequence[Example]) -> list[Encoded]:
    return [_encode_one(job, ex) for ex in examples]


def encode_examples(
    examples: Sequence[Example], job: EncodeJob, *, num_workers: int | None = None, chunk_size: int = 1000
) -> list[Encoded]:
    """Encode ``examples`` in order; with ``num_workers`` > 1, in that many spawned processes
    (chunks of ``chunk_size``; results in input order, identical to the sequential ones)."""
    if not num_workers or num_workers <= 1 or len(examples) <= chunk_size:
        return _encode_chunk(job, examples)
    # every worker gets a share: chunks of at most chunk_size, as even as possible
    chunk_size = min(chunk_size, -(-len(examples) // num_workers))
    chunks = [examples[i : i + chunk_size] for i in range(0, len(examples), chunk_size)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(num_workers, len(chunks)), mp_context=context) as pool:
        return [item for part in pool.map(partial(_encode_chunk, job), chunks) for item in part]


def _rows(
    stage: Stage, encoded: Sequence[Encoded], refs: Sequence[RecordRef], cutoff_len: int, packing: bool
) -> tuple[dict[str, list[Any]], EncodeStats]:
    dropped: Counter[str] = Counter()
    shown: list[Mapping[str, Any]] = []
    kept: list[Any] = []
    for item, ref in zip(encoded, refs, strict=True):
        if isinstance(item, Dropped):
            dropped[item.reason] += 1
            if len(shown) < MAX_DROPPED_SHOWN:
                shown.append({**asdict(ref), "reason": item.reason, "detail": item.detail})
        else:
            kept.append(item)
    columns: dict[str, list[Any]]
    truncated = sum(1 for k in kept if getattr(k, "truncated", False))
    if stage in PAIRWISE_STAGES:
        columns = pairwise_columns(kept)
        sides = [*columns["chosen_labels"], *columns["rejected_labels"]]
        trainable = sum(1 for row in sides for x in row if x != IGNORE_INDEX)
        lengths = [len(r) for r in (*columns["chosen_input_ids"], *columns["rejected_input_ids"])]
    elif stage == "kto":
        columns = feedback_columns(kept)
        trainable = sum(1 for row in columns["labels"] for x in row if x != IGNORE_INDEX)
    elif stage == "predict":
        columns = {
            "input_ids": [k.input_ids for k in kept],
            "labels": [k.label_ids for k in kept],
            "label_text": [k.label_text for k in kept],
        }
        trainable = sum(len(k.label_ids) for k in kept)
    else:
        if stage == "pt":
            packed = chunk_documents(kept, cutoff_len, concatenate=packing)
            with_positions = packing
        elif packing:
            packed = pack_supervised([(k.input_ids, k.labels) for k in kept], cutoff_len)
            with_positions = True
        else:
            packed = None
            with_positions = False
        if packed is not None:
            columns = {"input_ids": [p.input_ids for p in packed], "labels": [p.labels for p in packed]}
            if with_positions:
                columns["position_ids"] = [p.position_ids for p in packed]
                columns["seq_lens"] = [p.seq_lens for p in packed]
        else:
            columns = {"input_ids": [k.input_ids for k in kept], "labels": [k.labels for k in kept]}
        trainable = sum(1 for row in columns["labels"] for x in row if x != IGNORE_INDEX)
    if stage not in PAIRWISE_STAGES:
        lengths = [len(r) for r in columns["input_ids"]]
    stats = EncodeStats(
        examples_in=len(encoded),
        examples_out=len(kept),
        sequences=len(kept) if stage in PREFERENCE_STAGES else len(columns["input_ids"]),
        truncated=truncated,
        dropped=dict(dropped.most_common()),
        total_tokens=sum(lengths),
        trainable_tokens=trainable,
        dropped_examples=tuple(shown),
    )
    return columns, stats


def _to_dataset(columns: Mapping[str, list[Any]]) -> Dataset:
    from datasets import Dataset, Features, Sequence, Value

    types = {
        "input_ids": Sequence(Value("int32")),
        "labels": Sequence(Value("int32")),
        "position_ids": Sequence(Value("int32")),
        "seq_lens": Sequence(Value("int32")),
        "label_text": Value("string"),
        "chosen_input_ids": Sequence(Value("int32")),
        "chosen_labels": Sequence(Value("int32")),
        "rejected_input_ids": Sequence(Value("int32")),
        "rejected_labels": Sequence(Value("int32")),
        "prompt_len": Value("int32"),
        "kto_label": Value("bool"),
    }
    return Dataset.from_dict(dict(columns), features=Features({k: types[k] for k in columns}))


def load_arguments(cfg: RunConfig, stage: Stage) -> dict[str, Any]:
    """Keyword arguments of :func:`load_conversations` (besides the names) for ``cfg`` and ``stage``."""
    d = cfg.data
    return {
        "dataset_dir": d.dataset_dir,
        # the loader's stage picks the example kind: text, conversation, pair or feedback
        "stage": stage if stage in ("pt", *PREFERENCE_STAGES) else "sft",
        "max_samples": d.max_samples,
        "on_bad_record": d.on_bad_record,
        "seed": cfg.train.seed,
        "mix_strategy": d.mix_strategy,
        "interleave_probs": list(d.interleave_probs) or None,
        "cache_dir": cfg.model.cache_dir,
        "prefer_modelscope": cfg.model.use_modelscope_hub,
    }


def _load_splits(cfg: RunConfig, stage: Stage) -> tuple[list[Example], list[Example], BadRecordReport]:
    d = cfg.data
    kwargs = load_arguments(cfg, stage)
    report = BadRecordReport()
    if stage == "predict":
        names = d.eval_dataset or d.dataset
        if not names:
            raise DataError("predict needs eval_dataset (or dataset)")
        loaded = load_conversations(list(names), **kwargs)
        report.merge(loaded.report)
        return [], loaded.examples, report
    if not d.dataset:
        raise DataError(f"stage {stage} needs dataset")
    loaded = load_conversations(list(d.dataset), **kwargs)
    report.merge(loaded.report)
    if d.eval_dataset:
        if d.val_size:
            logger.warning("eval_dataset is set, so val_size=%s is ignored", d.val_size)
        evaluation = load_conversations(list(d.eval_dataset), **kwargs)
        report.merge(evaluation.report)
        return loaded.examples, evaluation.examples, report
    if d.val_size:
        train, held = split_train_eval(loaded.examples, d.val_size, seed=cfg.train.seed)
        return train, held, report
    return loaded.examples, [], report


def _report_to_dict(report: BadRecordReport) -> dict[str, Any]:
    return {
        "records_read": report.records_read,
        "counts": {reason.value: n for reason, n in report.counts.items()},
        "examples": [{**asdict(b), "reason": b.reason.value} for b in report.examples],
    }


def _report_from_dict(data: Mapping[str, Any]) -> BadRecordReport:
    report = BadRecordReport()
    report.records_read = int(data.get("records_read", 0))
    report.counts.update({Reason(k): int(n) for k, n in data.get("counts", {}).items()})
    report.examples.extend(
        BadRecord(**{**b, "reason": Reason(b["reason"])}) for b in data.get("examples", [])
    )
    return report


def _stats_from_dict(data: Mapping[str, Any]) -> EncodeStats:
    return EncodeStats(**{**data, "dropped_examples": tuple(data.get("dropped_examples", ()))})


def _uses_packing(cfg: RunConfig, stage: Stage) -> bool:
    if stage == "predict":
        return False
    if stage in PREFERENCE_STAGES:
        if cfg.data.packing or cfg.data.neat_packing:
            raise DataError(
                f"packing: stage {stage} compares whole sequences (pairs or examples with their KL "
                "partners) and cannot pack them; set packing: false and neat_packing: false"
            )
        return False
    if cfg.data.packing is None:
        return stage == "pt" or cfg.data.neat_packing
    return bool(cfg.data.packing or cfg.data.neat_packing)


def _encode_split(
    examples: Sequence[Example], job: EncodeJob, cfg: RunConfig, packing: bool, split: str
) -> tuple[Dataset | None, EncodeStats | None]:
    if not examples:
        return None, None
    encoded = encode_examples(
        examples,
        job,
        num_workers=cfg.data.preprocessing_num_workers,
        chunk_size=cfg.data.preprocessing_batch_size,
    )
    columns, stats = _rows(job.stage, encoded, [e.source for e in examples], job.cutoff_len, packing)
    logger.info("%s: %s", split, stats.summary())
    if stats.dropped:
        logger.warning(
            "%s: dropped %d examples (%s)",
            split,
            sum(stats.dropped.values()),
            ", ".join(f"{r}: {n}" for r, n in stats.dropped.items()),
        )
    if not stats.sequences:
        raise DataError(f"{split}: every one of the {len(examples)} examples was dropped ({stats.summary()})")
    return _to_dataset(columns), stats


def _encode_job(cfg: RunConfig, tokenizer: Any, template: ChatTemplate | None, stage: Stage) -> EncodeJob:
    return EncodeJob(
        stage=stage,
        template=template,
        tokenizer=tokenizer,
        cutoff_len=cfg.data.cutoff_len,
        label_options=LabelOptions(
            train_on_prompt=cfg.data.train_on_prompt, mask_history=cfg.data.mask_history
        ),
        render_options=RenderOptions(enable_thinking=cfg.template.enable_thinking),
    )


def _compute_streaming(
    cfg: RunConfig, tokenizer: Any, template: ChatTemplate | None, stage: Stage
) -> TokenizedDatasets:
    """``streaming: true``: train is a lazily read, shuffled ``IterableDataset`` (never cached); its
    report and stats are filled in at the end of each pass. eval_dataset is built as usual."""
    from tunesmith.data.streaming import build_streaming_train, check_streaming

    packing = _uses_packing(cfg, stage)
    check_streaming(cfg, stage, packing)
    job = _encode_job(cfg, tokenizer, template, stage)
    report = BadRecordReport()
    stats: dict[str, EncodeStats] = {}
    evaluation = None
    if cfg.data.eval_dataset:
        loaded = load_conversations(list(cfg.data.eval_dataset), **load_arguments(cfg, stage))
        report.merge(loaded.report)
        evaluation, eval_stats = _encode_split(loaded.examples, job, cfg, packing, "eval")
        if eval_stats is not None:
            stats["eval"] = eval_stats
    train = build_streaming_train(cfg, job, packing, report, stats)
    logger.info("streaming the training data (buffer_size %d)", cfg.data.buffer_size)
    return TokenizedDatasets(train, evaluation, report, stats)


def _compute(
    cfg: RunConfig, tokenizer: Any, template: ChatTemplate | None, stage: Stage
) -> TokenizedDatasets:
    train_examples, eval_examples, report = _load_splits(cfg, stage)
    job = EncodeJob(
        stage=stage,
        template=template,
        tokenizer=tokenizer,
        cutoff_len=cfg.data.cutoff_len,
        label_options=LabelOptions(
            train_on_prompt=cfg.data.train_on_prompt, mask_history=cfg.data.mask_history
        ),
        render_options=RenderOptions(enable_thinking=cfg.template.enable_thinking),
    )
    packing = _uses_packing(cfg, stage)
    train, train_stats = _encode_split(train_examples, job, cfg, packing, "train")
    evaluation, eval_stats = _encode_split(eval_examples, job, cfg, packing, "eval")
    stats = {k: v for k, v in (("train", train_stats), ("eval", eval_stats)) if v is not None}
    return TokenizedDatasets(train, evaluation, report, stats)


def build_datasets(
    cfg: RunConfig, tokenizer: Any, template: ChatTemplate | None, *, stage: Stage
) -> TokenizedDatasets:
    """Tokenized train/eval datasets for ``stage`` (pt, sft, predict, rm, dpo or kto), cached on disk.

    ``template`` and ``tokenizer`` must be those used later for chat/predict (pt needs no template).
    ``tokenized_path`` (when set) is loaded if it exists, else written; otherwise the automatic
    cache is used; ``overwrite_cache`` recomputes either.
    """
    if stage not in STAGES:
        raise DataError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    if stage != "pt" and template is None:
        raise DataError(f"stage {stage} needs a chat template")
    if cfg.data.streaming:
        return _compute_streaming(cfg, tokenizer, template, stage)
    if cfg.data.tokenized_path:
        path, where = Path(cfg.data.tokenized_path).expanduser(), "tokenized_path"
    else:
        fingerprint = data_fingerprint(cfg, tokenizer, template if stage != "pt" else None, stage)
        path, where = cache_root(cfg) / fingerprint, "cache"
    if not cfg.data.overwrite_cache:
        entry = load_tokenized(path)
        if entry is not None:
            if where == "tokenized_path":
                logger.warning(
                    "loading the tokenized dataset from tokenized_path %s (other data settings are ignored)",
                    path,
                )
            else:
                logger.info("loaded the tokenized dataset from the cache: %s", path)
            meta = entry.meta
            return TokenizedDatasets(
                entry.train,
                entry.eval,
                _report_from_dict(meta.get("report", {})),
                {k: _stats_from_dict(v) for k, v in meta.get("stats", {}).items()},
                from_cache=True,
                cache_path=str(path),
            )
    result = _compute(cfg, tokenizer, template, stage)
    meta = {
        "stage": stage,
        "report": _report_to_dict(result.report),
        "stats": {k: asdict(v) for k, v in result.stats.items()},
    }
    try:
        save_tokenized(path, result.train, result.eval, meta)
    except OSError as exc:  # a read-only cache must not stop training
        if where == "tokenized_path":
            raise DataError(f"cannot save the tokenized dataset to tokenized_path {path}: {exc}") from exc
        logger.warning("cannot write the tokenized-data cache at %s: %s", path, exc)
        return result
    logger.info("saved the tokenized dataset to the %s: %s", where, path)
    return TokenizedDatasets(result.train, result.eval, result.report, result.stats, cache_path=str(path))
