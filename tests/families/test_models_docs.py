"""`tunesmith models list` and the generated docs/supported-models.md."""

from __future__ import annotations

from pathlib import Path

from tunesmith.cli.main import main
from tunesmith.families import build_catalog
from tunesmith.families.docs import REGENERATE_COMMAND, supported_models_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "supported-models.md"


def test_models_list_prints_every_group(capsys) -> None:
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert header[:2] == ["model", "family"] and header[-2:] == ["template", "multimodal"]
    catalog = build_catalog(entry_points=False)
    assert f"\n{len(catalog.groups)} models." in out
    row = next(line for line in out.splitlines() if line.startswith("Llama-3.1-8B-Instruct "))
    assert row.split() == [
        "Llama-3.1-8B-Instruct",
        "llama",
        "meta-llama/Llama-3.1-8B-Instruct",
        "LLM-Research/Meta-Llama-3.1-8B-Instruct",
        "llama3_1",
        "no",
    ]


def test_models_list_filters_by_family(capsys) -> None:
    assert main(["models", "list", "--family", "llama"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()[1:-2]
    assert rows and all(r.split()[1] == "llama" for r in rows)
    assert any(r.split()[-1] == "yes" for r in rows)  # Llama 4 is multimodal


def test_models_list_unknown_family(capsys) -> None:
    assert main(["models", "list", "--family", "nope"]) == 1
    assert "unknown family 'nope'" in capsys.readouterr().err


def test_supported_models_markdown_is_deterministic() -> None:
    text = supported_models_markdown(build_catalog(entry_points=False))
    assert text == supported_models_markdown(build_catalog(entry_points=False))
    sections = [line[3:] for line in text.splitlines() if line.startswith("## ")]
    assert sections == sorted(sections)
    assert "| llama3 |  | yes (`" in text  # templates with an official reference say so


def test_supported_models_doc_is_up_to_date() -> None:
    expected = supported_models_markdown(build_catalog(entry_points=False))
    actual = DOC.read_text(encoding="utf-8") if DOC.is_file() else ""
    assert actual == expected, f"{DOC.name} is stale; regenerate it with `{REGENERATE_COMMAND}`"
