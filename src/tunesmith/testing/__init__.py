"""Tiny-model factory: offline, deterministic, tiny random models of real architectures.

Byte-level BPE tokenizers trained locally in milliseconds on a built-in multilingual corpus, with a
family's special tokens and chat template; tiny random models of real transformers architectures
saved with ``save_pretrained``. Used by the tests, the template conformance suite and the quickstart.
Importing this package is cheap: torch, transformers and tokenizers load on first use.
"""

from __future__ import annotations

from tunesmith.testing.archs import ARCH_SPECS, ARCHITECTURES, ArchSpec, arch_spec
from tunesmith.testing.corpus import CORPUS
from tunesmith.testing.models import TINY_PRESETS, ModelSize, build_tiny_model, tiny_tokenizer
from tunesmith.testing.template_tokenizers import (
    SPECIAL_STRING_PATTERN,
    family_tokens,
    special_strings_in,
    template_special_strings,
    tokenizer_for_jinja_template,
    tokenizer_from_template_spec,
)
from tunesmith.testing.tokenizer import build_tokenizer

__all__ = [
    "ARCHITECTURES",
    "ARCH_SPECS",
    "CORPUS",
    "SPECIAL_STRING_PATTERN",
    "TINY_PRESETS",
    "ArchSpec",
    "ModelSize",
    "arch_spec",
    "build_tiny_model",
    "build_tokenizer",
    "family_tokens",
    "special_strings_in",
    "template_special_strings",
    "tiny_tokenizer",
    "tokenizer_for_jinja_template",
    "tokenizer_from_template_spec",
]
