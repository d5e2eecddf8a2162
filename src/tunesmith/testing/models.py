"""Tiny random causal LMs of real architectures, saved like a hub checkpoint, built offline.

``build_tiny_model("qwen3", out_dir)`` writes ``config.json``, ``generation_config.json``,
``model.safetensors`` and the tokenizer files (with the family's special tokens and chat template)
in well under a second of model work. Same arguments, same bytes: weights come from
``torch.manual_seed(seed)`` and the tokenizer from a deterministic BPE training run.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from tunesmith.testing.archs import ArchSpec, arch_spec
from tunesmith.testing.tokenizer import build_tokenizer

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast


@dataclass(frozen=True)
class ModelSize:
    """The size of a tiny model."""

    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2
    intermediate_size: int = 128
    max_position_embeddings: int = 2048
    tokenizer_vocab_size: int = 1024
    """Upper bound for the trained BPE vocabulary (the built-in corpus yields at most ~1,700)."""
    vocab_size: int | None = None
    """Embedding rows; None means exactly ``len(tokenizer)``. Larger values pad the embedding with
    rows no token maps to, as real checkpoints do (Qwen, Gemma), to reach a realistic parameter count."""


TINY_PRESETS: MappingProxyType[str, ModelSize] = MappingProxyType(
    {
        "tiny": ModelSize(),
        # ~101M parameters for llama/mistral/phi3 (untied: 2 x 16384 x 768 embedding + 12 layers of
        # 6.3M), ~88M for tied families (qwen2/qwen3/gemma*). The tokenizer stays tiny (~1,700
        # trained tokens); rows beyond it are padding. For benchmarks, not for language quality.
        "100m": ModelSize(
            hidden_size=768,
            num_layers=12,
            num_heads=12,
            num_kv_heads=4,
            intermediate_size=2048,
            tokenizer_vocab_size=8192,
            vocab_size=16384,
        ),
    }
)
"""Named sizes for :func:`build_tiny_model` (read-only)."""


def tiny_tokenizer(
    arch: str, *, chat_template: str | None = None, vocab_size: int = 1024
) -> PreTrainedTokenizerFast:
    """The tokenizer ``build_tiny_model(arch, ...)`` saves: family special tokens and chat template."""
    spec = arch_spec(arch)
    return build_tokenizer(
        bos_token=spec.bos_token,
        eos_token=spec.eos_token,
        pad_token=spec.pad_token,
        unk_token=spec.unk_token,
        special_tokens=spec.special_tokens,
        chat_template=chat_template if chat_template is not None else spec.chat_template,
        vocab_size=vocab_size,
    )


def _resolve_size(preset: str | ModelSize, overrides: dict[str, Any]) -> ModelSize:
    if isinstance(preset, ModelSize):
        size = preset
    elif preset in TINY_PRESETS:
        size = TINY_PRESETS[preset]
    else:
        raise ValueError(f"unknown tiny model preset {preset!r}; known: {', '.join(TINY_PRESETS)}")
    size = dataclasses.replace(size, **{k: v for k, v in overrides.items() if v is not None})
    if size.hidden_size % size.num_heads or size.num_heads % size.num_kv_heads:
        raise ValueError(
            f"hidden_size ({size.hidden_size}) must be divisible by num_heads ({size.num_heads}), "
            f"and num_heads by num_kv_heads ({size.num_kv_heads})"
        )
    return size


def _config_kwargs(spec: ArchSpec, size: ModelSize, tokenizer: PreTrainedTokenizerFast) -> dict[str, Any]:
    vocab = len(tokenizer)
    if size.vocab_size is not None and size.vocab_size < vocab:
        raise ValueError(f"vocab_size {size.vocab_size} is smaller than the tokenizer ({vocab} tokens)")
    ids = tokenizer.convert_tokens_to_ids
    kwargs: dict[str, Any] = {
        "vocab_size": size.vocab_size or vocab,
        "hidden_size": size.hidden_size,
        "num_hidden_layers": size.num_layers,
        "num_attention_heads": size.num_heads,
        "num_key_value_heads": size.num_kv_heads,
        "intermediate_size": size.intermediate_size,
        "max_position_embeddings": size.max_position_embeddings,
        "tie_word_embeddings": spec.tie_word_embeddings,
        "bos_token_id": ids(spec.bos_token) if spec.bos_token else None,
        "eos_token_id": ids(spec.eos_token),
        "pad_token_id": ids(spec.pad_token),
    }
    kwargs.update(dict.fromkeys(spec.head_dim_keys, size.hidden_size // size.num_heads))
    kwargs.update(spec.config_extra)
    return kwargs


def _stop_ids(spec: ArchSpec, tokenizer: PreTrainedTokenizerFast) -> int | list[int]:
    stops = [tokenizer.convert_tokens_to_ids(t) for t in (spec.eos_token, *spec.extra_stop_tokens)]
    return stops[0] if len(stops) == 1 else stops


def build_tiny_model(
    arch: str,
    out_dir: str | Path,
    *,
    chat_template: str | None = None,
    seed: int = 0,
    preset: str | ModelSize = "tiny",
    hidden_size: int | None = None,
    num_layers: int | None = None,
    num_heads: int | None = None,
    num_kv_heads: int | None = None,
    intermediate_size: int | None = None,
    max_position_embeddings: int | None = None,
    vocab_size: int | None = None,
    tokenizer_vocab_size: int | None = None,
) -> Path:
    """Build a tiny random ``arch`` model with its family's tokenizer and save it to ``out_dir``.

    ``preset`` names an entry of :data:`TINY_PRESETS` (or is a :class:`ModelSize`); the size
    arguments override single fields of it. ``chat_template`` replaces the family's default.
    The config and ``generation_config`` carry the tokenizer's bos/pad ids; eos is the end-of-turn
    token (``generation_config.eos_token_id`` lists it first, then the family's other stops).
    Returns ``out_dir`` as a :class:`~pathlib.Path`.
    """
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, GenerationConfig

    spec = arch_spec(arch)
    size = _resolve_size(
        preset,
        {
            "hidden_size": hidden_size,
            "num_layers": num_layers,
            "num_heads": num_heads,
            "num_kv_heads": num_kv_heads,
            "intermediate_size": intermediate_size,
            "max_position_embeddings": max_position_embeddings,
            "vocab_size": vocab_size,
            "tokenizer_vocab_size": tokenizer_vocab_size,
        },
    )
    tokenizer = tiny_tokenizer(arch, chat_template=chat_template, vocab_size=size.tokenizer_vocab_size)
    kwargs = _config_kwargs(spec, size, tokenizer)
    config = getattr(transformers, spec.config_class)(**kwargs)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config = GenerationConfig(
        bos_token_id=kwargs["bos_token_id"],
        eos_token_id=_stop_ids(spec, tokenizer),
        pad_token_id=kwargs["pad_token_id"],
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    _portable_tokenizer_config(out / "tokenizer_config.json")
    return out


def _portable_tokenizer_config(path: Path) -> None:
    """Write the keys both transformers 4.x and 5.x understand: the generic fast class (5.x writes
    ``TokenizersBackend``, unknown to 4.x) and ``additional_special_tokens`` (5.x writes a list under
    ``extra_special_tokens``, which 4.x expects to be a dict; 5.x reads the old key too)."""
    config = json.loads(path.read_text(encoding="utf-8"))
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    extra = config.pop("extra_special_tokens", None)
    if isinstance(extra, list):
        config["additional_special_tokens"] = extra
    elif extra is not None:
        config["extra_special_tokens"] = extra
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
