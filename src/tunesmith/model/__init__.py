"""Loading models and tokenizers, fine-tuning methods (full, freeze, LoRA/QLoRA) and export.

Importing this package imports torch; transformers and peft load when a function needs them.
"""

from __future__ import annotations

from tunesmith.model.adapters import find_linear_targets, lora_config, loraplus_param_groups
from tunesmith.model.dtype import auto_dtype, resolve_dtype
from tunesmith.model.errors import ModelError
from tunesmith.model.export import ExportResult, export_model, merge_adapters
from tunesmith.model.finetune import apply_finetuning, parameter_counts
from tunesmith.model.freeze import apply_freeze
from tunesmith.model.loader import load_model, load_tokenizer, prepare_for_training
from tunesmith.model.quantization import bnb_config, quantization_of
from tunesmith.model.tokens import add_special_tokens, resize_embeddings

__all__ = [
    "ExportResult",
    "ModelError",
    "add_special_tokens",
    "apply_finetuning",
    "apply_freeze",
    "auto_dtype",
    "bnb_config",
    "export_model",
    "find_linear_targets",
    "load_model",
    "load_tokenizer",
    "lora_config",
    "loraplus_param_groups",
    "merge_adapters",
    "parameter_counts",
    "prepare_for_training",
    "quantization_of",
    "resize_embeddings",
    "resolve_dtype",
]
