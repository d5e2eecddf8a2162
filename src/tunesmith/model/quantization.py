"""On-the-fly quantization for QLoRA (bitsandbytes 4/8-bit), and detecting quantized models."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import torch

from tunesmith.config import ModelConfig
from tunesmith.model.dtype import cuda_available
from tunesmith.model.errors import ModelError

BNB_BITS = (4, 8)


def bnb_config(model_cfg: ModelConfig, compute_dtype: torch.dtype) -> Any | None:
    """A ``BitsAndBytesConfig`` for ``quantization_bit``, or None when no quantization is asked for.

    Raises :class:`ModelError` for what cannot work here: no CUDA GPU, bitsandbytes missing, a bit
    width or method bitsandbytes does not provide.
    """
    bits = model_cfg.quantization_bit
    if bits is None:
        return None
    if model_cfg.quantization_method != "bnb":
        raise ModelError(
            f"quantization_method={model_cfg.quantization_method} is not supported yet; "
            "use quantization_method=bnb (bitsandbytes) with quantization_bit=4 or 8"
        )
    if bits not in BNB_BITS:
        raise ModelError(f"quantization_bit={bits}: bitsandbytes quantizes to 4 or 8 bits; use 4 or 8")
    if not cuda_available() or importlib.util.find_spec("bitsandbytes") is None:
        missing = "no CUDA GPU is visible" if not cuda_available() else "bitsandbytes is not installed"
        raise ModelError(
            f"quantization_bit={bits} needs a CUDA GPU and bitsandbytes: pip install tunesmith[bnb] "
            f"({missing}); or remove quantization_bit to train in full precision"
        )
    from transformers import BitsAndBytesConfig

    if bits == 8:
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_compute_dtype=compute_dtype,
        bnb_4bit_use_double_quant=model_cfg.double_quantization,
        bnb_4bit_quant_type=model_cfg.quantization_type,
        bnb_4bit_quant_storage=compute_dtype,
    )


def _method_of(qcfg: Any) -> str:
    if isinstance(qcfg, dict):
        return str(qcfg.get("quant_method", "unknown"))
    return str(getattr(qcfg, "quant_method", "unknown"))


def quantization_of(model: Any) -> str | None:
    """The quantization method of a loaded model (``model.config.quantization_config`` or an
    ``hf_quantizer``), or None for a full-precision model."""
    qcfg = getattr(getattr(model, "config", None), "quantization_config", None)
    if qcfg:
        return _method_of(qcfg)
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        return _method_of(getattr(quantizer, "quantization_config", None))
    return None


def checkpoint_quantization(model_dir: str | Path | None) -> str | None:
    """The quantization method recorded in a checkpoint's config.json (GPTQ, AWQ, saved bnb, ...)."""
    if model_dir is None:
        return None
    path = Path(model_dir) / "config.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    qcfg = data.get("quantization_config")
    return _method_of(qcfg) if qcfg else None
