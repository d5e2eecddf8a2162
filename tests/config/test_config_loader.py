"""Resolution of files and overrides into a RunConfig: precedence, errors, pass-through."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest
import yaml

from tunesmith.config import ConfigError, RunConfig, load_config

LLAMA_FACTORY_SFT = """\
### model
model_name_or_path: meta-llama/Meta-Llama-3-8B-Instruct
trust_remote_code: true

### method
stage: sft
do_train: true
finetuning_type: lora
lora_rank: 8
lora_target: all

### dataset
dataset: identity,alpaca_en_demo
template: llama3
cutoff_len: 2048
max_samples: 1000
overwrite_cache: true
preprocessing_num_workers: 16
dataloader_num_workers: 4

### output
output_dir: saves/x
logging_steps: 10
save_steps: 500
plot_loss: true
overwrite_output_dir: true
save_only_model: false
report_to: none

### train
per_device_train_batch_size: 1
gradient_accumulation_steps: 8
learning_rate: 1.0e-4
num_train_epochs: 3.0
lr_scheduler_type: cosine
warmup_ratio: 0.1
bf16: true
ddp_timeout: 180000000
resume_from_checkpoint: null
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def test_defaults_follow_llama_factory_and_transformers() -> None:
    cfg = load_config([])
    assert cfg.finetune.lora_rank == 8
    assert cfg.finetune.lora_alpha is None
    assert cfg.finetune.lora_dropout == 0.0
    assert cfg.finetune.lora_target == ("all",)
    assert cfg.data.cutoff_len == 2048
    assert cfg.train.learning_rate == 5e-5
    assert cfg.train.num_train_epochs == 3.0
    assert cfg.train.lr_scheduler_type == "linear"
    assert cfg.serve.host == "127.0.0.1"
    assert cfg.serve.port == 8000
    assert cfg.training_args == {}
    assert cfg.sources == ()


def test_llama_factory_example_parses(tmp_path: Path) -> None:
    path = write(tmp_path, "llama3_lora_sft.yaml", LLAMA_FACTORY_SFT)
    cfg = load_config([path], verb="train")
    assert cfg.model.model_name_or_path == "meta-llama/Meta-Llama-3-8B-Instruct"
    assert cfg.finetune.stage == "sft"
    assert cfg.train.do_train is True
    assert cfg.finetune.finetuning_type == "lora"
    assert cfg.finetune.lora_target == ("all",)
    assert cfg.data.dataset == ("identity", "alpaca_en_demo")
    assert cfg.template.template == "llama3"
    assert cfg.data.cutoff_len == 2048
    assert cfg.data.max_samples == 1000
    assert cfg.data.overwrite_cache is True
    assert cfg.data.preprocessing_num_workers == 16
    assert cfg.train.output_dir == "saves/x"
    assert cfg.train.logging_steps == 10
    assert cfg.train.save_steps == 500
    assert cfg.train.plot_loss is True
    assert cfg.train.overwrite_output_dir is True
    assert cfg.train.save_only_model is False
    assert cfg.train.report_to == ("none",)
    assert cfg.train.per_device_train_batch_size == 1
    assert cfg.train.gradient_accumulation_steps == 8
    assert cfg.train.learning_rate == pytest.approx(1e-4)
    assert cfg.train.num_train_epochs == 3.0
    assert cfg.train.lr_scheduler_type == "cosine"
    assert cfg.train.warmup_ratio == pytest.approx(0.1)
    assert cfg.train.bf16 is True
    assert cfg.train.ddp_timeout == 180000000
    assert cfg.train.resume_from_checkpoint is None
    assert cfg.training_args == {"dataloader_num_workers": 4}
    assert cfg.sources == (path,)
    assert cfg.verb == "train"


