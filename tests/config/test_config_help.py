"""Help text, key space and import cost."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys

import pytest

from tunesmith.config import GROUPS, VERB_GROUPS, ConfigError, RunConfig, all_keys, field_specs, format_help
from tunesmith.config.schema import GROUP_NAMES, field_docs


def test_train_help_lists_lora_rank_with_doc_and_default() -> None:
    text = format_help("train")
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("lora_rank:"))
    assert line.strip() == "lora_rank: int = 8"
    assert "rank of the low-rank update matrices" in text
    assert "finetuning_type: lora|freeze|full = lora" in text
    assert "plugins: list[str] = []  (repeatable)" in text
    assert "TrainingArguments" in text


def test_help_shows_only_the_verbs_groups() -> None:
    text = format_help("chat")
    assert "temperature:" in text and "model_name_or_path:" in text
    assert "\n  lora_rank:" not in text and "\n  port:" not in text
    assert "port: int = 8000" in format_help("serve")
    assert "host: str = 127.0.0.1" in format_help("serve")


def test_every_verb_has_help() -> None:
    for verb in VERB_GROUPS:
        assert format_help(verb).startswith(f"usage: tunesmith {verb}")
    with pytest.raises(ConfigError, match="unknown verb"):
        format_help("nope")


def test_every_field_is_documented() -> None:
    missing = [spec.key for spec in field_specs(with_docs=True).values() if not spec.doc]
    assert missing == []
    for _, cls in GROUPS:
        assert set(field_docs(cls)) == {f.name for f in dataclasses.fields(cls)}


def test_verb_groups_are_immutable_and_known() -> None:
    for groups in VERB_GROUPS.values():
        assert isinstance(groups, tuple)
        assert set(groups) <= set(GROUP_NAMES)
    with pytest.raises(TypeError):
        VERB_GROUPS["x"] = ("model",)  # type: ignore[index]
    assert set(VERB_GROUPS) == {
        "train", "chat", "predict", "serve", "webchat", "export", "template", "data", "adapt", "webui",
    }  # fmt: skip


def test_run_config_has_one_attribute_per_group() -> None:
    names = [f.name for f in dataclasses.fields(RunConfig)]
    assert tuple(names[: len(GROUP_NAMES)]) == GROUP_NAMES
    for name, cls in GROUPS:
        assert isinstance(getattr(RunConfig(), name), cls)
        assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]


LLAMA_FACTORY_KEYS = re.findall(
    r"\w+",
    """
model_name_or_path adapter_name_or_path cache_dir model_revision hf_hub_token use_modelscope_hub
trust_remote_code template default_system enable_thinking tool_format train_on_prompt mask_history
dataset dataset_dir eval_dataset cutoff_len max_samples val_size mix_strategy interleave_probs streaming
buffer_size overwrite_cache preprocessing_num_workers packing tokenized_path on_bad_record stage do_train
do_eval do_predict finetuning_type freeze_trainable_layers freeze_trainable_modules freeze_extra_modules
lora_rank lora_alpha lora_dropout lora_target additional_target use_dora use_rslora pissa_init
loraplus_lr_ratio create_new_adapter quantization_bit quantization_method infer_dtype flash_attn
attn_implementation output_dir overwrite_output_dir per_device_train_batch_size per_device_eval_batch_size
gradient_accumulation_steps learning_rate num_train_epochs max_steps lr_scheduler_type warmup_ratio
warmup_steps weight_decay bf16 fp16 logging_steps save_steps save_total_limit save_only_model plot_loss
report_to seed resume_from_checkpoint gradient_checkpointing ddp_timeout eval_strategy eval_steps
predict_with_generate do_sample temperature top_p top_k max_new_tokens repetition_penalty num_beams
export_dir export_size export_dtype export_legacy_format host port api_key served_model_name infer_backend
max_concurrency queue_size plugins pref_beta pref_loss pref_ftx
""",
)


def test_llama_factory_keys_are_accepted() -> None:
    assert set(LLAMA_FACTORY_KEYS) <= set(all_keys())
    assert len(all_keys()) == len(set(all_keys()))


def test_training_argument_keys_listed_on_request() -> None:
    keys = all_keys(include_training_args=True)
    assert "adam_beta2" in keys and "lora_rank" in keys


def test_import_does_not_pull_in_torch_or_transformers() -> None:
    code = (
        "import sys, tunesmith.config as c; c.format_help('train'); c.load_config(['lora_rank=4']); "
        "print([m for m in ('torch', 'transformers') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
