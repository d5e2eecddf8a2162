"""Fine-grained FP8 checkpoints (DeepSeek-V3 style, transformers' ``FineGrainedFP8Config``).

Such a checkpoint records ``quantization_config = {"quant_method": "fp8", "fmt": "e4m3",
"weight_block_size": [128, 128], ...}`` in ``config.json``; each quantized linear weight is stored as
``float8_e4m3fn`` next to ``<name>_scale_inv`` (float32, one value per 128x128 block): the real weight
is ``weight.float() * scale_inv`` with every scale repeated over its block. Training needs real
weights (FP8 kernels are GPU-only and cannot take gradients), so :func:`dequantize_checkpoint` writes a
plain bf16/fp32 copy that loads like any model. A base trained that way is *not* the FP8 checkpoint:
merging an adapter into the FP8 checkpoint itself is refused by export (it carries
``quantization_config``).
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tunesmith.model.errors import ModelError

logger = logging.getLogger(__name__)

SCALE_SUFFIX = "_scale_inv"
FP8_MAX = 448.0  # largest finite float8_e4m3fn
DEFAULT_BLOCK = (128, 128)
PTQ_METHODS = ("fp8", "gptq", "awq", "aqlm", "eetq", "hqq", "compressed-tensors", "fbgemm_fp8", "bitnet")
"""Post-training-quantized checkpoint formats (``quantization_config.quant_method``)."""


@dataclass(frozen=True)
class Fp8Checkpoint:
    """A fine-grained FP8 checkpoint found by :func:`fp8_checkpoint`."""

    model_dir: Path
    fmt: str
    block_size: tuple[int, int]
    quantization_config: Mapping[str, Any]


def _read_config(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "config.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{model_dir}: no config.json (not a saved model folder)") from None
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path} is not valid JSON: {exc}") from None


def fp8_checkpoint(model_dir: str | Path) -> Fp8Checkpoint | None:
    """The FP8 description of ``model_dir`` from its config.json, None when it is not FP8-quantized.

    Raises :class:`ModelError` for an FP8 variant this module cannot dequantize."""
    model_dir = Path(model_dir)
    qcfg = _read_config(model_dir).get("quantization_config")
    if not isinstance(qcfg, Mapping) or qcfg.get("quant_method") != "fp8":
        return None
    fmt = str(qcfg.get("fmt", "e4m3"))
    if fmt != "e4m3":
        raise ModelError(f"{model_dir}: FP8 format {fmt!r} is not supported; only e4m3 (float8_e4m3fn) is")
    block = qcfg.get("weight_block_size")
    if not (
        isinstance(block, (list, tuple))
        and len(block) == 2
        and all(isinstance(b, int) and b > 0 for b in block)
    ):
        raise ModelError(
            f"{model_dir}: quantization_config.weight_block_size={block!r}; only fine-grained (block-wise) FP8 "
            "with a [rows, cols] block size is supported"
        )
    return Fp8Checkpoint(model_dir, fmt, (block[0], block[1]), dict(qcfg))


def dequantize_weight(weight: torch.Tensor, scale_inv: torch.Tensor, block: tuple[int, int]) -> torch.Tensor:
    """``weight.float() * scale_inv`` with each scale expanded over its ``block`` (edges cropped)."""
    rows, cols = weight.shape
    need = (math.ceil(rows / block[0]), math.ceil(cols / block[1]))
    if tuple(scale_inv.shape) != need:
        raise ModelError(
            f"scale_inv of shape {tuple(scale_inv.shape)} does not fit a {rows}x{cols} weight in {block[0]}x{block[1]} "
            f"blocks (expected {need})"
        )
    scale = scale_inv.float().repeat_interleave(block[0], 0).repeat_interleave(block[1], 1)[:rows, :cols]
    return weight.float() * scale


def quantize_weight(weight: torch.Tensor, block: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """(float8_e4m3fn weight, float32 scale_inv): each block scaled so its largest value maps to 448."""
    rows, cols = weight.shape
    nr, nc = math.ceil(rows / block[0]), math.ceil(cols / block[1])
    padded = torch.zeros(nr * block[0], nc * block[1], dtype=torch.float32)
    padded[:rows, :cols] = weight.float()
    blocks = padded.view(nr, block[0], nc, block[1])
    amax = blocks.abs().amax(dim=(1, 3)).clamp(min=1e-12)
    scale_inv = amax / FP8_MAX
    expanded = scale_inv.repeat_interleave(block[0], 0).repeat_interleave(block[1], 1)[:rows, :cols]
    q = (weight.float() / expanded).clamp(-FP8_MAX, FP8_MAX).to(torch.float8_e4m3fn)
    return q, scale_inv.contiguous()


def save_fp8_checkpoint(
    model_dir: str | Path,
    out_dir: str | Path,
    *,
    block_size: tuple[int, int] = DEFAULT_BLOCK,
    skip: Iterable[str] = ("lm_head", "embed_tokens"),
) -> Path:
    """Write ``model_dir`` (a saved full-precision model) as a fine-grained FP8 checkpoint, as
    DeepSeek-V3 / transformers' ``FineGrainedFP8Config`` lay it out: 2-D ``*.weight`` tensors of linear
    layers (all but those under ``skip``) in float8_e4m3fn plus ``*.weight_scale_inv``."""
    from safetensors.torch import load_file, save_file

    src, out = Path(model_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    skip = tuple(skip)
    for item in src.iterdir():
        if item.is_file() and not item.name.endswith(".safetensors") and item.name != "config.json":
            shutil.copy2(item, out / item.name)
    index: dict[str, str] = {}
    for shard in _shards(src):
        tensors = load_file(str(shard))
        written: dict[str, torch.Tensor] = {}
        for name, tensor in tensors.items():
            parts = name.split(".")
            if (
                name.endswith(".weight")
                and tensor.ndim == 2
                and not any(s in parts for s in skip)
                and _is_linear_name(name)
            ):
                q, s = quantize_weight(tensor, block_size)
                written[name], written[name + SCALE_SUFFIX] = q, s
            else:
                written[name] = tensor
        save_file(written, str(out / shard.name), metadata={"format": "pt"})
        index.update(dict.fromkeys(written, shard.name))
    if (src / "model.safetensors.index.json").is_file():
        (out / "model.safetensors.index.json").write_text(
            json.dumps({"metadata": {}, "weight_map": index}, indent=2)
        )
    config = _read_config(src)
    config["quantization_config"] = {
        "quant_method": "fp8",
        "fmt": "e4m3",
        "activation_scheme": "dynamic",
        "weight_block_size": list(block_size),
        "modules_to_not_convert": list(skip),
    }
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return out


def _is_linear_name(name: str) -> bool:
    # norms are 1-D; embeddings are skipped by name; what is left 2-D with .weight is a linear layer
    return not name.endswith(("norm.weight", "embedding.weight"))


def _shards(model_dir: Path) -> list[Path]:
    shards = sorted(model_dir.glob("*.safetensors"))
    if not shards:
        raise ModelError(f"{model_dir}: no *.safetensors weights (FP8 checkpoints are read from safetensors)")
    return shards


def dequantize_checkpoint(
    model_dir: str | Path, out_dir: str | Path, *, dtype: torch.dtype = torch.bfloat16
) -> Path:
    """Write a plain ``dtype`` copy of the FP8 checkpoint ``model_dir`` to ``out_dir`` (config without
    ``quantization_config``, every other file copied); it then loads like any model."""
    from safetensors.torch import load_file, save_file

    info = fp8_checkpoint(model_dir)
    if info is None:
        raise ModelError(f"{model_dir}: config.json has no fp8 quantization_config; nothing to dequantize")
    src, out = Path(model_dir), Path(out_dir)
    if src.resolve() == out.resolve():
        raise ModelError(f"dequantize_checkpoint: out_dir {out} must differ from the FP8 checkpoint folder")
    out.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        if (
            item.is_file()
            and not item.name.endswith(".safetensors")
            and item.name
            not in (
                "config.json",
                "model.safetensors.index.json",
            )
        ):
            shutil.copy2(item, out / item.name)
    index: dict[str, str] = {}
    count = 0
    for shard in _shards(src):
        tensors = load_file(str(shard))
        written: dict[str, torch.Tensor] = {}
        for name, tensor in tensors.items():
            if name.endswith(SCALE_SUFFIX):
                if name[: -len(SCALE_SUFFIX)] not in tensors:
                    raise ModelError(
                        f"{shard}: {name} has no weight {name[: -len(SCALE_SUFFIX)]} in the same file"
                    )
                continue
            if tensor.dtype == torch.float8_e4m3fn:
                scale = tensors.get(name + SCALE_SUFFIX)
                if scale is None:
                    raise ModelError(
                        f"{shard}: FP8 tensor {name} has no {name}{SCALE_SUFFIX}; the checkpoint is incomplete"
                    )
                try:
                    tensor = dequantize_weight(tensor, scale, info.block_size)
                except ModelError as exc:
                    raise ModelError(f"{shard}: {name}: {exc}") from None
                count += 1
            written[name] = tensor.to(dtype) if tensor.is_floating_point() else tensor
        save_file(written, str(out / shard.name), metadata={"format": "pt"})
        index.update(dict.fromkeys(written, shard.name))
    if (src / "model.safetensors.index.json").is_file():
        (out / "model.safetensors.index.json").write_text(
            json.dumps({"metadata": {}, "weight_map": index}, indent=2)
        )
    config = _read_config(src)
    config.pop("quantization_config", None)
    config["torch_dtype" if "torch_dtype" in config else "dtype"] = str(dtype).removeprefix("torch.")
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    logger.info("dequantized %d FP8 tensors of %s to %s (%s)", count, src, out, dtype)
    return out


def load_dequantized(
    model_dir: str | Path, work_dir: str | Path, *, dtype: torch.dtype = torch.float32
) -> nn.Module:
    """Dequantize ``model_dir`` into ``work_dir`` and load it (image-text-to-text for composite models)."""
    import transformers

    from tunesmith.model.composite import model_auto_class

    out = dequantize_checkpoint(model_dir, work_dir, dtype=dtype)
    auto = getattr(transformers, model_auto_class(_read_config(out)))
    return auto.from_pretrained(str(out), dtype=dtype)


def check_quantized_training(
    quant_method: str | None,
    *,
    finetuning_type: str,
    dequantized: bool = False,
    zero3: bool = False,
    fsdp: bool = False,
) -> None:
    """Refuse combinations that cannot train a checkpoint quantized with ``quant_method``:
    full or freeze tuning of quantized weights (only adapters can train on them), and sharding a
    post-training-quantized model with DeepSpeed ZeRO-3 or FSDP (its packed weights cannot be
    partitioned). ``dequantized``: the weights were dequantized first (anything goes)."""
    if quant_method is None or dequantized:
        return
    if finetuning_type in ("full", "freeze"):
        hint = (
            "dequantize it first (tunesmith.model.fp8.dequantize_checkpoint) or train a LoRA adapter"
            if quant_method == "fp8"
            else "train a LoRA adapter (QLoRA) or start from the full-precision model"
        )
        raise ModelError(
            f"finetuning_type={finetuning_type} cannot update quantized ({quant_method}) weights: {hint}"
        )
    if quant_method in PTQ_METHODS and (zero3 or fsdp):
        raise ModelError(
            f"a post-training-quantized ({quant_method}) checkpoint cannot be sharded with "
            f"{'DeepSpeed ZeRO-3' if zero3 else 'FSDP'}: use ZeRO-2/DDP, or a full-precision base"
        )
