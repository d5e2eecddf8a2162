"""Loading the tokenizer and the model for training or inference."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tunesmith.config import FinetuneConfig, ModelConfig
from tunesmith.model.dtype import default_device, dtype_name, resolve_dtype
from tunesmith.model.errors import ModelError
from tunesmith.model.finetune import apply_finetuning
from tunesmith.model.hub import hub_errors, hub_kwargs, resolve_source
from tunesmith.model.quantization import bnb_config
from tunesmith.model.tokens import add_special_tokens, resize_embeddings

logger = logging.getLogger(__name__)


def _model_name(model_cfg: ModelConfig) -> str:
    if not model_cfg.model_name_or_path:
        raise ModelError(
            "model_name_or_path is not set; give a model folder or a hub id, e.g. model_name_or_path=Qwen/Qwen3-0.6B"
        )
    return model_cfg.model_name_or_path


def new_special_tokens(model_cfg: ModelConfig) -> tuple[str, ...]:
    """The ``new_special_tokens`` config key."""
    return tuple(model_cfg.new_special_tokens)


def load_tokenizer(model_cfg: ModelConfig, *, path: str | None = None) -> Any:
    """The tokenizer of ``model_name_or_path`` (or of ``path``, e.g. an adapter folder a training run
    saved its tokenizer in), with ``new_special_tokens`` added and a pad token (the eos token) when
    the tokenizer has none."""
    from transformers import AutoTokenizer

    key = "model_name_or_path" if path is None else "adapter_name_or_path"
    name = path or _model_name(model_cfg)
    source = resolve_source(name, model_cfg, key=key)
    with hub_errors(source, model_cfg, what="tokenizer", key=key):
        tokenizer = AutoTokenizer.from_pretrained(
            source, use_fast=model_cfg.use_fast_tokenizer, **hub_kwargs(model_cfg)
        )
    add_special_tokens(tokenizer, new_special_tokens(model_cfg))
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
        logger.info("the tokenizer has no pad token; padding with its eos token %r", tokenizer.eos_token)
    return tokenizer


def check_attention(attn_implementation: str | None, device: str) -> None:
    """FlashAttention kernels exist only for CUDA; say so before transformers fails obscurely."""
    if attn_implementation and attn_implementation.startswith("flash_attention") and device == "cpu":
        raise ModelError(
            f"attn_implementation={attn_implementation} needs a CUDA GPU (and the flash-attn package); "
            "on CPU use attn_implementation=sdpa or eager"
        )


def _device_map(device_map: Any, *, quantized: bool, for_training: bool, device: str) -> Any:
    if device_map is not None:
        return device_map
    if quantized:  # bitsandbytes weights must be placed on the GPU while loading
        return {"": torch.cuda.current_device()}
    if device == "cuda" and not for_training:
        return "auto"
    return None  # training: the Trainer/accelerate places the model


def load_model(
    model_cfg: ModelConfig,
    tokenizer: Any,
    *,
    finetune_cfg: FinetuneConfig | None = None,
    for_training: bool,
    device_map: Any = None,
    dtype: str | torch.dtype | None = None,
    gradient_checkpointing: bool = False,
) -> nn.Module:
    """Load ``model_name_or_path`` as a causal LM and prepare it for training or inference.

    ``dtype`` overrides ``infer_dtype`` (a name goes through :func:`resolve_dtype`, so half precision
    falls back to float32 on CPU; a ``torch.dtype`` is used as is). ``quantization_bit`` loads with
    bitsandbytes (CUDA only). The embeddings grow for ``new_special_tokens`` or ``resize_vocab``.
    ``finetune_cfg`` (default: the config defaults) picks what trains; for inference its adapters are
    loaded and merged. ``gradient_checkpointing`` recomputes activations (non-reentrant).
    """
    name = _model_name(model_cfg)
    source = resolve_source(name, model_cfg)
    device = default_device()
    torch_dtype = (
        dtype
        if isinstance(dtype, torch.dtype)
        else resolve_dtype(
            dtype or family_dtype(source, model_cfg, device) or model_cfg.infer_dtype, device=device
        )
    )
    source = _dequantized_source(source, torch_dtype)
    ptq = _check_ptq(source, model_cfg, finetune_cfg, for_training=for_training)
    auto_class = _auto_class(source)
    check_attention(model_cfg.attn_implementation, device)
    quantization = bnb_config(model_cfg, torch_dtype)
    kwargs: dict[str, Any] = {**hub_kwargs(model_cfg), "dtype": torch_dtype}
    if model_cfg.attn_implementation:
        kwargs["attn_implementation"] = model_cfg.attn_implementation
    if quantization is not None:
        kwargs["quantization_config"] = quantization
    placement = _device_map(
        device_map,
        quantized=quantization is not None or ptq is not None,
        for_training=for_training,
        device=device,
    )
    if placement is not None:
        kwargs["device_map"] = placement
    kwargs.update(dict(model_cfg.model_init_kwargs))
    with hub_errors(source, model_cfg, what="model"):
        model = auto_class.from_pretrained(source, **kwargs)
    logger.info("loaded %s (%s, %s)", name, type(model).__name__, dtype_name(torch_dtype))

    resized = False
    if model_cfg.resize_vocab or new_special_tokens(model_cfg):
        resized = resize_embeddings(model, tokenizer)
    rows = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) > rows:
        raise ModelError(
            f"{name}: the tokenizer has {len(tokenizer)} tokens but the model only {rows} embedding rows; "
            "set resize_vocab=true to grow the embeddings"
        )
    if for_training:
        prepare_for_training(model, gradient_checkpointing=gradient_checkpointing)
    return apply_finetuning(
        model, finetune_cfg or FinetuneConfig(), model_cfg, is_trainable=for_training, vocab_resized=resized
    )


def _check_ptq(
    source: str, model_cfg: ModelConfig, finetune_cfg: FinetuneConfig | None, *, for_training: bool
) -> str | None:
    """The method of a post-training-quantized (GPTQ/AWQ/saved bitsandbytes) local checkpoint, after
    refusing what cannot work with it (:mod:`tunesmith.model.ptq`); None for any other source. FP8
    checkpoints were dequantized already (``source`` is then the plain copy)."""
    from tunesmith.model.ptq import check_ptq_runtime, check_ptq_training, ptq_method

    method = ptq_method(source)
    if method is None or method == "fp8":
        return None
    if model_cfg.quantization_bit is not None:
        raise ModelError(
            f"{source} is already quantized ({method}); remove quantization_bit={model_cfg.quantization_bit}"
        )
    if for_training:
        check_ptq_training(method, source, finetuning_type=(finetune_cfg or FinetuneConfig()).finetuning_type)
    check_ptq_runtime(method, source)
    return method


def family_dtype(source: str, model_cfg: ModelConfig, device: str) -> str | None:
    """The registered family's ``default_dtype`` for this checkpoint, used on a GPU when
    ``infer_dtype`` is auto (CPUs keep float32)."""
    if model_cfg.infer_dtype != "auto" or device != "cuda":
        return None
    from tunesmith.families import build_catalog
    from tunesmith.families.resolve import read_model_type

    model_type = read_model_type(source) if Path(source).is_dir() else None
    family = build_catalog().family_for_model_type(model_type) if model_type else None
    return family.default_dtype if family is not None else None


def _auto_class(source: str) -> Any:
    """AutoModelForImageTextToText for composite (vision-language) checkpoints, else AutoModelForCausalLM."""
    import transformers

    from tunesmith.model.composite import model_auto_class

    config = Path(source) / "config.json"
    if not config.is_file():  # a hub id: transformers reads its config; text models are the common case
        return transformers.AutoModelForCausalLM
    return getattr(transformers, model_auto_class(json.loads(config.read_text(encoding="utf-8"))))


def _dequantized_source(source: str, torch_dtype: torch.dtype) -> str:
    """A fine-grained FP8 checkpoint is dequantized once (cached by path, mtime and dtype) and loaded
    from the plain copy; any other source is returned unchanged."""
    from tunesmith.model.fp8 import dequantize_checkpoint, fp8_checkpoint

    path = Path(source)
    if not path.is_dir() or fp8_checkpoint(path) is None:
        return source
    stamp = f"{path.resolve()}|{(path / 'config.json').stat().st_mtime_ns}|{torch_dtype}"
    root = Path(os.environ.get("TUNESMITH_CACHE", Path.home() / ".cache" / "tunesmith"))
    out = root / "dequantized" / hashlib.sha1(stamp.encode()).hexdigest()[:16]
    if not (out / "config.json").is_file():
        dequantize_checkpoint(path, out, dtype=torch_dtype)
    logger.info("FP8 checkpoint %s dequantized to %s (%s)", path, out, dtype_name(torch_dtype))
    return str(out)


def prepare_for_training(model: nn.Module, *, gradient_checkpointing: bool) -> None:
    """Train mode, no KV cache, and (optionally) non-reentrant gradient checkpointing whose inputs
    require grad, so checkpointed blocks get gradients even when the embeddings are frozen (PEFT)."""
    model.train()
    if getattr(model, "config", None) is not None:
        model.config.use_cache = False
    if not gradient_checkpointing:
        return
    if not getattr(model, "supports_gradient_checkpointing", False):
        logger.warning(
            "%s does not support gradient checkpointing; training without it", type(model).__name__
        )
        return
    if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.x name
        model.activation_checkpointing_enable({"use_reentrant": False})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.enable_input_require_grads()
    logger.info("gradient checkpointing on (non-reentrant)")
