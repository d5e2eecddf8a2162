"""Post-training-quantized (PTQ) checkpoints: GPTQ, AWQ, fine-grained FP8 and saved bitsandbytes.

Such a checkpoint records ``quantization_config`` (with ``quant_method``) in its config.json;
transformers reads it and loads the quantized layers itself, so nothing is passed to
``from_pretrained``. What this module adds is refusing, with a clear message, what cannot work:

* a method tunesmith does not handle (anything but gptq, awq, fp8, bitsandbytes);
* GPTQ/AWQ without their libraries or without a CUDA GPU;
* updating quantized weights (full or freeze fine-tuning; adapters such as LoRA are fine);
* sharding the packed weights with DeepSpeed ZeRO-3 or FSDP.

FP8 checkpoints are dequantized by the loader (:mod:`tunesmith.model.fp8`) before loading, so they
train like any full-precision model. Merging an adapter into a quantized base is refused by export.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tunesmith.model.dtype import cuda_available
from tunesmith.model.errors import ModelError
from tunesmith.model.fp8 import check_quantized_training

SUPPORTED_METHODS = ("gptq", "awq", "fp8", "bitsandbytes")
PACKED_METHODS = ("gptq", "awq", "bitsandbytes")
"""Methods whose weights stay quantized while training (only adapters can train on them)."""
_LABELS = {"gptq": "GPTQ", "awq": "AWQ", "bitsandbytes": "bitsandbytes", "fp8": "FP8"}


def ptq_method(model_dir: str | Path | None) -> str | None:
    """``quantization_config.quant_method`` of a local checkpoint folder; None when ``model_dir`` is
    not a local folder with a config.json, or the checkpoint is not quantized.

    Raises :class:`ModelError` for a quantization method tunesmith does not support."""
    if model_dir is None:
        return None
    path = Path(model_dir) / "config.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path} is not valid JSON: {exc}") from None
    qcfg = data.get("quantization_config") if isinstance(data, Mapping) else None
    if not qcfg:
        return None
    method = str(qcfg.get("quant_method", "unknown")) if isinstance(qcfg, Mapping) else "unknown"
    method = method.lower()
    if method not in SUPPORTED_METHODS:
        raise ModelError(
            f"{model_dir}: unsupported quantization method {method!r} (config.json quantization_config); "
            f"tunesmith loads {', '.join(SUPPORTED_METHODS)} checkpoints; use a full-precision model or "
            "one quantized with a supported method"
        )
    return method


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _transformers_major() -> int:
    try:
        from importlib.metadata import version

        return int(version("transformers").split(".")[0])
    except Exception:  # noqa: BLE001 - unknown version: assume the current major
        return 5


def _missing_libraries(method: str) -> tuple[list[str], str]:
    """(missing packages, install hint) for loading ``method`` with the installed transformers."""
    v5 = _transformers_major() >= 5
    if method == "gptq":
        if v5:  # transformers 5 loads GPTQ through optimum + gptqmodel only
            missing = [m for m in ("gptqmodel", "optimum") if not _has(m)]
            return missing, "install gptqmodel and optimum (pip install gptqmodel optimum)"
        missing = [] if _has("optimum") else ["optimum"]
        if not (_has("gptqmodel") or _has("auto_gptq")):
            missing.insert(0, "gptqmodel or auto-gptq")
        return missing, "install gptqmodel (or auto-gptq) + optimum"
    if method == "awq":
        if v5:  # transformers 5 runs AWQ kernels from gptqmodel
            return ([] if _has("gptqmodel") else ["gptqmodel"]), "install gptqmodel (pip install gptqmodel)"
        return ([] if _has("awq") else ["autoawq"]), "install autoawq (pip install autoawq)"
    if method == "bitsandbytes":
        return (
            [] if _has("bitsandbytes") else ["bitsandbytes"]
        ), "install bitsandbytes (pip install tunesmith[bnb])"
    return [], ""


def check_ptq_runtime(method: str | None, model_dir: str | Path) -> None:
    """Raise :class:`ModelError` when a GPTQ/AWQ/bitsandbytes checkpoint cannot load here (its
    libraries are missing or no CUDA GPU is visible)."""
    if method not in PACKED_METHODS:
        return
    missing, hint = _missing_libraries(method)
    gpu = cuda_available()
    if not missing and gpu:
        return
    reasons = [f"{', '.join(missing)} not installed"] if missing else []
    if not gpu:
        reasons.append("no CUDA GPU is visible")
    raise ModelError(
        f"{model_dir} is {_LABELS[method]}-quantized: {hint} and use a CUDA GPU ({'; '.join(reasons)}); "
        "LoRA training on it is supported, full fine-tuning is not"
    )


def deepspeed_zero_stage(deepspeed: Any) -> int | None:
    """The ZeRO stage of a ``deepspeed`` TrainingArguments value (a dict, a JSON string or a path to
    a JSON file), or None when there is none (or it cannot be read)."""
    if deepspeed is None or deepspeed is False or deepspeed == "":
        return None
    conf: Any = deepspeed
    if isinstance(deepspeed, (str, Path)):
        text = str(deepspeed).strip()
        if text.startswith("{"):
            try:
                conf = json.loads(text)
            except json.JSONDecodeError:
                return None
        else:
            path = Path(text)
            if not path.is_file():
                raise ModelError(f"deepspeed={text}: no such DeepSpeed config file")
            try:
                conf = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise ModelError(f"deepspeed={text} is not a valid JSON DeepSpeed config: {exc}") from None
    if not isinstance(conf, Mapping):
        return None
    zero = conf.get("zero_optimization")
    stage = zero.get("stage") if isinstance(zero, Mapping) else None
    try:
        return int(stage) if stage is not None else None
    except (TypeError, ValueError):  # "auto" and the like
        return None


def fsdp_enabled(fsdp: Any) -> bool:
    """Whether a ``fsdp`` TrainingArguments value turns FSDP on ("full_shard auto_wrap", a list of
    options, True), or ``accelerate launch`` was configured for FSDP."""
    if os.environ.get("ACCELERATE_USE_FSDP", "").lower() in ("1", "true", "yes"):
        return True
    if isinstance(fsdp, str):
        return fsdp.strip().lower() not in ("", "false", "no", "none", "0")
    if isinstance(fsdp, (list, tuple)):
        return any(str(opt).strip() for opt in fsdp)
    return bool(fsdp)


def zero3_enabled(deepspeed: Any) -> bool:
    """Whether ``deepspeed`` (or ``accelerate launch``'s DeepSpeed settings) asks for ZeRO stage 3."""
    if os.environ.get("ACCELERATE_DEEPSPEED_ZERO_STAGE", "").strip() == "3":
        return True
    return deepspeed_zero_stage(deepspeed) == 3


def check_ptq_training(
    method: str | None,
    model_dir: str | Path,
    *,
    finetuning_type: str | None = None,
    zero3: bool = False,
    fsdp: bool = False,
) -> None:
    """Refuse training a checkpoint quantized with ``method`` in a way that cannot work: full or
    freeze fine-tuning (``finetuning_type``; None skips that check), DeepSpeed ZeRO-3 or FSDP.
    FP8 checkpoints are dequantized before loading, so nothing is refused for them."""
    if method is None or method == "fp8":
        return
    try:
        check_quantized_training(method, finetuning_type=finetuning_type or "lora", zero3=zero3, fsdp=fsdp)
        if method == "bitsandbytes" and (zero3 or fsdp):  # not among fp8.PTQ_METHODS (QLoRA shards)
            raise ModelError(
                f"a post-training-quantized ({method}) checkpoint cannot be sharded with "
                f"{'DeepSpeed ZeRO-3' if zero3 else 'FSDP'}: use ZeRO-2/DDP, or a full-precision base"
            )
    except ModelError as exc:
        raise ModelError(f"{model_dir} is {_LABELS.get(method, method)}-quantized: {exc}") from None


def check_ptq_run(cfg: Any) -> str | None:
    """Before a training run loads anything: the PTQ method of ``cfg.model.model_name_or_path`` (a
    local folder; None otherwise), after refusing full/freeze fine-tuning of it and sharding it with
    ZeRO-3 (``deepspeed`` in ``cfg.training_args``: a path, JSON string or dict) or FSDP (``fsdp``)."""
    model_dir = cfg.model.model_name_or_path
    method = ptq_method(model_dir) if model_dir and Path(model_dir).is_dir() else None
    if method is None or method == "fp8":
        return method
    extra = cfg.training_args
    check_ptq_training(
        method,
        model_dir,
        finetuning_type=getattr(cfg.finetune, "finetuning_type", None),
        zero3=zero3_enabled(extra.get("deepspeed")),
        fsdp=fsdp_enabled(extra.get("fsdp")),
    )
    return method
