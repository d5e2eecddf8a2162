"""Streaming (``streaming: true``) training data for stages pt and sft from large local files.

:func:`build_streaming_train` returns a ``datasets.IterableDataset`` whose generator reads the
datasets' files lazily (JSON lines and text line by line; a JSON list, or any other file type, is
read once with :func:`~tunesmith.data.sources.read_file`), converts each record with
:func:`~tunesmith.data.converters.convert_record` and encodes it with the same encoders and
truncation as the non-streaming path. pt documents are cut into ``cutoff_len`` blocks on the fly
(exactly like :func:`~tunesmith.data.packing.chunk_documents`). The stream is shuffled with a
seeded buffer of ``buffer_size`` examples.

Bad records are skipped (or, with ``on_bad_record: error``, stop the run) and counted in a
:class:`StreamReport`; at the end of every complete pass over the data the report is logged and
copied into the :class:`~tunesmith.data.report.BadRecordReport` and the stats mapping handed back
by :func:`~tunesmith.data.pipeline.build_datasets`.
"""

from __future__ import annotations

import copy
import json
import logging
from collections import Counter
from collections.abc import Iterator, MutableMapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunesmith.data.converters import convert_record
from tunesmith.data.encode import Dropped
from tunesmith.data.examples import RecordRef
from tunesmith.data.info import DatasetAttr, get_dataset_attrs
from tunesmith.data.loader import _in_file_order, example_kind
from tunesmith.data.packing import PackedSequence, _join
from tunesmith.data.report import BadRecord, BadRecordReport, DataError, Reason, RecordError
from tunesmith.data.sources import FILE_TYPES, RawRecord, read_file
from tunesmith.templates.encode import IGNORE_INDEX

if TYPE_CHECKING:
    from datasets import IterableDataset

    from tunesmith.config import RunConfig
    from tunesmith.data.pipeline import EncodeJob, EncodeStats

logger = logging.getLogger(__name__)

__all__ = ["StreamReport", "build_streaming_train", "check_streaming", "iter_records"]

STREAMING_STAGES: tuple[str, ...] = ("pt", "sft")
MAX_DROPPED_SHOWN = 20


# --------------------------------------------------------------------------- lazy reading


def _json_lines(path: Path, dataset: str) -> Iterator[RawRecord | BadRecord]:
    file = str(path)
    row = 0
    with path.open(encoding="utf-8-sig") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            ref = RecordRef(dataset, file, row, lineno)
            row += 1
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                yield BadRecord.at(ref, Reason.BAD_JSON, f"{exc.msg} at column {exc.colno}")
                continue
            if isinstance(value, dict):
                yield RawRecord(value, ref)
            else:
                yield BadRecord.at(ref, Reason.NOT_AN_OBJECT, f"got {type(value).__name__}")


def _text_lines(path: Path, dataset: str) -> Iterator[RawRecord]:
    row = 0
    with path.open(encoding="utf-8-sig") as handle:
        for lineno, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            yield RawRecord({"text": line}, RecordRef(dataset, str(path), row, lineno))
            row += 1


def _is_json_lines(path: Path) -> bool:
    """Whether a ``.json`` file is read as JSON lines by :func:`~tunesmith.data.sources.read_file`
    (decided from its first lines only: a first line that is a whole JSON value followed by more)."""
    with path.open(encoding="utf-8-sig") as handle:
        first = ""
        for line in handle:
            if line.strip():
                first = line
                break
        head = first.lstrip()[:1]
        if head == "[":
            return False
        if head != "{":
            return True
        try:
            json.loads(first)
        except json.JSONDecodeError:
            return False  # a pretty-printed object (or broken JSON): read whole
        return any(line.strip() for line in handle)


def _iter_file(path: Path, dataset: str) -> Iterator[RawRecord | BadRecord]:
    kind = FILE_TYPES.get(path.suffix.lower())
    try:
        if kind == "text":
            yield from _text_lines(path, dataset)
            return
        if kind == "json" and (path.suffix.lower() == ".jsonl" or _is_json_lines(path)):
            yield from _json_lines(path, dataset)
            return
    except UnicodeDecodeError as exc:
        raise DataError(f"dataset {dataset!r}: {path} is not UTF-8 text ({exc})") from None
    source = read_file(path, dataset)  # a JSON list or columnar file: read once
    yield from _in_file_order(source.records, source.bad, sampled=False)


