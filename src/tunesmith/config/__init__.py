"""Typed configuration: groups of frozen dataclasses, YAML/JSON files plus command-line overrides,
LLaMA-Factory-compatible keys, validation with "did you mean", resolved into one frozen RunConfig.

    >>> cfg = load_config(["examples/llama3_lora_sft.yaml", "lora_rank=16", "--bf16"], verb="train")
    >>> cfg.finetune.lora_rank, cfg.get("bf16")
    (16, True)

Importing this package imports neither torch nor transformers; transformers is imported only
when a pass-through TrainingArguments key must be checked.
"""

from __future__ import annotations

from tunesmith.config.cli_args import parse_cli_args
from tunesmith.config.errors import ConfigError
from tunesmith.config.groups_infer import ExportConfig, GenerateConfig, InferConfig, MiscConfig, ServeConfig
from tunesmith.config.groups_model import DataConfig, ModelConfig, TemplateConfig
from tunesmith.config.groups_train import FinetuneConfig, RLHFConfig, TrainConfig
from tunesmith.config.help import format_help
from tunesmith.config.loader import load_config, read_config_file, resolve
from tunesmith.config.run import RunConfig
from tunesmith.config.schema import GROUPS, all_keys, field_specs
from tunesmith.config.verbs import VERB_GROUPS

__all__ = [
    "GROUPS",
    "VERB_GROUPS",
    "ConfigError",
    "DataConfig",
    "ExportConfig",
    "FinetuneConfig",
    "GenerateConfig",
    "InferConfig",
    "MiscConfig",
    "ModelConfig",
    "RLHFConfig",
    "RunConfig",
    "ServeConfig",
    "TemplateConfig",
    "TrainConfig",
    "all_keys",
    "field_specs",
    "format_help",
    "load_config",
    "parse_cli_args",
    "read_config_file",
    "resolve",
]
