"""Registered model names resolve to hub ids; family files ride along with exports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tunesmith.config import ModelConfig
from tunesmith.model.errors import ModelError
from tunesmith.model.hub import download_ignore_for, registered_model_id, resolve_source


def test_registered_name_resolves_to_its_hub_ids() -> None:
    assert resolve_source("Qwen3-0.6B", ModelConfig()) == "Qwen/Qwen3-0.6B"
    assert resolve_source("qwen3-0.6b", ModelConfig()) == "Qwen/Qwen3-0.6B"  # case-insensitive
    assert registered_model_id("Qwen3-0.6B", ModelConfig(use_modelscope_hub=True)) == "Qwen/Qwen3-0.6B"
    assert resolve_source("Qwen/Qwen3-0.6B", ModelConfig()) == "Qwen/Qwen3-0.6B"  # hub ids pass through


def test_unknown_name_is_a_clear_error() -> None:
    with pytest.raises(ModelError, match="not a registered model; see `tunesmith models list`"):
        resolve_source("No-Such-Model-7B", ModelConfig())


def test_download_ignore_patterns_come_from_the_family() -> None:
    from tunesmith.families import build_catalog

    llama_id = next(e.item[0].hf_id for e in build_catalog().groups if e.item[1] == "llama")
    assert download_ignore_for(llama_id) == ("original/*",)
    assert download_ignore_for("someone/unregistered") == ()


def test_export_copies_the_family_files(tmp_path: Path) -> None:
    from tunesmith.config import load_config
    from tunesmith.model.export import export_model
    from tunesmith.testing import build_tiny_model

    base = build_tiny_model("qwen3", tmp_path / "base")
    (base / "preprocessor_config.json").write_text(json.dumps({"image_processor_type": "X"}))
    cfg = load_config(
        [], verb="export", base={"model_name_or_path": str(base), "export_dir": str(tmp_path / "out")}
    )
    export_model(cfg)
    assert json.loads((tmp_path / "out" / "preprocessor_config.json").read_text()) == {
        "image_processor_type": "X"
    }
    record = json.loads((tmp_path / "out" / "tunesmith_export.json").read_text())
    assert record["copied_files"] == ["preprocessor_config.json"]


def test_family_default_dtype_applies_on_gpus_only(tmp_path: Path) -> None:
    from tunesmith.model.loader import family_dtype
    from tunesmith.testing import build_tiny_model

    base = build_tiny_model("qwen3", tmp_path / "q")
    assert family_dtype(str(base), ModelConfig(), "cuda") == "bfloat16"
    assert family_dtype(str(base), ModelConfig(), "cpu") is None
    assert family_dtype(str(base), ModelConfig(infer_dtype="float16"), "cuda") is None


def _lora_adapter(base: Path, out: Path) -> Path:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(str(base)), LoraConfig(r=4, target_modules=["q_proj"])
    )
    model.save_pretrained(str(out))
    return out


def test_export_adapter_only_copies_adapter_with_the_template(tmp_path: Path) -> None:
    from tunesmith.config import load_config
    from tunesmith.families import build_catalog
    from tunesmith.model.export import export_model
    from tunesmith.testing import build_tiny_model

    base = build_tiny_model("qwen3", tmp_path / "base")
    adapter = _lora_adapter(base, tmp_path / "lora")
    cfg = load_config(
        [],
        verb="export",
        base={
            "model_name_or_path": str(base),
            "adapter_name_or_path": str(adapter),
            "export_dir": str(tmp_path / "out"),
            "export_adapter_only": True,
        },
    )
    result = export_model(cfg)
    out = tmp_path / "out"
    assert result.dtype == "adapter"
    assert (out / "adapter_config.json").is_file() and (out / "adapter_model.safetensors").is_file()
    assert not (out / "model.safetensors").exists()
    saved = (
        json.loads((out / "tokenizer_config.json").read_text()).get("chat_template")
        or (out / "chat_template.jinja").read_text()
    )
    assert saved == build_catalog().template("qwen3").to_jinja()


def test_push_failure_keeps_the_export_and_says_how_to_upload(tmp_path: Path, monkeypatch) -> None:
    from tunesmith.config import load_config
    from tunesmith.model.export import export_model
    from tunesmith.testing import build_tiny_model

    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there: the push fails fast
    base = build_tiny_model("qwen3", tmp_path / "base")
    cfg = load_config(
        [],
        verb="export",
        base={
            "model_name_or_path": str(base),
            "export_dir": str(tmp_path / "out"),
            "export_hub_model_id": "someone/tiny-export",
        },
    )
    with pytest.raises(
        ModelError, match=r"saved in .*out but could not be pushed.*hf upload someone/tiny-export"
    ):
        export_model(cfg)
    assert (tmp_path / "out" / "config.json").is_file()


def test_new_special_tokens_from_config_grow_the_embeddings(tmp_path: Path) -> None:
    from tunesmith.config import load_config
    from tunesmith.model import load_model, load_tokenizer
    from tunesmith.testing import build_tiny_model

    base = build_tiny_model("qwen3", tmp_path / "base")
    cfg = load_config([f"model_name_or_path={base}", "new_special_tokens=<|tool_a|>,<|tool_b|>"], verb="chat")
    tok = load_tokenizer(cfg.model)
    assert len(tok("<|tool_a|><|tool_b|>", add_special_tokens=False)["input_ids"]) == 2
    model = load_model(cfg.model, tok, for_training=False)
    assert model.get_input_embeddings().weight.shape[0] >= len(tok)
