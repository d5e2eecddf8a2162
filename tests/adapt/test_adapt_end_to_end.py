"""`adapt` → plugin file → `train` (LoRA, 2 steps) → `chat`, with the plugin loaded and no template named.

Tiny models of six architectures, built locally: four text models and two vision-language models
(Qwen2-VL and LLaVA, saved with their processor files).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

DEMO_DIR = Path(__file__).resolve().parents[2] / "src" / "tunesmith" / "demo"
TEXT_ARCHS = ("llama", "qwen3", "mistral", "phi3")
VLM_ARCHS = ("qwen2_vl", "llava")
SMALL = {"hidden_size": 64, "num_layers": 2, "intermediate_size": 128}


@pytest.fixture(autouse=True)
def _tokenized_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep tunesmith's caches out of the user's home."""
    monkeypatch.setenv("TUNESMITH_CACHE", str(tmp_path_factory.getbasetemp() / "tunesmith-cache"))


def _build(arch: str, out: Path) -> Path:
    if arch in VLM_ARCHS:
        from tunesmith.testing.vlm import build_tiny_vlm

        return build_tiny_vlm(arch, out)
    from tunesmith.testing import build_tiny_model

    return build_tiny_model(arch, out, **SMALL)


def _train(model_dir: Path, plugin: Path, output_dir: Path):
    from tunesmith.config import load_config
    from tunesmith.train.workflow import run_train

    base: dict[str, Any] = {
        "model_name_or_path": str(model_dir),
        "plugins": [str(plugin)],
        "stage": "sft",
        "do_train": True,
        "finetuning_type": "lora",
        "dataset": "demo_sft",
        "dataset_dir": str(DEMO_DIR),
        "cutoff_len": 128,
        "output_dir": str(output_dir),
        "per_device_train_batch_size": 2,
        "max_steps": 2,
        "logging_steps": 1,
        "save_strategy": "no",
        "seed": 0,
        "report_to": "none",
        "disable_tqdm": True,
    }
    cfg = load_config([], verb="train", base=base)
    assert not cfg.template.template  # the template comes from the plugin, not the config
    return run_train(cfg)


@pytest.mark.slow
@pytest.mark.parametrize("arch", [*TEXT_ARCHS, *VLM_ARCHS])
def test_adapt_then_train_and_chat_without_a_template(arch: str, tmp_path: Path) -> None:
    from tunesmith.adapt import run_adapt
    from tunesmith.config import load_config
    from tunesmith.families import build_catalog
    from tunesmith.infer.build import build_engine
    from tunesmith.infer.sampling import SamplingParams
    from tunesmith.templates.messages import Conversation

    model_dir = _build(arch, tmp_path / "model")
    if arch in VLM_ARCHS:  # saved with its processor (one file or two, by transformers version)
        names = {"preprocessor_config.json", "processor_config.json"}
        assert any((model_dir / name).is_file() for name in names)

    plugin = tmp_path / "plugin.py"
    report = run_adapt(model_dir, name=f"e2e_{arch}", out=plugin)
    assert report.ok, report.format()
    assert not [c.name for c in report.checks if c.status == "fail"], report.format()
    assert plugin.is_file()
    if arch in VLM_ARCHS:
        assert report.check("processor").status == "found", report.format()

    lora_dir = tmp_path / "lora"
    result = _train(model_dir, plugin, lora_dir)
    assert result.output_dir == lora_dir
    assert (lora_dir / "adapter_config.json").is_file()
    assert (lora_dir / "adapter_model.safetensors").is_file()
    summary = json.loads((lora_dir / "run_summary.json").read_text())
    group, family = build_catalog(plugins=[plugin]).groups.get(f"e2e_{arch}")
    assert family == f"adapted_e2e_{arch}"
    # the plugin's template when adapt found one (qwen3, qwen2_vl), else the directory's own
    assert summary["template"] == (group.template or "jinja"), summary.get("template_reason")

    chat_cfg = {
        "model_name_or_path": str(model_dir),
        "adapter_name_or_path": str(lora_dir),
        "finetuning_type": "lora",
        "plugins": [str(plugin)],
    }
    cfg = load_config([], verb="chat", base=chat_cfg)
    assert not cfg.template.template
    engine = build_engine(cfg)
    conv = Conversation.from_openai([{"role": "user", "content": "hi"}])
    (reply,) = engine.generate([conv], SamplingParams(max_new_tokens=5))
    assert isinstance(reply.text, str)

    if arch == "llama":  # the same through the command line, in a fresh process
        config = tmp_path / "chat.json"
        config.write_text(json.dumps({**chat_cfg, "max_new_tokens": 5}))
        env = {**os.environ, "TUNESMITH_CACHE": str(tmp_path / "cache")}
        proc = subprocess.run(
            [sys.executable, "-m", "tunesmith.cli.main", "chat", str(config), "--query", "hi"],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip(), proc.stderr
