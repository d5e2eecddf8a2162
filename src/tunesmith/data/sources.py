"""Reading a dataset's records: local files and folders, or the Hugging Face / ModelScope hubs.

Local files are read as plain Python lists of dicts (JSON, JSON lines, CSV, text); only parquet and
arrow go through ``pyarrow`` and only hub datasets through ``datasets`` (both imported lazily). Lines of
a JSON-lines file that do not parse are *bad records* (reported with their line numbers), not a crash.
"""

from __future__ import annotations

import csv
import json
import logging
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tunesmith.data.examples import RecordRef
from tunesmith.data.info import DatasetAttr
from tunesmith.data.report import BadRecord, DataError, Reason

logger = logging.getLogger(__name__)

FILE_TYPES: dict[str, str] = {
    ".json": "json",
    ".jsonl": "json",
    ".csv": "csv",
    ".parquet": "parquet",
    ".arrow": "arrow",
    ".txt": "text",
}

HubLoader = Callable[[DatasetAttr, str | None], Sequence[Mapping[str, Any]]]
"""Loads a hub dataset's rows: ``(attr, cache_dir) -> rows``; injectable for tests and mirrors."""


@dataclass(frozen=True)
class RawRecord:
    """One record as read from its source, before conversion."""

    data: Mapping[str, Any]
    ref: RecordRef


@dataclass
class SourceRecords:
    """The records of one dataset, and the rows that could not even be parsed."""

    records: list[RawRecord] = field(default_factory=list)
    bad: list[BadRecord] = field(default_factory=list)

    def extend(self, other: SourceRecords) -> None:
        self.records.extend(other.records)
        self.bad.extend(other.bad)


# --------------------------------------------------------------------------- local files


def _read_json_lines(text: str, dataset: str, file: str) -> SourceRecords:
    out = SourceRecords()
    row = 0
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        ref = RecordRef(dataset, file, row, lineno)
        row += 1
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            out.bad.append(BadRecord.at(ref, Reason.BAD_JSON, f"{exc.msg} at column {exc.colno}"))
            continue
        if isinstance(value, dict):
            out.records.append(RawRecord(value, ref))
        else:
            out.bad.append(BadRecord.at(ref, Reason.NOT_AN_OBJECT, f"got {type(value).__name__}"))
    return out


def _rows_to_records(rows: Iterable[Any], dataset: str, file: str) -> SourceRecords:
    out = SourceRecords()
    for row, value in enumerate(rows):
        ref = RecordRef(dataset, file, row)
        if isinstance(value, Mapping):
            out.records.append(RawRecord(value, ref))
        else:
            out.bad.append(BadRecord.at(ref, Reason.NOT_AN_OBJECT, f"got {type(value).__name__}"))
    return out


def _columnar_to_rows(data: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """``{"col": [..], ..}`` with equal-length lists → rows; anything else → None."""
    if not data or not all(isinstance(v, list) for v in data.values()):
        return None
    lengths = {len(v) for v in data.values()}
    if len(lengths) != 1:
        return None
    keys = list(data)
    return [{k: data[k][i] for k in keys} for i in range(lengths.pop())]


def _read_json(path: Path, dataset: str) -> SourceRecords:
    file = str(path)
    text = path.read_text(encoding="utf-8-sig")
    head = text.lstrip()[:1]
    if path.suffix.lower() == ".jsonl":
        return _read_json_lines(text, dataset, file)
    if head == "[":
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"dataset {dataset!r}: {file} is not valid JSON "
                f"(line {exc.lineno}, column {exc.colno}: {exc.msg}); no record of it can be read"
            ) from None
        return _rows_to_records(value, dataset, file)
    if head == "{":
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return _read_json_lines(text, dataset, file)
        rows = _columnar_to_rows(value)
        return _rows_to_records(rows if rows is not None else [value], dataset, file)
    return _read_json_lines(text, dataset, file)


def _read_csv(path: Path, dataset: str) -> SourceRecords:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = [{k: v for k, v in row.items() if k is not None} for row in csv.DictReader(handle)]
    return _rows_to_records(rows, dataset, str(path))