def _local_files(attr: DatasetAttr, dataset_dir: str | Path) -> list[Path]:
    path = Path(dataset_dir) / attr.path
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(f"dataset {attr.name!r}: file_name {attr.path!r} not found at {path}")
    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    data_files = [p for p in files if p.suffix.lower() in FILE_TYPES]
    if not data_files:
        raise DataError(
            f"dataset {attr.name!r}: folder {path} has no data files ({', '.join(sorted(FILE_TYPES))})"
        )
    return data_files


def iter_records(
    attr: DatasetAttr, dataset_dir: str | Path, *, max_samples: int | None = None
) -> Iterator[RawRecord | BadRecord]:
    """A local dataset's records (and unparsable rows) in file order, read lazily; at most
    ``max_samples`` parsed records."""
    taken = 0
    for file in _local_files(attr, dataset_dir):
        for item in _iter_file(file, attr.name):
            if isinstance(item, RawRecord):
                if max_samples is not None and taken >= max_samples:
                    return
                taken += 1
            yield item


# --------------------------------------------------------------------------- the stream


@dataclass
class StreamReport:
    """What one pass over the stream did: bad records and dropped examples."""

    bad: BadRecordReport = field(default_factory=BadRecordReport)
    examples_in: int = 0
    examples_out: int = 0
    sequences: int = 0
    truncated: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    dropped_examples: list[dict[str, Any]] = field(default_factory=list)
    total_tokens: int = 0
    trainable_tokens: int = 0

    def drop(self, ref: RecordRef, item: Dropped) -> None:
        self.dropped[item.reason] += 1
        if len(self.dropped_examples) < MAX_DROPPED_SHOWN:
            self.dropped_examples.append({**asdict(ref), "reason": item.reason, "detail": item.detail})

    def row(self, row: dict[str, list[int]]) -> dict[str, list[int]]:
        self.sequences += 1
        self.total_tokens += len(row["input_ids"])
        self.trainable_tokens += sum(1 for x in row["labels"] if x != IGNORE_INDEX)
        return row

    def stats(self) -> EncodeStats:
        from tunesmith.data.pipeline import EncodeStats

        return EncodeStats(
            examples_in=self.examples_in,
            examples_out=self.examples_out,
            sequences=self.sequences,
            truncated=self.truncated,
            dropped=dict(self.dropped.most_common()),
            total_tokens=self.total_tokens,
            trainable_tokens=self.trainable_tokens,
            dropped_examples=tuple(self.dropped_examples),
        )


def check_streaming(cfg: RunConfig, stage: str, packing: bool) -> None:
    """Refuse what streaming cannot do, naming the setting to change."""
    d = cfg.data
    if stage not in STREAMING_STAGES:
        raise DataError(f"streaming: supported for stages pt and sft, not {stage}; set streaming: false")
    if cfg.train.max_steps is None or cfg.train.max_steps <= 0:
        raise DataError(
            "streaming needs max_steps > 0 (a stream has no known length, so epochs cannot be counted); "
            "set max_steps"
        )
    if d.val_size:
        raise DataError(
            "val_size must be 0 with streaming (a stream cannot be split); set val_size: 0 and give "
            "eval_dataset instead"
        )
    if stage == "sft" and packing:
        raise DataError(
            "packing is not supported with streaming sft; set packing: false and neat_packing: false"
        )
    if d.mix_strategy != "concat":
        raise DataError(f"mix_strategy {d.mix_strategy!r} is not supported with streaming; use concat")
    if not d.dataset:
        raise DataError(f"stage {stage} needs dataset")


def _examples(cfg: RunConfig, attrs: list[DatasetAttr], stage: str, report: StreamReport) -> Iterator[Any]:
    d = cfg.data
    kind = "text" if stage == "pt" else "conversation"
    for attr in attrs:
        example_kind(attr, stage)
        read_before = report.bad.records_read
        for item in iter_records(attr, d.dataset_dir, max_samples=d.max_samples):
            report.bad.records_read += 1
            if isinstance(item, RawRecord):
                try:
                    yield convert_record(
                        item.data, attr, item.ref, kind=kind, dataset_dir=Path(d.dataset_dir)
                    )
                    continue
                except RecordError as exc:
                    bad = BadRecord.at(item.ref, exc.reason, exc.detail)
            else:
                bad = item
            if d.on_bad_record == "error":
                raise DataError(
                    f"bad record in {bad.describe()}\n"
                    "(on_bad_record='error'; set on_bad_record='skip' to skip such records and report them)"
                )
            report.bad.add(bad)
        if report.bad.records_read == read_before:
            raise DataError(f"dataset {attr.name!r} ({attr.path}) has no records")


