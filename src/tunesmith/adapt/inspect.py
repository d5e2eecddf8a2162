"""Reading a model folder: config, version, tokenizer files, stop words, processor, quantization."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunesmith.model.errors import ModelError

PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json", "video_preprocessor_config.json")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json", "merges.txt")
TEMPLATE_FILES = ("chat_template.jinja", "chat_template.json")


@dataclass(frozen=True)
class Inspection:
    model_dir: Path
    config: dict[str, Any]
    model_type: str | None
    architectures: tuple[str, ...]
    tokenizer_files: tuple[str, ...]
    template_files: tuple[str, ...]
    processor_files: tuple[str, ...]
    generation_eos_ids: tuple[int, ...]
    quantization: str | None


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{path.parent}: no {path.name} (not a saved model folder)") from None
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a JSON object")
    return data


def _eos_ids(model_dir: Path, config: dict[str, Any]) -> tuple[int, ...]:
    gen = model_dir / "generation_config.json"
    value = read_json(gen).get("eos_token_id") if gen.is_file() else config.get("eos_token_id")
    if isinstance(value, int):
        return (value,)
    return tuple(int(v) for v in value) if isinstance(value, list) else ()


def inspect_model_dir(model_dir: str | Path) -> Inspection:
    path = Path(model_dir)
    if not path.is_dir():
        raise ModelError(
            f"{model_dir}: not a directory; give a saved model folder (config.json, weights, tokenizer)"
        )
    config = read_json(path / "config.json")
    model_type = config.get("model_type")
    qcfg = config.get("quantization_config")
    present = [p.name for p in path.iterdir()]
    return Inspection(
        model_dir=path,
        config=config,
        model_type=model_type,
        architectures=tuple(config.get("architectures") or ()),
        tokenizer_files=tuple(f for f in TOKENIZER_FILES if f in present),
        template_files=tuple(f for f in TEMPLATE_FILES if f in present),
        processor_files=tuple(f for f in PROCESSOR_FILES if f in present),
        generation_eos_ids=_eos_ids(path, config),
        quantization=str(qcfg.get("quant_method", "unknown")) if isinstance(qcfg, dict) else None,
    )


def transformers_version_problem(config: dict[str, Any], installed: str | None = None) -> str | None:
    """A message naming both versions when config.json was written by a newer transformers than the
    installed one (its model code or config keys may be unknown here); None otherwise."""
    from packaging.version import InvalidVersion, Version

    written = config.get("transformers_version")
    if installed is None:
        import transformers

        installed = transformers.__version__
    if not written:
        return None
    try:
        newer = Version(str(written)).release[:2] > Version(installed).release[:2]
    except InvalidVersion:
        return (
            f"config.json transformers_version {written!r} is not a version number (installed: {installed})"
        )
    if newer:
        return (
            f"config.json was written by transformers {written}, newer than the installed {installed}; "
            f"the model code or config keys may be unknown here: pip install -U 'transformers>={written}'"
        )
    return None


def check_transformers_version(config: dict[str, Any], installed: str | None = None) -> None:
    """Raise :class:`ModelError` with :func:`transformers_version_problem`'s message, if any."""
    problem = transformers_version_problem(config, installed)
    if problem:
        raise ModelError(problem)


def stop_words(tokenizer: Any, eos_ids: tuple[int, ...]) -> tuple[str, ...]:
    """The generation config's eos ids as token strings (the template's stop words)."""
    out = []
    for i in eos_ids:
        token = tokenizer.convert_ids_to_tokens(int(i))
        if token and token not in out:
            out.append(token)
    return tuple(out)
