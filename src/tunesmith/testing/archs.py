"""What makes each tiny architecture look like its family: special tokens, stops, chat template.

One frozen :class:`ArchSpec` per supported ``model_type``. The tokenizer's ``eos_token`` is the
family's end-of-turn marker (what generation must stop at after an assistant reply); other tokens
the official ``generation_config`` also stops at are listed in ``extra_stop_tokens``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from tunesmith.testing.chat_templates import (
    GEMMA_TEMPLATE,
    LLAMA3_TEMPLATE,
    MISTRAL_TEMPLATE,
    PHI3_TEMPLATE,
    QWEN2_TEMPLATE,
    QWEN3_TEMPLATE,
)


@dataclass(frozen=True)
class ArchSpec:
    """A transformers architecture dressed as its model family."""

    model_type: str
    """``config.json`` ``model_type``; also the name accepted by ``build_tiny_model``."""
    config_class: str
    """Name of the transformers config class (imported lazily)."""
    eos_token: str
    """End-of-turn token: ``tokenizer.eos_token`` and the first generation stop."""
    pad_token: str
    bos_token: str | None = None
    unk_token: str | None = None
    special_tokens: tuple[str, ...] = ()
    """Further special tokens of the family, in the family's own order."""
    extra_stop_tokens: tuple[str, ...] = ()
    """Further tokens the official generation config stops at (e.g. end-of-text)."""
    chat_template: str = ""
    tie_word_embeddings: bool = False
    head_dim_keys: tuple[str, ...] = ("head_dim",)
    """Config keys set to ``hidden_size // num_heads``: configs whose default head dim is a fixed
    number (128, 256) rather than derived from the hidden size."""
    config_extra: tuple[tuple[str, object], ...] = ()
    """Further config keyword arguments."""


_LLAMA3 = ArchSpec(
    model_type="llama",
    config_class="LlamaConfig",
    bos_token="<|begin_of_text|>",
    eos_token="<|eot_id|>",
    pad_token="<|finetune_right_pad_id|>",
    special_tokens=(
        "<|end_of_text|>",
        "<|start_header_id|>",
        "<|end_header_id|>",
        "<|eom_id|>",
        "<|python_tag|>",
    ),
    extra_stop_tokens=("<|end_of_text|>", "<|eom_id|>"),
    chat_template=LLAMA3_TEMPLATE,
    tie_word_embeddings=False,
)

_QWEN_SPECIALS = ("<|im_start|>", "<|im_end|>", "<|endoftext|>", "<tool_call>", "</tool_call>")

_QWEN2 = ArchSpec(
    model_type="qwen2",
    config_class="Qwen2Config",
    eos_token="<|im_end|>",
    pad_token="<|endoftext|>",
    special_tokens=_QWEN_SPECIALS,
    extra_stop_tokens=("<|endoftext|>",),
    chat_template=QWEN2_TEMPLATE,
    tie_word_embeddings=True,
    head_dim_keys=(),
)

_QWEN3 = ArchSpec(
    model_type="qwen3",
    config_class="Qwen3Config",
    eos_token="<|im_end|>",
    pad_token="<|endoftext|>",
    special_tokens=(*_QWEN_SPECIALS, "<tool_response>", "</tool_response>", "<think>", "</think>"),
    extra_stop_tokens=("<|endoftext|>",),
    chat_template=QWEN3_TEMPLATE,
    tie_word_embeddings=True,
)

_MISTRAL = ArchSpec(
    model_type="mistral",
    config_class="MistralConfig",
    bos_token="<s>",
    eos_token="</s>",
    pad_token="<pad>",
    unk_token="<unk>",
    special_tokens=(
        "[INST]",
        "[/INST]",
        "[TOOL_CALLS]",
        "[AVAILABLE_TOOLS]",
        "[/AVAILABLE_TOOLS]",
        "[TOOL_RESULTS]",
        "[/TOOL_RESULTS]",
    ),
    chat_template=MISTRAL_TEMPLATE,
    tie_word_embeddings=False,
    config_extra=(("sliding_window", None),),
)


def _gemma(model_type: str, config_class: str, *config_extra: tuple[str, object]) -> ArchSpec:
    # Gemma scales queries by query_pre_attn_scalar ** -0.5 (default 256): keep it at the head dim.
    return ArchSpec(
        model_type=model_type,
        config_class=config_class,
        bos_token="<bos>",
        eos_token="<end_of_turn>",
        pad_token="<pad>",
        unk_token="<unk>",
        special_tokens=("<eos>", "<start_of_turn>", "<end_of_turn>"),
        extra_stop_tokens=("<eos>",),
        chat_template=GEMMA_TEMPLATE,
        tie_word_embeddings=True,
        head_dim_keys=("head_dim", "query_pre_attn_scalar") if model_type != "gemma" else ("head_dim",),
        config_extra=config_extra,
    )


_PHI3 = ArchSpec(
    model_type="phi3",
    config_class="Phi3Config",
    bos_token="<s>",
    eos_token="<|end|>",
    pad_token="<|endoftext|>",
    unk_token="<unk>",
    special_tokens=("<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"),
    extra_stop_tokens=("<|endoftext|>",),
    chat_template=PHI3_TEMPLATE,
    tie_word_embeddings=False,
    head_dim_keys=(),
)

ARCH_SPECS: MappingProxyType[str, ArchSpec] = MappingProxyType(
    {
        spec.model_type: spec
        for spec in (
            _LLAMA3,
            _QWEN2,
            _QWEN3,
            _MISTRAL,
            _gemma("gemma", "GemmaConfig"),
            _gemma("gemma2", "Gemma2Config", ("sliding_window", 512)),
            _gemma("gemma3_text", "Gemma3TextConfig", ("sliding_window", 512)),
            _PHI3,
        )
    }
)
"""Supported tiny architectures by ``model_type`` (read-only)."""

ARCHITECTURES: tuple[str, ...] = tuple(ARCH_SPECS)
"""Names accepted by :func:`tunesmith.testing.build_tiny_model`."""


def arch_spec(arch: str) -> ArchSpec:
    """The spec for ``arch``; a clear error listing the supported names otherwise."""
    try:
        return ARCH_SPECS[arch]
    except KeyError:
        raise ValueError(
            f"unknown tiny architecture {arch!r}; supported: {', '.join(ARCHITECTURES)}"
        ) from None