def _read_text(path: Path, dataset: str) -> SourceRecords:
    out = SourceRecords()
    row = 0
    blank = 0
    for lineno, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            blank += 1
            continue
        out.records.append(RawRecord({"text": line}, RecordRef(dataset, str(path), row, lineno)))
        row += 1
    if blank:
        logger.debug("%s: %d blank lines are not records", path, blank)
    return out


def _read_arrow_like(path: Path, dataset: str, kind: str) -> SourceRecords:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - pyarrow comes with datasets
        raise DataError(f"reading {path} needs pyarrow: pip install pyarrow") from exc
    try:
        if kind == "parquet":
            table = pq.read_table(path)
        else:
            try:
                with pa.memory_map(str(path)) as source:
                    table = pa.ipc.open_stream(source).read_all()
            except pa.ArrowInvalid:
                with pa.memory_map(str(path)) as source:
                    table = pa.ipc.open_file(source).read_all()
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"dataset {dataset!r}: cannot read {kind} file {path}: {exc}") from exc
    return _rows_to_records(table.to_pylist(), dataset, str(path))


def read_file(path: str | Path, dataset: str) -> SourceRecords:
    """Records of one local file; its type comes from its extension (see :data:`FILE_TYPES`)."""
    path = Path(path)
    kind = FILE_TYPES.get(path.suffix.lower())
    if kind is None:
        raise DataError(
            f"dataset {dataset!r}: cannot read {path}: unsupported file type {path.suffix!r}; "
            f"supported: {', '.join(sorted(FILE_TYPES))}"
        )
    try:
        if kind == "json":
            return _read_json(path, dataset)
        if kind == "csv":
            return _read_csv(path, dataset)
        if kind == "text":
            return _read_text(path, dataset)
    except UnicodeDecodeError as exc:
        raise DataError(f"dataset {dataset!r}: {path} is not UTF-8 text ({exc})") from None
    return _read_arrow_like(path, dataset, kind)


def read_local(attr: DatasetAttr, dataset_dir: str | Path) -> SourceRecords:
    """Records of a ``file_name`` entry: one file, or every data file in a folder (sorted)."""
    path = Path(dataset_dir) / attr.path
    if path.is_file():
        return read_file(path, attr.name)
    if not path.is_dir():
        raise DataError(f"dataset {attr.name!r}: file_name {attr.path!r} not found at {path}")
    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    data_files = [p for p in files if p.suffix.lower() in FILE_TYPES]
    ignored = [p.name for p in files if p.suffix.lower() not in FILE_TYPES]
    if ignored:
        logger.warning("dataset %r: ignoring non-data files in %s: %s", attr.name, path, ", ".join(ignored))
    if not data_files:
        raise DataError(
            f"dataset {attr.name!r}: folder {path} has no data files ({', '.join(sorted(FILE_TYPES))})"
        )
    out = SourceRecords()
    for file in data_files:
        out.extend(read_file(file, attr.name))
    return out


# --------------------------------------------------------------------------- hubs

_NETWORK_HINTS = ("offline", "couldn't reach", "connection", "resolve", "unreachable", "timed out", "timeout")


