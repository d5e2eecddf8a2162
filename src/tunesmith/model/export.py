"""Export: merge adapters into the base weights and save a model that serves exactly as it trained.

The exported folder holds safetensors weights in ``export_dtype``, the tokenizer whose
``chat_template`` is the template used in training (its Jinja form), a generation config that stops
at the template's stop tokens, and ``tunesmith_export.json`` recording what was merged and why that
template was chosen.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from tunesmith.config import FinetuneConfig, ModelConfig, RunConfig
from tunesmith.model.dtype import dtype_name, parse_dtype
from tunesmith.model.errors import ModelError
from tunesmith.model.hub import config_dir, resolve_source
from tunesmith.model.loader import load_model, load_tokenizer
from tunesmith.model.quantization import checkpoint_quantization, quantization_of

logger = logging.getLogger(__name__)

EXPORT_RECORD = "tunesmith_export.json"
CHAT_TEMPLATE_FILE = "chat_template.jinja"


@dataclass(frozen=True)
class ExportResult:
    export_dir: Path
    template_name: str
    template_reason: str
    dtype: str
    eos_token_ids: tuple[int, ...]


def _refuse_quantized(method: str, what: str) -> ModelError:
    return ModelError(
        f"{what} is quantized ({method}); merging adapters into quantized weights loses precision and "
        "cannot be saved as a full model. Export from the full-precision base: set model_name_or_path to "
        "the original (unquantized) model and remove quantization_bit; the adapter trained with QLoRA merges into it."
    )


def merge_adapters(
    model: nn.Module, adapters: Sequence[str], *, model_cfg: ModelConfig | None = None
) -> nn.Module:
    """Load each adapter onto ``model`` and merge it into the weights (in order); refuses a quantized base."""
    method = quantization_of(model)
    if method is not None:
        raise _refuse_quantized(method, "the base model")
    from peft import PeftModel

    kwargs: dict[str, Any] = {}
    if model_cfg is not None:
        kwargs = {
            "cache_dir": model_cfg.cache_dir,
            "revision": model_cfg.model_revision,
            "token": model_cfg.hf_hub_token,
        }
    for path in adapters:
        if Path(path).is_dir() and not (Path(path) / "adapter_config.json").is_file():
            raise ModelError(
                f"adapter_name_or_path={path}: no adapter_config.json in this folder (not a PEFT adapter)"
            )
        model = PeftModel.from_pretrained(model, path, **kwargs).merge_and_unload()
        logger.info("merged adapter %s", path)
    return model


def training_tokenizer_dir(adapters: Sequence[str]) -> str | None:
    """The last adapter folder holding a saved tokenizer (a training run saves the tokenizer, with the
    chat template it trained with, next to its adapter)."""
    for path in reversed(adapters):
        if (Path(path) / "tokenizer_config.json").is_file():
            return path
    return None


def _load_training_tokenizer(model_cfg: ModelConfig) -> Any:
    adapters = model_cfg.adapter_name_or_path
    tokenizer = load_tokenizer(model_cfg, path=training_tokenizer_dir(adapters))
    for path in reversed(adapters):  # a lone chat_template.jinja beside an adapter also wins
        template_file = Path(path) / CHAT_TEMPLATE_FILE
        if template_file.is_file():
            tokenizer.chat_template = template_file.read_text(encoding="utf-8")
            break
    return tokenizer


def stop_token_ids(tokenizer: Any, stop_strings: Sequence[str], existing: Any = None) -> list[int]:
    """Ids of the template's stop strings that are single tokens, then the already configured eos ids."""
    vocab = tokenizer.get_vocab()
    ids: list[int] = []
    for stop in stop_strings:
        if stop in vocab:
            ids.append(vocab[stop])
        else:
            logger.info(
                "stop string %r is not a single token; generation stops on it only via stop strings", stop
            )
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    if isinstance(existing, int):
        ids.append(existing)
    elif isinstance(existing, (list, tuple)):
        ids.extend(int(i) for i in existing)
    return list(dict.fromkeys(ids))


def _check_request(cfg: RunConfig) -> Path:
    if not cfg.export.export_dir:
        raise ModelError(
            "export_dir is not set; give the folder to write the merged model to, e.g. export_dir=out/merged"
        )
    if cfg.model.quantization_bit is not None:
        raise _refuse_quantized(
            f"quantization_bit={cfg.model.quantization_bit}",
            f"model_name_or_path={cfg.model.model_name_or_path} as configured",
        )
    if cfg.export.export_quantization_bit is not None:
        raise ModelError(
            "export_quantization_bit (GPTQ export) is not supported yet; export in full precision"
        )
    if cfg.export.export_size <= 0:
        raise ModelError(f"export_size={cfg.export.export_size}: must be a positive number of GB")
    out = Path(cfg.export.export_dir)
    if (out / "config.json").exists():
        logger.warning("export_dir %s already holds a model; its files are overwritten", out)
    return out


def copy_family_files(base_dir: Path | None, out: Path, catalog: Any) -> list[str]:
    """Copy the base folder's files that its family lists in ``export_files`` (e.g. processor
    configs) into ``out``; return their names."""
    import shutil

    from tunesmith.families.resolve import read_model_type

    if base_dir is None:
        return []
    model_type = read_model_type(base_dir)
    family = catalog.family_for_model_type(model_type) if model_type else None
    copied = []
    for pattern in family.export_files if family is not None else ():
        for path in sorted(Path(base_dir).glob(pattern)):
            if path.is_file() and not (out / path.name).exists():
                shutil.copy2(path, out / path.name)
                copied.append(path.name)
    return copied


