"""Engine choice, settings from the config, and the CLI verb."""

from __future__ import annotations

import pytest

from tunesmith.config import load_config


def test_vllm_backend_is_a_clear_error(tiny_dir) -> None:
    from tunesmith.serve.backend import build_serving_engine

    cfg = load_config([f"model_name_or_path={tiny_dir}", "infer_backend=vllm"], verb="serve")
    with pytest.raises(NotImplementedError, match=r"install tunesmith\[vllm\] and use a CUDA GPU"):
        build_serving_engine(cfg)


def test_cli_reports_the_vllm_error(tiny_dir, capsys) -> None:
    from tunesmith.cli.main import main

    assert main(["serve", f"model_name_or_path={tiny_dir}", "infer_backend=vllm"]) == 1
    assert "install tunesmith[vllm] and use a CUDA GPU" in capsys.readouterr().err


def test_cli_help_lists_the_serve_keys(capsys) -> None:
    from tunesmith.cli.main import main

    assert main(["serve", "--help"]) == 0
    out = capsys.readouterr().out
    for key in ("api_key", "served_model_name", "max_concurrency", "queue_size", "port"):
        assert key in out


def test_settings_from_config(tiny_dir) -> None:
    from tunesmith.serve import ServeSettings, served_model_name

    cfg = load_config(
        [
            f"model_name_or_path={tiny_dir}/",
            "api_key=sk-secret-zz",
            "max_concurrency=2",
            "queue_size=3",
            "temperature=0.5",
        ],
        verb="serve",
    )
    settings = ServeSettings.from_config(cfg)
    assert settings.model_name == tiny_dir.name
    assert (settings.api_key, settings.max_concurrency, settings.queue_size) == ("sk-secret-zz", 2, 3)
    assert settings.defaults.temperature == 0.5
    assert "sk-secret-zz" not in repr(settings)
    assert served_model_name("mine", "Qwen/Qwen3-0.6B") == "mine"
    assert served_model_name(None, "Qwen/Qwen3-0.6B") == "Qwen3-0.6B"


def test_tool_call_markers() -> None:
    from tunesmith.serve.toolcalls import ContentGate, tool_call_marker

    assert tool_call_marker("qwen") == "<tool_call>"
    assert tool_call_marker("mistral_v11") == "[TOOL_CALLS]"
    assert tool_call_marker("react") == "Action"
    assert tool_call_marker("glm4") is None  # no fixed start: held whole
    gate = ContentGate("<tool_call>")
    shown = "".join(gate.feed(p) for p in ["Sure", ", let me ", "check.\n<tool", "_call>\n{", '"name"'])
    assert shown == "Sure, let me check."
    gate = ContentGate("<tool_call>")
    shown = "".join(gate.feed(p) for p in ["a <to", "y> b  "])
    assert shown == "a <toy> b" and gate.rest("a <toy> b  ") == "  "


def test_base_base_plus_adapter_and_merged_models_are_served(tiny_dir, tmp_path) -> None:
    """The same server code for a base model, the base with a LoRA adapter, and the adapter merged
    by `tunesmith export`: base+adapter and merged answer alike (greedy), and unlike the base."""
    import torch
    from fastapi.testclient import TestClient
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from tunesmith.model import export_model
    from tunesmith.serve import ServeSettings, create_app
    from tunesmith.serve.backend import build_serving_engine

    peft = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_dir),
        LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj", "o_proj"]),
    )
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    adapter = tmp_path / "adapter"
    peft.save_pretrained(adapter)
    merged = tmp_path / "merged"
    export_model(
        load_config(
            [f"model_name_or_path={tiny_dir}", f"adapter_name_or_path={adapter}", f"export_dir={merged}"],
            verb="export",
        )
    )

    def reply(*args: str) -> str:
        cfg = load_config(list(args), verb="serve")
        client = TestClient(create_app(build_serving_engine(cfg), ServeSettings.from_config(cfg)))
        body = {
            "model": ServeSettings.from_config(cfg).model_name,
            "messages": [{"role": "user", "content": "tell me about rivers"}],
            "max_tokens": 12,
            "temperature": 0,
        }
        r = client.post("/v1/chat/completions", json=body)
        assert r.status_code == 200, r.text
        return r.json()["choices"][0]["message"]["content"]

    base = reply(f"model_name_or_path={tiny_dir}")
    adapted = reply(f"model_name_or_path={tiny_dir}", f"adapter_name_or_path={adapter}")
    assert reply(f"model_name_or_path={merged}") == adapted != base
