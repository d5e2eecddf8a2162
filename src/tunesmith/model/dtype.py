"""Which dtype and device the weights get: ``auto`` follows the hardware, CPU computes in float32."""

from __future__ import annotations

import logging

import torch

from tunesmith.model.errors import ModelError

logger = logging.getLogger(__name__)

DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
}


def cuda_available() -> bool:
    return torch.cuda.is_available()


def default_device() -> str:
    """``cuda`` when a CUDA GPU is visible, else ``cpu``."""
    return "cuda" if cuda_available() else "cpu"


def auto_dtype(device: str) -> torch.dtype:
    """bfloat16 on a bf16-capable GPU, float16 on other GPUs, float32 on CPU."""
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def parse_dtype(name: str | torch.dtype, *, key: str = "infer_dtype") -> torch.dtype | None:
    """``torch.dtype`` for a config value; None for ``auto``. Unknown names raise :class:`ModelError`."""
    if isinstance(name, torch.dtype):
        return name
    if name == "auto":
        return None
    try:
        return DTYPES[name.lower()]
    except KeyError:
        raise ModelError(
            f"{key}={name!r} is not a dtype; use one of auto, float32, float16, bfloat16"
        ) from None


def resolve_dtype(
    name: str | torch.dtype, *, device: str | None = None, key: str = "infer_dtype"
) -> torch.dtype:
    """The dtype to load and compute in.

    ``auto`` → :func:`auto_dtype`. A half-precision request on CPU falls back to float32 with a
    warning: CPU kernels for bf16/fp16 are slow or missing, and a run should not crash over it.
    """
    device = device or default_device()
    dtype = parse_dtype(name, key=key)
    if dtype is None:
        return auto_dtype(device)
    if device == "cpu" and dtype in (torch.float16, torch.bfloat16):
        logger.warning(
            "%s=%s requested but no CUDA GPU is available; computing in float32 on CPU instead "
            "(set %s=float32 to silence this warning)",
            key,
            name,
            key,
        )
        return torch.float32
    if dtype is torch.bfloat16 and device.startswith("cuda") and not torch.cuda.is_bf16_supported():
        raise ModelError(
            f"{key}=bfloat16 but this GPU does not support bfloat16; use {key}=float16 (or auto)"
        )
    return dtype


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.bfloat16`` → ``bfloat16``."""
    return str(dtype).removeprefix("torch.")