def export_model(cfg: RunConfig) -> ExportResult:
    """Merge ``adapter_name_or_path`` into ``model_name_or_path`` and save it to ``export_dir``."""
    from tunesmith.families import build_catalog
    from tunesmith.families.resolve import choose_template

    out = _check_request(cfg)
    if not cfg.model.model_name_or_path:
        raise ModelError("model_name_or_path is not set; give the base model the adapters were trained on")
    source = resolve_source(cfg.model.model_name_or_path, cfg.model)
    base_dir = config_dir(source, cfg.model)
    method = checkpoint_quantization(base_dir)
    if method is not None and not cfg.export.export_adapter_only:
        raise _refuse_quantized(method, f"model_name_or_path={cfg.model.model_name_or_path}")

    tokenizer = _load_training_tokenizer(cfg.model)
    choice = choose_template(
        build_catalog(cfg.misc.plugins), tokenizer, name=cfg.template.template, model_dir=base_dir
    )
    if cfg.export.export_adapter_only:
        return _export_adapter_only(cfg, out, tokenizer, choice)
    dtype = parse_dtype(cfg.export.export_dtype, key="export_dtype")
    if dtype is None:  # the Literal type rules "auto" out; keep the checkpoint's float32 then
        raise ModelError("export_dtype: give float32, float16 or bfloat16")
    base_cfg = dataclasses.replace(cfg.model, adapter_name_or_path=(), resize_vocab=True)
    device_map = "cpu" if cfg.export.export_device == "cpu" else "auto"
    model = load_model(
        base_cfg,
        tokenizer,
        finetune_cfg=FinetuneConfig(finetuning_type="full"),
        for_training=False,
        device_map=device_map,
        dtype=dtype,
    )
    model = merge_adapters(model, cfg.model.adapter_name_or_path, model_cfg=cfg.model)
    model = model.to(dtype)

    eos_ids = stop_token_ids(tokenizer, choice.template.stop_strings, model.generation_config.eos_token_id)
    model.generation_config.eos_token_id = eos_ids
    if model.generation_config.pad_token_id is None and tokenizer.pad_token_id is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    if cfg.export.export_legacy_format:
        logger.warning("export_legacy_format is ignored: weights are written as safetensors")
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, max_shard_size=f"{cfg.export.export_size}GB")

    tokenizer.chat_template = choice.template.to_jinja()
    tokenizer.save_pretrained(out)
    copied = copy_family_files(base_dir, out, build_catalog(cfg.misc.plugins))
    record = {
        "base": cfg.model.model_name_or_path,
        "adapters": list(cfg.model.adapter_name_or_path),
        "template": {"name": choice.name, "reason": choice.reason},
        "dtype": dtype_name(dtype),
        "eos_token_id": eos_ids,
        "copied_files": copied,
    }
    (out / EXPORT_RECORD).write_text(
        json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    logger.info(
        "exported %s with template %s (%s) to %s",
        cfg.model.model_name_or_path,
        choice.name,
        choice.reason,
        out,
    )
    push_export(cfg, out)
    return ExportResult(out, choice.name, choice.reason, dtype_name(dtype), tuple(eos_ids))


def _export_adapter_only(cfg: RunConfig, out: Path, tokenizer: Any, choice: Any) -> ExportResult:
    """Copy the one adapter (no merge) with the tokenizer carrying the training chat template."""
    import shutil

    adapters = cfg.model.adapter_name_or_path
    if len(adapters) != 1:
        raise ModelError(
            f"export_adapter_only: give exactly one adapter_name_or_path (got {len(adapters)}); "
            "to combine several, export them merged instead"
        )
    source = Path(adapters[0])
    if not (source / "adapter_config.json").is_file():
        raise ModelError(f"adapter_name_or_path={source}: no adapter_config.json (not a PEFT adapter folder)")
    out.mkdir(parents=True, exist_ok=True)
    copied = []
    for path in sorted(source.iterdir()):
        if path.is_file() and path.name.startswith("adapter_"):
            shutil.copy2(path, out / path.name)
            copied.append(path.name)
    tokenizer.chat_template = choice.template.to_jinja()
    tokenizer.save_pretrained(out)
    record = {
        "base": cfg.model.model_name_or_path,
        "adapters": [str(source)],
        "adapter_only": True,
        "template": {"name": choice.name, "reason": choice.reason},
        "copied_files": copied,
    }
    (out / EXPORT_RECORD).write_text(
        json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    logger.info("exported adapter %s with template %s to %s", source, choice.name, out)
    push_export(cfg, out)
    return ExportResult(out, choice.name, choice.reason, "adapter", ())


def push_export(cfg: RunConfig, out: Path) -> None:
    """Upload ``out`` to ``export_hub_model_id`` (network). The local export is complete before this
    runs, so a failed push loses nothing; the error says how to upload later."""
    import os

    repo = cfg.export.export_hub_model_id
    if not repo:
        return
    from huggingface_hub import HfApi

    api = HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None, token=cfg.model.hf_hub_token)
    try:
        api.create_repo(repo, exist_ok=True)
        api.upload_folder(folder_path=str(out), repo_id=repo)
    except Exception as exc:  # offline, unreachable, unauthorised: all mean "not pushed"
        raise ModelError(
            f"export_hub_model_id={repo}: the export is saved in {out} but could not be pushed to the Hub "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). Check the network and "
            f"hf_hub_token, or upload it later with `hf upload {repo} {out}`."
        ) from exc
    logger.info("pushed %s to the Hub as %s", out, repo)
