"""Where a model comes from: a local folder, the Hugging Face Hub, or ModelScope.

Hub ids are passed to transformers as they are (it picks the right weight files); this module turns
the failures of an offline or unreachable hub into one clear error that names the id and says how to
download it beforehand.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tunesmith.config import ModelConfig
from tunesmith.model.errors import ModelError

logger = logging.getLogger(__name__)

_TRUE = {"1", "on", "yes", "true"}


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE`` is set now.

    Read from the environment at call time: huggingface_hub reads it once at import.
    """
    return any(
        os.environ.get(k, "").strip().lower() in _TRUE for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def looks_like_path(name: str) -> bool:
    """A filesystem path rather than an ``org/name`` hub id."""
    return name.startswith(("/", ".", "~")) or name.count("/") > 1 or "\\" in name or Path(name).exists()


def resolve_source(name: str, model_cfg: ModelConfig, *, key: str = "model_name_or_path") -> str:
    """A local folder for ``name``, or the hub id itself (transformers downloads it).

    ModelScope ids (``use_modelscope_hub``) are downloaded here with modelscope's
    ``snapshot_download`` and the local folder returned.
    """
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path)
    if looks_like_path(name):
        raise ModelError(
            f"{key}={name}: no such directory; give an existing model folder or a hub id (org/name)"
        )
    if "/" not in name:
        name = registered_model_id(name, model_cfg, key=key)
    if model_cfg.use_modelscope_hub:
        return _modelscope_download(name, model_cfg, key=key)
    return name


def registered_model_id(name: str, model_cfg: ModelConfig, *, key: str = "model_name_or_path") -> str:
    """The hub id of a registered model group (``tunesmith models list``): its ModelScope id with
    ``use_modelscope_hub``, else its Hugging Face id. Built-in families and installed plugins count."""
    from tunesmith.families import build_catalog

    found = build_catalog().group(name)
    if found is None:
        raise ModelError(
            f"{key}={name}: not a folder, not a hub id (org/name) and not a registered model; "
            "see `tunesmith models list`"
        )
    group, _ = found
    hub_id = group.ms_id if model_cfg.use_modelscope_hub else group.hf_id
    if not hub_id:
        hub = "ModelScope" if model_cfg.use_modelscope_hub else "Hugging Face"
        raise ModelError(f"{key}={name}: the registered model {group.name} has no {hub} id")
    logger.info("%s=%s is the registered model %s → %s", key, name, group.name, hub_id)
    return hub_id


def _modelscope_download(name: str, model_cfg: ModelConfig, *, key: str) -> str:
    try:
        from modelscope import snapshot_download
    except ImportError:
        raise ModelError(
            f"{key}={name}: use_modelscope_hub is set but modelscope is not installed; "
            "`pip install modelscope`, or unset use_modelscope_hub to use the Hugging Face Hub"
        ) from None
    revision = "master" if model_cfg.model_revision == "main" else model_cfg.model_revision
    ignore = download_ignore_for(name)
    try:
        return str(
            snapshot_download(
                name,
                revision=revision,
                cache_dir=model_cfg.cache_dir,
                ignore_file_pattern=list(ignore) or None,
            )
        )
    except Exception as exc:  # modelscope raises many kinds of errors; all mean "not downloadable"
        raise ModelError(
            f"{key}={name}: cannot download from ModelScope ({type(exc).__name__}: {exc}). If this machine is "
            f"offline, download it beforehand (`modelscope download --model {name}`) and set {key} to the folder."
        ) from exc


def download_ignore_for(hub_id: str) -> tuple[str, ...]:
    """The download ignore patterns of the family that registers ``hub_id`` (none when unregistered)."""
    from tunesmith.families import build_catalog

    catalog = build_catalog()
    for entry in catalog.groups:
        group, family = entry.item
        if hub_id in (group.hf_id, group.ms_id):
            return catalog.families.get(family).download_ignore
    return ()


def hub_kwargs(model_cfg: ModelConfig) -> dict[str, Any]:
    """``from_pretrained`` keyword arguments for the hub: cache, revision, token, offline mode."""
    kwargs: dict[str, Any] = {
        "cache_dir": model_cfg.cache_dir,
        "revision": model_cfg.model_revision,
        "token": model_cfg.hf_hub_token,
        "trust_remote_code": model_cfg.trust_remote_code,
    }
    if hub_offline():
        kwargs["local_files_only"] = True
    return kwargs


@contextlib.contextmanager
def hub_errors(
    source: str, model_cfg: ModelConfig, *, what: str, key: str = "model_name_or_path"
) -> Iterator[None]:
    """Turn transformers' OSError for a hub id (offline, unreachable, gated, missing) into a
    :class:`ModelError` naming the id and how to pre-download it. Local folders pass errors through."""
    try:
        yield
    except OSError as exc:
        if Path(source).is_dir():
            raise ModelError(f"{key}={source}: cannot load the {what}: {exc}") from exc
        where = (
            "offline mode is on (HF_HUB_OFFLINE=1)" if hub_offline() else "the Hub is unreachable or refused"
        )
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"{key}={source}: cannot load the {what} from the Hugging Face Hub ({where}: {first}). "
            f"Download it beforehand on a machine with network: `hf download {source} "
            f"--revision {model_cfg.model_revision}` (with --cache-dir {model_cfg.cache_dir} if you set cache_dir), "
            f"or `hf download {source} --local-dir DIR` and set {key}=DIR. Gated or private repos also need "
            "hf_hub_token."
        ) from exc


def config_dir(source: str, model_cfg: ModelConfig) -> Path | None:
    """The local folder holding ``source``'s config.json (for hub ids: the cached snapshot), if any."""
    if Path(source).is_dir():
        return Path(source)
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(
            source, "config.json", cache_dir=model_cfg.cache_dir, revision=model_cfg.model_revision
        )
    except Exception:  # a cache lookup failing only means we do not know the folder
        return None
    return Path(found).parent if isinstance(found, str) else None