def test_later_sources_win(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", "lora_rank: 4\nlora_alpha: 8\nlearning_rate: 1e-3\ncutoff_len: 128\n")
    second = write(tmp_path, "b.yml", "lora_rank: 16\nlearning_rate: 2e-4\n")
    cfg = load_config([first, second, "lora_alpha=32", "--lora_alpha", "64", "--cutoff_len=512", "seed=7"])
    assert cfg.finetune.lora_rank == 16  # second file over first
    assert cfg.train.learning_rate == pytest.approx(2e-4)  # "2e-4" is a string to YAML 1.1
    assert cfg.finetune.lora_alpha == 64  # later override over earlier one over the file
    assert cfg.data.cutoff_len == 512
    assert cfg.train.seed == 7
    assert cfg.sources == (first, second, "command line")


def test_override_order_on_command_line_decides(tmp_path: Path) -> None:
    cfg = load_config(["--lora_rank", "4", "lora_rank=32"])
    assert cfg.finetune.lora_rank == 32
    cfg = load_config(["lora_rank=32", "--lora_rank", "4"])
    assert cfg.finetune.lora_rank == 4


def test_json_file_and_base(tmp_path: Path) -> None:
    path = write(tmp_path, "run.json", '{"lora_rank": 12, "dataset": ["a", "b"]}')
    cfg = load_config([path], base={"lora_rank": 2, "do_train": True})
    assert cfg.finetune.lora_rank == 12  # file over base
    assert cfg.train.do_train is True  # base over defaults
    assert cfg.data.dataset == ("a", "b")
    assert cfg.sources == ("base", path)


def test_result_is_frozen() -> None:
    cfg = load_config(["lora_rank=4", 'model_init_kwargs={"a": {"b": [1, 2]}}'])
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.finetune = cfg.finetune  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.finetune.lora_rank = 16  # type: ignore[misc]
    with pytest.raises(TypeError):
        cfg.training_args["x"] = 1  # type: ignore[index]
    with pytest.raises(TypeError):
        cfg.model.model_init_kwargs["a"]["c"] = 1  # type: ignore[index]
    assert cfg.model.model_init_kwargs["a"]["b"] == (1, 2)
    assert isinstance(cfg.data.dataset, tuple)


def test_unknown_key_suggests_the_closest() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(["lora_rnak=8"])
    message = str(info.value)
    assert "lora_rnak" in message
    assert "did you mean" in message and "lora_rank" in message
    assert "command line" in message


def test_unknown_key_in_file_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", "model_name_or_path: x\nlerning_rate: 1e-4\n")
    with pytest.raises(ConfigError) as info:
        load_config([path])
    assert path in str(info.value)
    assert "learning_rate" in str(info.value)


def test_unknown_key_without_close_match_is_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown key 'zzqqxx_totally_unrelated'"):
        load_config(["zzqqxx_totally_unrelated=1"])


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


def test_bad_type_names_key_value_and_type() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(["lora_rank=abc"])
    message = str(info.value)
    assert "lora_rank" in message and "'abc'" in message and "integer" in message


def test_bad_bool_and_float() -> None:
    with pytest.raises(ConfigError, match="bf16: 'maybe' is not true or false"):
        load_config(["bf16=maybe"])
    with pytest.raises(ConfigError, match="learning_rate"):
        load_config(["learning_rate=fast"])


def test_bad_choice_lists_the_allowed_values(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(["finetuning_type=lorra"])
    assert "finetuning_type: 'lorra' is not one of lora, freeze, full" in str(info.value)
    assert "did you mean lora" in str(info.value)
    path = write(tmp_path, "c.yaml", "mix_strategy: interleave\n")
    with pytest.raises(ConfigError, match="mix_strategy: 'interleave' is not one of concat"):
        load_config([path])


def test_choice_accepts_yaml_booleans_for_no(tmp_path: Path) -> None:
    path = write(tmp_path, "e.yaml", "eval_strategy: no\n")  # YAML 1.1 reads `no` as false
    assert load_config([path]).train.eval_strategy == "no"


def test_training_arguments_pass_through() -> None:
    cfg = load_config(["adam_beta2=0.95", "--max_grad_norm", "0.5", 'lr_scheduler_kwargs={"min_lr": 1e-6}'])
    assert cfg.training_args["adam_beta2"] == pytest.approx(0.95)
    assert isinstance(cfg.training_args["adam_beta2"], float)
    assert cfg.training_args["max_grad_norm"] == pytest.approx(0.5)
    assert cfg.training_args["lr_scheduler_kwargs"] == {"min_lr": 1e-6}
    assert cfg.get("adam_beta2") == pytest.approx(0.95)


def test_training_arguments_bad_value_is_rejected() -> None:
    with pytest.raises(ConfigError, match="adam_beta2: 'high'"):
        load_config(["adam_beta2=high"])


def test_training_arguments_bare_flag() -> None:
    cfg = load_config(["--push_to_hub", "--torch_compile", "false"])
    assert cfg.training_args == {"push_to_hub": True, "torch_compile": False}


def test_unknown_non_training_argument_rejected() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(["adam_beta3=0.9"])
    assert "adam_beta3" in str(info.value) and "adam_beta" in str(info.value)


def test_plugins_append_over_flags_and_files(tmp_path: Path) -> None:
    cfg = load_config(["--plugins", "a.py", "--plugins", "b.py"])
    assert cfg.misc.plugins == ("a.py", "b.py")
    path = write(tmp_path, "p.yaml", "plugins:\n  - base.py\n")
    cfg = load_config([path, "plugins=a.py,b.py", "--plugins", "c.py", "--plugins", "a.py"])
    assert cfg.misc.plugins == ("base.py", "a.py", "b.py", "c.py")


def test_lists_from_comma_strings_and_yaml_lists(tmp_path: Path) -> None:
    path = write(tmp_path, "l.yaml", "lora_target:\n  - q_proj\n  - v_proj\ninterleave_probs: 0.3, 0.7\n")
    cfg = load_config([path, "dataset=a, b", "mix_strategy=interleave_under"])
    assert cfg.finetune.lora_target == ("q_proj", "v_proj")
    assert cfg.data.interleave_probs == (0.3, 0.7)
    assert cfg.data.dataset == ("a", "b")


def test_optional_and_null() -> None:
    cfg = load_config(["quantization_bit=4", "template=qwen", "lora_alpha=null", "max_samples=none"])
    assert cfg.model.quantization_bit == 4
    assert cfg.template.template == "qwen"
    assert cfg.finetune.lora_alpha is None
    assert cfg.data.max_samples is None


def test_flash_attn_alias() -> None:
    assert load_config(["flash_attn=fa2"]).model.attn_implementation == "flash_attention_2"
    assert load_config(["flash_attn=auto"]).model.attn_implementation is None
    with pytest.raises(ConfigError, match="flash_attn: 'fa9' is not one of auto, disabled"):
        load_config(["flash_attn=fa9"])


def test_dashes_in_keys_read_as_underscores() -> None:
    assert load_config(["--lora-rank", "4"]).finetune.lora_rank == 4


def test_to_dict_round_trips_and_redacts_secrets(tmp_path: Path) -> None:
    cfg = load_config(
        ["lora_rank=4", "dataset=a,b", "hf_hub_token=hf_secret", "adam_beta2=0.95", "--plugins", "p.py"]
    )
    flat = cfg.to_dict()
    assert flat["lora_rank"] == 4 and flat["dataset"] == ["a", "b"] and flat["adam_beta2"] == 0.95
    assert flat["hf_hub_token"] is None
    assert cfg.to_dict(include_secrets=True)["hf_hub_token"] == "hf_secret"
    path = tmp_path / "resolved.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict(include_secrets=True)), encoding="utf-8")
    again = load_config([str(path)])
    assert dataclasses.replace(again, sources=()) == dataclasses.replace(cfg, sources=())


def test_get_is_a_flat_lookup() -> None:
    cfg = load_config(["lora_rank=4", "port=9000"])
    assert cfg.get("lora_rank") == 4
    assert cfg.get("port") == 9000
    assert cfg.get("not_a_key") is None
    assert cfg.get("not_a_key", 3) == 3


def test_run_config_default_construction_is_valid() -> None:
    assert RunConfig().to_dict() == load_config([]).to_dict()


def test_positional_that_is_neither_file_nor_assignment() -> None:
    with pytest.raises(ConfigError, match="unexpected argument 'lora'"):
        load_config(["lora"])


def test_missing_config_file() -> None:
    with pytest.raises(ConfigError, match="config file not found: nope.yaml"):
        load_config(["nope.yaml"])


def test_file_must_hold_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "list.yaml", "- a\n- b\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config([path])
    broken = write(tmp_path, "broken.yaml", "a: [1\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config([broken])


def test_unknown_verb() -> None:
    with pytest.raises(ConfigError, match="did you mean train"):
        load_config([], verb="trian")


@pytest.mark.slow  # builds TrainingArguments: imports torch and accelerate
def test_training_arguments_kwargs_build_training_arguments(tmp_path: Path) -> None:
    from transformers import Seq2SeqTrainingArguments

    from tunesmith.config.trainer_args import training_arguments_kwargs

    cfg = load_config(
        [
            f"output_dir={tmp_path / 'out'}",
            "warmup_ratio=0.1",
            "report_to=none",
            "adam_beta2=0.95",
            'lr_scheduler_kwargs={"min_lr": 1e-6}',
            "lr_scheduler_type=cosine_with_min_lr",
            "--plot_loss",
            "--gradient_checkpointing",
        ]
    )
    kwargs = training_arguments_kwargs(cfg)
    assert "plot_loss" not in kwargs
    assert type(kwargs["lr_scheduler_kwargs"]) is dict
    args = Seq2SeqTrainingArguments(**kwargs)
    assert args.adam_beta2 == pytest.approx(0.95)
    assert args.lr_scheduler_kwargs == {"min_lr": 1e-6}
    assert args.gradient_checkpointing or getattr(args, "activation_checkpointing", False)
    assert getattr(args, "warmup_ratio", None) == pytest.approx(0.1) or args.warmup_steps == pytest.approx(
        0.1
    )
