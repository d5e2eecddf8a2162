"""`tunesmith adapt` on tiny models: report, plugin file that loads, training step and generation."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tunesmith.adapt import check_transformers_version, run_adapt, transformers_version_problem
from tunesmith.families import build_catalog
from tunesmith.model import ModelError


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    from tunesmith.testing import build_tiny_model
    from tunesmith.testing.vlm import build_tiny_vlm

    root = tmp_path_factory.mktemp("adapt")
    out = {arch: build_tiny_model(arch, root / arch) for arch in ("llama", "qwen3")}
    out.update({t: build_tiny_vlm(t, root / t) for t in ("qwen2_vl", "llava")})
    return out


@pytest.mark.parametrize("arch", ["llama", "qwen3", "qwen2_vl", "llava"])
def test_adapt_writes_a_loadable_plugin_and_trains(models, arch, tmp_path):
    plugin = tmp_path / "plugin.py"
    report = run_adapt(models[arch], name=f"tiny_{arch}", out=plugin)
    assert report.ok, report.format()
    for name in ("load", "train step", "generation", "plugin"):
        assert report.check(name).status == "pass", report.format()
    catalog = build_catalog(plugins=[plugin])
    group, family = catalog.groups.get(f"tiny_{arch}")
    assert family == f"adapted_tiny_{arch}"
    if arch in ("qwen2_vl", "llava"):
        assert group.multimodal
        assert report.check("composite").status == "pass"  # registered keys, equal to discovery
        assert "registered" in report.check("composite").detail
        assert report.check("processor").status == "found"
    if arch == "qwen3":
        assert group.template == "qwen3" and report.check("template").status == "pass"
    if arch == "qwen2_vl":
        assert group.template == "qwen2_vl"


def test_plugin_carries_discovered_composite_keys(models, tmp_path):
    from transformers import AutoModelForImageTextToText

    from tunesmith.adapt.plugin import adapt_plugin_source
    from tunesmith.families.spec import Catalog
    from tunesmith.model.composite import composite_keys, registered_composite

    model = AutoModelForImageTextToText.from_pretrained(models["llava"])
    keys = composite_keys(model, Catalog())  # as if llava were not registered
    assert keys is not None and keys.how == "discovered"
    source = adapt_plugin_source(
        name="newvlm",
        family="adapted_newvlm",
        model_dir="x",
        template_name=None,
        derived=None,
        unsupported=(),
        model_type="newvlm",
        register_model_type=False,
        composite=keys,
        multimodal=True,
        notes="",
    )
    (tmp_path / "p.py").write_text(source)
    loaded = registered_composite(build_catalog(plugins=[tmp_path / "p.py"]), "newvlm")
    assert loaded is not None and loaded.as_mapping() == keys.as_mapping()


def test_adapt_fp8_checkpoint(models, tmp_path):
    from tunesmith.model.fp8 import save_fp8_checkpoint

    fp8 = save_fp8_checkpoint(models["qwen3"], tmp_path / "qwen3_fp8")
    report = run_adapt(fp8, name="q8", out=tmp_path / "p.py")
    assert report.ok, report.format()
    assert report.check("quantization").status == "found" and "FP8" in report.check("quantization").detail
    assert report.check("train step").status == "pass"


def test_adapt_reports_a_too_new_transformers(models, tmp_path):
    d = shutil.copytree(models["qwen3"], tmp_path / "future")
    config = json.loads((d / "config.json").read_text())
    config["transformers_version"] = "99.1.0"
    (d / "config.json").write_text(json.dumps(config))
    report = run_adapt(d, name="future", out=tmp_path / "p.py")
    check = report.check("transformers version")
    assert check.status == "human" and "99.1.0" in check.detail


def test_version_messages_name_both_versions():
    assert transformers_version_problem({"transformers_version": "4.40.0"}, "5.23.0") is None
    message = transformers_version_problem({"transformers_version": "5.30.1"}, "5.23.0")
    assert message and "5.30.1" in message and "5.23.0" in message
    with pytest.raises(ModelError, match="5.30.1.*5.23.0"):
        check_transformers_version({"transformers_version": "5.30.1"}, "5.23.0")


def test_cli_adapt(models, tmp_path, capsys):
    from tunesmith.cli.main import main

    out = tmp_path / "cli_plugin.py"
    assert main(["adapt", str(models["qwen3"]), "--name", "cli_qwen3", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "train step" in text and "passed" in text and out.is_file()
    assert main(["adapt", str(tmp_path / "missing")]) == 1
    assert "not a directory" in capsys.readouterr().err