def _is_network_error(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        names = " ".join(cls.__name__ for cls in type(current).__mro__).lower()
        if isinstance(current, (ConnectionError, TimeoutError)) or any(
            word in names for word in ("connect", "timeout", "offline", "localentrynotfound")
        ):
            return True
        if any(hint in str(current).lower() for hint in _NETWORK_HINTS):
            return True
        current = current.__cause__ or current.__context__
    return False


def _hub_name(attr: DatasetAttr) -> str:
    return {"hf_hub": "Hugging Face Hub", "ms_hub": "ModelScope", "om_hub": "Modelers (openMind)"}.get(
        attr.load_from, "hub"
    )


def _download_hint(attr: DatasetAttr, dataset_dir: str | Path) -> str:
    target = Path(dataset_dir) / f"{attr.name}.jsonl"
    args = repr(attr.path)
    if attr.subset:
        args += f", name={attr.subset!r}"
    if attr.folder:
        args += f", data_dir={attr.folder!r}"
    return (
        "To use it without network access, download it into dataset_dir on a machine that has it, e.g.\n"
        f'  python -c "from datasets import load_dataset; load_dataset({args}, split={attr.split!r})'
        f'.to_json({str(target)!r}, force_ascii=False)"\n'
        f"then, in dataset_info.json, replace the hub keys of {attr.name!r} with "
        f'"file_name": "{target.name}" (keep its formatting, columns and tags).'
    )


def default_hub_loader(attr: DatasetAttr, cache_dir: str | None) -> Sequence[Mapping[str, Any]]:
    """Rows of a hub (or script) dataset via ``datasets`` / ``modelscope``."""
    if attr.load_from == "ms_hub":
        try:
            from modelscope import MsDataset  # type: ignore[import-not-found]
        except ImportError as exc:
            raise DataError(
                f"dataset {attr.name!r} is on ModelScope ({attr.path}); install modelscope "
                "(pip install modelscope) or use its hf_hub_url"
            ) from exc
        loaded = MsDataset.load(
            dataset_name=attr.path,
            subset_name=attr.subset,
            data_dir=attr.folder,
            split=attr.split,
            cache_dir=cache_dir,
            version=attr.revision or "master",
        )
        if hasattr(loaded, "to_hf_dataset"):
            loaded = loaded.to_hf_dataset()
        return loaded.to_list()
    if attr.load_from not in ("hf_hub", "script"):
        raise DataError(f"dataset {attr.name!r}: loading from {_hub_name(attr)} is not supported")
    import datasets

    loaded = datasets.load_dataset(
        attr.path,
        name=attr.subset,
        data_dir=attr.folder,
        split=attr.split,
        revision=attr.revision,
        cache_dir=cache_dir,
    )
    return loaded.to_list()


def read_hub(
    attr: DatasetAttr,
    dataset_dir: str | Path,
    *,
    cache_dir: str | None = None,
    hub_loader: HubLoader | None = None,
) -> SourceRecords:
    """Records of a hub dataset; failures become a :class:`DataError` that says how to get it offline."""
    loader = hub_loader or default_hub_loader
    where = f"{_hub_name(attr)} dataset {attr.path!r}"
    try:
        rows = loader(attr, cache_dir)
    except DataError:
        raise
    except Exception as exc:
        if _is_network_error(exc):
            raise DataError(
                f"dataset {attr.name!r} needs network access: it is the {where}, which could not be "
                f"downloaded ({type(exc).__name__}: {exc}).\n{_download_hint(attr, dataset_dir)}"
            ) from exc
        raise DataError(
            f"dataset {attr.name!r}: loading the {where} failed ({type(exc).__name__}: {exc}).\n"
            f"{_download_hint(attr, dataset_dir)}"
        ) from exc
    label = f"{attr.load_from}:{attr.path}" + (f"[{attr.split}]" if attr.split else "")
    return _rows_to_records(rows, attr.name, label)


def read_dataset(
    attr: DatasetAttr,
    dataset_dir: str | Path,
    *,
    cache_dir: str | None = None,
    hub_loader: HubLoader | None = None,
) -> SourceRecords:
    """All records of one dataset, wherever it lives."""
    if attr.load_from == "file":
        return read_local(attr, dataset_dir)
    if attr.load_from == "script":
        local = Path(dataset_dir) / attr.path
        if local.exists():
            attr = replace(attr, path=str(local))
        return read_hub(attr, dataset_dir, cache_dir=cache_dir, hub_loader=hub_loader)
    if attr.load_from == "cloud_file":
        raise DataError(
            f"dataset {attr.name!r}: cloud_file_name {attr.path!r} is not supported; copy the file into "
            "dataset_dir and use file_name"
        )
    return read_hub(attr, dataset_dir, cache_dir=cache_dir, hub_loader=hub_loader)


# --------------------------------------------------------------------------- sampling


def sample_records(records: Sequence[RawRecord], num_samples: int, seed: int) -> list[RawRecord]:
    """``num_samples`` records drawn as LLaMA-Factory does: a seeded permutation, then (if more are
    asked for than there are) further records drawn with replacement."""
    if not records:
        return []
    rng = random.Random(seed)
    order = list(range(len(records)))
    rng.shuffle(order)
    picked = order[:num_samples]
    if num_samples > len(picked):
        picked += rng.choices(range(len(records)), k=num_samples - len(picked))
    return [records[i] for i in picked]


def truncate_records(records: Sequence[RawRecord], max_samples: int | None) -> list[RawRecord]:
    """The first ``max_samples`` records (all when None)."""
    return list(records if max_samples is None else records[:max_samples])
