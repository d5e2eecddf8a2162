"""Splitting command lines into files and overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunesmith.config import ConfigError, parse_cli_args


def test_forms_are_kept_in_order(tmp_path: Path) -> None:
    run = tmp_path / "run.yaml"
    run.write_text("{}\n", encoding="utf-8")
    files, overrides = parse_cli_args(
        [str(run), "lora_rank=4", "--cutoff_len", "512", "--template=qwen", "--bf16", "--do_train", "false"]
    )
    assert files == [str(run)]
    assert overrides == [
        ("lora_rank", "4"),
        ("cutoff_len", "512"),
        ("template", "qwen"),
        ("bf16", "true"),
        ("do_train", "false"),
    ]


def test_bare_bool_flag_before_a_file_or_another_option(tmp_path: Path) -> None:
    run = tmp_path / "b.yml"
    run.write_text("{}\n", encoding="utf-8")
    files, overrides = parse_cli_args(["--bf16", str(run), "--streaming", "--seed", "1", "--plot_loss"])
    assert files == [str(run)]
    assert overrides == [("bf16", "true"), ("streaming", "true"), ("seed", "1"), ("plot_loss", "true")]


def test_value_with_equals_and_config_suffix_is_an_override() -> None:
    files, overrides = parse_cli_args(["deepspeed=ds_z3.json", "--default_system=a=b"])
    assert files == []
    assert overrides == [("deepspeed", "ds_z3.json"), ("default_system", "a=b")]


def test_negative_numbers_are_values() -> None:
    assert parse_cli_args(["--freeze_trainable_layers", "-2"])[1] == [("freeze_trainable_layers", "-2")]


def test_unknown_long_option_takes_a_value_unless_followed_by_an_option() -> None:
    _, overrides = parse_cli_args(["--adam_beta2", "0.95", "--push_to_hub", "--seed", "3"])
    assert overrides == [("adam_beta2", "0.95"), ("push_to_hub", "true"), ("seed", "3")]


def test_missing_value_for_a_known_key() -> None:
    with pytest.raises(ConfigError, match="--lora_rank on the command line expects a value"):
        parse_cli_args(["--lora_rank"])
    with pytest.raises(ConfigError, match="expects a value"):
        parse_cli_args(["--lora_rank", "--bf16"])


def test_stray_positional_is_an_error() -> None:
    with pytest.raises(ConfigError, match="unexpected argument 'sft'"):
        parse_cli_args(["sft"])
    with pytest.raises(ConfigError, match="unexpected argument '-x'"):
        parse_cli_args(["-x"])


def test_missing_config_file_is_listed_for_the_loader() -> None:
    assert parse_cli_args(["missing.yaml"]) == (["missing.yaml"], [])