def _encoded(examples: Iterator[Any], job: EncodeJob, report: StreamReport) -> Iterator[Any]:
    from tunesmith.data.pipeline import _encode_one

    for example in examples:
        report.examples_in += 1
        item = _encode_one(job, example)
        if isinstance(item, Dropped):
            report.drop(example.source, item)
            continue
        report.examples_out += 1
        if getattr(item, "truncated", False):
            report.truncated += 1
        yield item


def _chunks(documents: Iterator[list[int]], cutoff_len: int, concatenate: bool) -> Iterator[PackedSequence]:
    """:func:`~tunesmith.data.packing.chunk_documents`, one block at a time."""
    current: list[tuple[list[int], list[int]]] = []
    room = cutoff_len
    for doc in documents:
        start = 0
        while start < len(doc):
            piece = doc[start : start + room]
            current.append((piece, piece))
            start += len(piece)
            room -= len(piece)
            if room == 0 or not concatenate:
                yield _join(current)
                current, room = [], cutoff_len
    if current:
        yield _join(current)


def _generate(
    cfg: RunConfig,
    job: EncodeJob,
    packing: bool,
    shared_report: BadRecordReport,
    shared_stats: MutableMapping[str, Any],
    baseline: BadRecordReport,
) -> Iterator[dict[str, list[int]]]:
    d = cfg.data
    report = StreamReport(bad=BadRecordReport())
    attrs = get_dataset_attrs(list(d.dataset), d.dataset_dir, prefer_modelscope=cfg.model.use_modelscope_hub)
    encoded = _encoded(_examples(cfg, attrs, job.stage, report), job, report)
    if job.stage == "pt":
        for block in _chunks(encoded, job.cutoff_len, packing):
            row = {"input_ids": block.input_ids, "labels": block.labels}
            if packing:
                row["position_ids"] = block.position_ids
                row["seq_lens"] = block.seq_lens
            yield report.row(row)
    else:
        for item in encoded:
            yield report.row({"input_ids": item.input_ids, "labels": item.labels})
    # one complete pass: publish and log what it did
    stats = report.stats()
    shared_report.counts.clear()
    shared_report.examples.clear()
    shared_report.records_read = 0
    shared_report.merge(baseline)
    shared_report.merge(report.bad)
    shared_stats["train"] = stats
    logger.info("train (streamed pass): %s", stats.summary())
    if report.bad:
        logger.warning("train (streamed pass): skipped records: %s", report.bad.summary())
    if not stats.sequences:
        raise DataError(f"train: every one of the {stats.examples_in} streamed examples was dropped")


def build_streaming_train(
    cfg: RunConfig,
    job: EncodeJob,
    packing: bool,
    report: BadRecordReport,
    stats: MutableMapping[str, Any],
) -> IterableDataset:
    """The shuffled train stream; ``report`` (on top of what it holds now) and ``stats["train"]`` are
    filled in at the end of each complete pass."""
    from datasets import Features, IterableDataset, Sequence, Value

    for attr in get_dataset_attrs(
        list(cfg.data.dataset), cfg.data.dataset_dir, prefer_modelscope=cfg.model.use_modelscope_hub
    ):
        if attr.load_from != "file":
            raise DataError(
                f"streaming: dataset {attr.name!r} is not a local file (load_from {attr.load_from}); "
                "streaming reads local files only; set streaming: false"
            )
        if attr.num_samples is not None:
            raise DataError(
                f"streaming: dataset {attr.name!r} sets num_samples, which needs every record in memory; "
                "remove it or set streaming: false"
            )
        example_kind(attr, job.stage)
        _local_files(attr, cfg.data.dataset_dir)  # fail now, not at the first step
    names = ["input_ids", "labels"]
    if job.stage == "pt" and packing:
        names += ["position_ids", "seq_lens"]
    features = Features({name: Sequence(Value("int32")) for name in names})

    baseline = copy.deepcopy(report)  # what was reported before the stream (eval_dataset)

    def generator() -> Iterator[dict[str, list[int]]]:
        yield from _generate(cfg, job, packing, report, stats, baseline)

    dataset = IterableDataset.from_generator(generator, features=features)
    if cfg.data.buffer_size > 1:
        dataset = dataset.shuffle(seed=cfg.train.seed, buffer_size=cfg.data.buffer_size)
    return dataset
