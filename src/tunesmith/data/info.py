"""``dataset_info.json``: LLaMA-Factory's dataset descriptions, read unchanged into frozen dataclasses.

Each entry names where the data lives (``hf_hub_url``, ``ms_hub_url``, ``om_hub_url``, ``script_url``,
``cloud_file_name`` or ``file_name`` — a file or a folder relative to ``dataset_dir``), how its records
are shaped (``formatting``: alpaca, sharegpt or openai; ``ranking`` for preference pairs) and which of
its columns and role tags mean what. Defaults follow LLaMA-Factory:

* alpaca: ``prompt=instruction``, ``query=input``, ``response=output``; when ``columns`` is given the
  alpaca columns it does not name are unset (so ``{"prompt": "text"}`` is a plain-text corpus).
* sharegpt: ``messages=conversations`` and tags ``from``/``value``/``human``/``gpt``/``observation``/
  ``function_call``/``system``.
* openai: sharegpt with ``messages=messages`` and tags ``role``/``content``/``user``/``assistant``/
  ``tool``/``function_call``/``system``.

One deliberate difference: tags that ``tags`` does not name keep the formatting's defaults (LLaMA-Factory
unsets them), so a ``system`` turn is still recognised in a dataset that only renames role and content.
Unknown keys are errors that name the dataset and the key, with a suggestion.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

from tunesmith.data.report import DataError

DATA_CONFIG = "dataset_info.json"
ONLINE = "ONLINE"
"""``dataset_dir`` value meaning: no dataset_info.json, every name is a Hugging Face Hub dataset id."""

Formatting = Literal["alpaca", "sharegpt", "openai"]
LoadFrom = Literal["hf_hub", "ms_hub", "om_hub", "script", "cloud_file", "file"]
FORMATTINGS: tuple[str, ...] = ("alpaca", "sharegpt", "openai")

_SOURCE_KEYS = ("hf_hub_url", "ms_hub_url", "om_hub_url", "script_url", "cloud_file_name", "file_name")
_ENTRY_KEYS = frozenset(
    (*_SOURCE_KEYS, "file_sha1", "formatting", "ranking", "subset", "split", "folder", "num_samples")
    + ("revision", "columns", "tags")
)
_ALPACA_COLUMNS = ("prompt", "query", "response", "history")


@dataclass(frozen=True)
class DatasetColumns:
    """Column names in the records (None: the dataset has no such column)."""

    prompt: str | None = "instruction"
    query: str | None = "input"
    response: str | None = "output"
    history: str | None = None
    messages: str | None = "conversations"
    system: str | None = None
    tools: str | None = None
    images: str | None = None
    videos: str | None = None
    audios: str | None = None
    chosen: str | None = None
    rejected: str | None = None
    kto_tag: str | None = None


@dataclass(frozen=True)
class DatasetTags:
    """Keys and role values of the message objects in sharegpt/openai records."""

    role_tag: str = "from"
    content_tag: str = "value"
    user_tag: str = "human"
    assistant_tag: str = "gpt"
    observation_tag: str = "observation"
    function_tag: str = "function_call"
    system_tag: str = "system"


OPENAI_TAGS = DatasetTags("role", "content", "user", "assistant", "tool", "function_call", "system")
_COLUMN_KEYS = frozenset(f.name for f in fields(DatasetColumns))
_TAG_KEYS = frozenset(f.name for f in fields(DatasetTags))


@dataclass(frozen=True)
class DatasetAttr:
    """One dataset as described in dataset_info.json."""

    name: str
    """The key in dataset_info.json."""
    load_from: LoadFrom
    path: str
    """Hub id, script path or file/folder name (relative to ``dataset_dir``), per ``load_from``."""
    formatting: Formatting = "alpaca"
    ranking: bool = False
    subset: str | None = None
    split: str = "train"
    folder: str | None = None
    num_samples: int | None = None
    revision: str | None = None
    hf_hub_url: str | None = None
    ms_hub_url: str | None = None
    om_hub_url: str | None = None
    columns: DatasetColumns = DatasetColumns()
    tags: DatasetTags = DatasetTags()

    @property
    def is_hub(self) -> bool:
        return self.load_from in ("hf_hub", "ms_hub", "om_hub")


def _suggest(key: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def _check_keys(where: str, given: Mapping[str, Any], known: frozenset[str]) -> None:
    for key in given:
        if key not in known:
            raise DataError(
                f"{where}: unknown key {key!r}.{_suggest(str(key), list(known))} "
                f"Known keys: {', '.join(sorted(known))}"
            )


def _str_map(where: str, value: Any, known: frozenset[str]) -> dict[str, str | None]:
    if not isinstance(value, Mapping):
        raise DataError(f"{where}: expected an object, got {type(value).__name__}")
    _check_keys(where, value, known)
    for key, item in value.items():
        if item is not None and not isinstance(item, str):
            raise DataError(f"{where}.{key}: expected a string, got {type(item).__name__}")
    return dict(value)


def _optional_str(where: str, entry: Mapping[str, Any], key: str) -> str | None:
    value = entry.get(key)
    if value is not None and not isinstance(value, str):
        raise DataError(f"{where}.{key}: expected a string, got {type(value).__name__}")
    return value


def _pick_source(where: str, entry: Mapping[str, Any], prefer_modelscope: bool) -> tuple[LoadFrom, str]:
    hf, ms, om = entry.get("hf_hub_url"), entry.get("ms_hub_url"), entry.get("om_hub_url")
    if hf or ms or om:
        if prefer_modelscope and ms:
            return "ms_hub", ms
        if hf:
            return "hf_hub", hf
        if ms:
            return "ms_hub", ms
        return "om_hub", str(om)
    for key, load_from in (
        ("script_url", "script"),
        ("cloud_file_name", "cloud_file"),
        ("file_name", "file"),
    ):
        if entry.get(key):
            return load_from, entry[key]  # type: ignore[return-value]
    raise DataError(f"{where}: needs one of {', '.join(_SOURCE_KEYS)} to say where the data is")


def parse_dataset_attr(name: str, entry: Any, *, prefer_modelscope: bool = False) -> DatasetAttr:
    """Turn one dataset_info.json entry into a :class:`DatasetAttr` (validated)."""
    where = f"dataset_info.json: dataset {name!r}"
    if not isinstance(entry, Mapping):
        raise DataError(f"{where}: expected an object, got {type(entry).__name__}")
    _check_keys(where, entry, _ENTRY_KEYS)
    for key in (*_SOURCE_KEYS, "subset", "split", "folder", "revision"):
        _optional_str(where, entry, key)
    load_from, path = _pick_source(where, entry, prefer_modelscope)

    formatting = entry.get("formatting", "alpaca")
    if formatting not in FORMATTINGS:
        raise DataError(
            f"{where}.formatting: unknown value {formatting!r}; expected one of {', '.join(FORMATTINGS)}"
        )
    ranking = entry.get("ranking", False)
    if not isinstance(ranking, bool):
        raise DataError(f"{where}.ranking: expected true or false, got {ranking!r}")
    num_samples = entry.get("num_samples")
    if num_samples is not None and (
        isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples <= 0
    ):
        raise DataError(f"{where}.num_samples: expected a positive integer, got {num_samples!r}")

    columns = (
        DatasetColumns()
        if formatting == "alpaca"
        else DatasetColumns(messages="messages" if formatting == "openai" else "conversations")
    )
    if "columns" in entry:
        given = _str_map(f"{where}.columns", entry["columns"], _COLUMN_KEYS)
        # As LLaMA-Factory: naming columns unsets the alpaca columns not named.
        unset = {key: None for key in _ALPACA_COLUMNS if key not in given}
        given = {key: value for key, value in given.items() if not (key == "messages" and value is None)}
        columns = replace(columns, **unset, **given)

    tags = OPENAI_TAGS if formatting == "openai" else DatasetTags()
    if "tags" in entry:
        given_tags = _str_map(f"{where}.tags", entry["tags"], _TAG_KEYS)
        tags = replace(tags, **{key: value for key, value in given_tags.items() if value is not None})

    return DatasetAttr(
        name=name,
        load_from=load_from,
        path=path,
        formatting=formatting,
        ranking=ranking,
        subset=entry.get("subset"),
        split=entry.get("split") or "train",
        folder=entry.get("folder"),
        num_samples=num_samples,
        revision=entry.get("revision"),
        hf_hub_url=entry.get("hf_hub_url"),
        ms_hub_url=entry.get("ms_hub_url"),
        om_hub_url=entry.get("om_hub_url"),
        columns=columns,
        tags=tags,
    )


def read_dataset_info(dataset_dir: str | Path) -> dict[str, Any]:
    """The parsed dataset_info.json of ``dataset_dir`` (an object of dataset entries)."""
    path = Path(dataset_dir) / DATA_CONFIG
    if not path.is_file():
        raise DataError(
            f"cannot find {DATA_CONFIG} in dataset_dir {str(dataset_dir)!r} ({path}); "
            "set dataset_dir to the folder that holds it"
        )
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if not isinstance(info, dict):
        raise DataError(f"{path}: expected an object of dataset entries, got {type(info).__name__}")
    return info


def get_dataset_attrs(
    dataset_names: Sequence[str], dataset_dir: str | Path, *, prefer_modelscope: bool = False
) -> list[DatasetAttr]:
    """The :class:`DatasetAttr` of each name, in order. ``dataset_dir="ONLINE"`` takes names as hub ids."""
    if str(dataset_dir) == ONLINE:
        load_from: LoadFrom = "ms_hub" if prefer_modelscope else "hf_hub"
        return [DatasetAttr(name=name, load_from=load_from, path=name) for name in dataset_names]
    info = read_dataset_info(dataset_dir)
    attrs = []
    for name in dataset_names:
        if name not in info:
            close = difflib.get_close_matches(name, list(info), n=5, cutoff=0.5)
            hint = f" Did you mean: {', '.join(close)}?" if close else f" It defines {len(info)} datasets."
            raise DataError(f"dataset {name!r} is not defined in {Path(dataset_dir) / DATA_CONFIG}.{hint}")
        attrs.append(parse_dataset_attr(name, info[name], prefer_modelscope=prefer_modelscope))
    return attrs
