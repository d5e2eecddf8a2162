"""On-disk cache of tokenized datasets, keyed by a fingerprint of everything that shapes them.

The fingerprint covers: the data files (content hash, size, mtime) and their dataset_info.json
entries, the tokenizer (its serialized vocabulary/merges, special tokens and chat template), the
template (type, name and Jinja source), the stage, the data and template settings that change the
result (cutoff_len, packing, label options, max_samples, val_size, mixing, …), the seed and the
tunesmith version.

Where: ``tokenized_path`` when the config names one (loaded when present, else written there);
otherwise ``<root>/<fingerprint>`` with ``root`` = ``<cache_dir>/tunesmith/tokenized`` when the
config sets ``cache_dir``, else ``$TUNESMITH_CACHE/tokenized`` when that variable is set, else
``~/.cache/tunesmith/tokenized``.

An entry is a folder with ``meta.json`` (fingerprint, stats, bad-record report) and ``train/`` and
``eval/`` written by ``datasets.Dataset.save_to_disk``. Entries are written to a temporary folder
and renamed, so an interrupted run never leaves a half-written entry behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datasets import Dataset

    from tunesmith.config import RunConfig
    from tunesmith.templates.base import ChatTemplate

logger = logging.getLogger(__name__)

__all__ = [
    "CacheEntry",
    "cache_root",
    "data_fingerprint",
    "file_fingerprint",
    "load_tokenized",
    "save_tokenized",
    "template_fingerprint",
    "tokenizer_fingerprint",
]

CACHE_ENV = "TUNESMITH_CACHE"
META_FILE = "meta.json"
FORMAT_VERSION = 1

# DataConfig fields that do not change the tokenized result.
_NEUTRAL_DATA_KEYS = frozenset(
    {
        "overwrite_cache",
        "tokenized_path",
        "preprocessing_num_workers",
        "preprocessing_batch_size",
        "buffer_size",
    }
)


@dataclass(frozen=True)
class CacheEntry:
    train: Dataset | None
    eval: Dataset | None
    meta: Mapping[str, Any]


def cache_root(cfg: RunConfig) -> Path:
    """The folder automatic cache entries live in (see the module docstring)."""
    if cfg.model.cache_dir:
        return Path(cfg.model.cache_dir).expanduser() / "tunesmith" / "tokenized"
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser() / "tokenized"
    return Path.home() / ".cache" / "tunesmith" / "tokenized"


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_fingerprint(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    st = p.stat()
    return {
        "path": str(p.resolve()),
        "sha256": _sha256_file(p),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
    }


def _dataset_entries(names: tuple[str, ...], dataset_dir: str) -> list[dict[str, Any]]:
    """Each dataset's dataset_info.json entry and the fingerprints of its local files."""
    from tunesmith.data.info import DATA_CONFIG, ONLINE, get_dataset_attrs

    if not names:
        return []
    if dataset_dir == ONLINE:
        return [{"name": n, "online": True} for n in names]
    info = json.loads((Path(dataset_dir) / DATA_CONFIG).read_text(encoding="utf-8"))
    out = []
    for attr in get_dataset_attrs(list(names), dataset_dir):
        entry: dict[str, Any] = {"name": attr.name, "info": info.get(attr.name)}
        if not attr.is_hub:
            path = Path(dataset_dir) / attr.path
            files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
            entry["files"] = [file_fingerprint(f) for f in files]
        out.append(entry)
    return out


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """A hash of what decides the tokenizer's ids: its serialized model (fast tokenizers) or vocabulary,
    its special tokens and its chat template."""
    digest = hashlib.sha256(type(tokenizer).__name__.encode())
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        digest.update(backend.to_str().encode())
    else:
        digest.update(json.dumps(sorted(tokenizer.get_vocab().items())).encode())
    digest.update(json.dumps(dict(tokenizer.special_tokens_map), sort_keys=True, default=str).encode())
    digest.update(json.dumps(getattr(tokenizer, "chat_template", None), sort_keys=True, default=str).encode())
    return digest.hexdigest()


def template_fingerprint(template: ChatTemplate) -> str:
    """A hash of the template's identity: its type, name, stop strings and Jinja source."""
    try:
        source = template.to_jinja()
    except Exception as exc:  # a template that cannot export still has a stable description
        source = f"unexportable:{type(exc).__name__}:{template!r}"
    parts = [type(template).__name__, template.name, list(template.stop_strings), source]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def data_fingerprint(cfg: RunConfig, tokenizer: Any, template: ChatTemplate | None, stage: str) -> str:
    """The cache key of a tokenized dataset (see the module docstring); pt passes no template."""
    from dataclasses import asdict

    from tunesmith import __version__

    data = {k: v for k, v in asdict(cfg.data).items() if k not in _NEUTRAL_DATA_KEYS}
    key = {
        "format": FORMAT_VERSION,
        "tunesmith": __version__,
        "stage": stage,
        "data": data,
        "template_config": asdict(cfg.template),
        "seed": cfg.train.seed,
        "datasets": _dataset_entries(cfg.data.dataset, cfg.data.dataset_dir),
        "eval_datasets": _dataset_entries(cfg.data.eval_dataset, cfg.data.dataset_dir),
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "template": None if template is None else template_fingerprint(template),
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:32]


def save_tokenized(
    path: str | Path, train: Dataset | None, eval: Dataset | None, meta: Mapping[str, Any]
) -> None:
    """Write an entry (replacing any old one) via a temporary folder and a rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for name, ds in (("train", train), ("eval", eval)):
        if ds is not None:
            ds.save_to_disk(str(tmp / name))
    (tmp / META_FILE).write_text(json.dumps(dict(meta), indent=1, default=str), encoding="utf-8")
    if target.exists():
        shutil.rmtree(target)
    os.replace(tmp, target)


def load_tokenized(path: str | Path) -> CacheEntry | None:
    """An entry written by :func:`save_tokenized`, or a ``DatasetDict`` LLaMA-Factory saved as its
    ``tokenized_path`` (splits ``train`` and ``validation``); None when there is none at ``path``."""
    from datasets import load_from_disk

    p = Path(path)
    if (p / META_FILE).is_file():
        meta = json.loads((p / META_FILE).read_text(encoding="utf-8"))
        splits = {n: load_from_disk(str(p / n)) if (p / n).is_dir() else None for n in ("train", "eval")}
        return CacheEntry(splits["train"], splits["eval"], meta)
    if (p / "dataset_dict.json").is_file():
        loaded = load_from_disk(str(p))
        return CacheEntry(loaded.get("train"), loaded.get("validation"), {})
    return None
