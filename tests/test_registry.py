"""The generic registry, plugin files and entry-point plugins."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from tunesmith.families import build_catalog
from tunesmith.registry import Registry, RegistryError, load_plugin_file

REPO = Path(__file__).resolve().parents[1]


def test_registry_get_suggests_and_refuses_duplicates() -> None:
    reg: Registry[int] = Registry("thing")
    reg.register("alpha", 1, origin="builtin:a")
    assert reg.get("ALPHA") == 1 and "alpha" in reg
    with pytest.raises(RegistryError, match="already registered .by builtin:a"):
        reg.register("alpha", 2, origin="plugin:x.py")
    reg.register("alpha", 2, origin="plugin:x.py", replace=True)
    assert reg.entry("alpha").origin == "plugin:x.py"
    with pytest.raises(RegistryError, match="Did you mean alpha"):
        reg.get("alpah")


def test_plugin_file_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="plugin file not found"):
        load_plugin_file(tmp_path / "missing.py")
    bad = tmp_path / "bad.py"
    bad.write_text("x = 1\n")
    with pytest.raises(ImportError, match="must define a function register"):
        load_plugin_file(bad)


def test_entry_point_plugin_registers_a_family(tmp_path: Path, monkeypatch) -> None:
    pkg = tmp_path / "acme_ts_plugin.py"
    pkg.write_text(
        textwrap.dedent(
            """
            from tunesmith.families import DeclarativeTemplate, Family

            def register(catalog):
                catalog.add_family(Family(name="acme_ep", templates=(
                    DeclarativeTemplate(name="acme_ep_chat", user="U:{content}\\n", assistant="A:{content}\\n"),)))
            """
        )
    )
    dist = tmp_path / "acme_ts_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-ts-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[tunesmith.plugins]\nacme = acme_ts_plugin:register\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    catalog = build_catalog()
    entry = catalog.templates.entry("acme_ep_chat")
    assert entry.origin == "entry-point:acme" and entry.item.family == "acme_ep"
    assert "acme_ts_plugin" in sys.modules


def test_llamafactory_example_config_parses() -> None:
    from tunesmith.config import load_config

    cfg = load_config([str(REPO / "examples" / "llama3_lora_sft.yaml")], verb="train")
    assert cfg.get("template") == "llama3" and cfg.get("lora_target") in ("all", ("all",))
    assert cfg.get("gradient_accumulation_steps") == 8 and cfg.get("learning_rate") == 1e-4
