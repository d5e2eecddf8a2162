"""Detection order of choose_template when no template is named: model group name, config.json
architectures / model_type, identity with a registered template, the model's own Jinja."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from tunesmith.families import build_catalog
from tunesmith.families.resolve import choose_template
from tunesmith.templates.base import TemplateError
from tunesmith.testing import build_tokenizer

LLAMA3_SPECIALS = {
    "bos_token": "<|begin_of_text|>",
    "eos_token": "<|eot_id|>",
    "special_tokens": ["<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|python_tag|>"],
}
OWN = "{% for m in messages %}<<{{ m['role'] }}>>{{ m['content'] }}\n{% endfor %}"


@pytest.fixture(scope="module")
def catalog():
    return build_catalog(entry_points=False)


def _tokenizer(chat_template: str | None = None):
    return build_tokenizer(**LLAMA3_SPECIALS, chat_template=chat_template, vocab_size=300)


def _model_dir(root: Path, name: str, config: dict | None = None) -> Path:
    path = root / name
    path.mkdir(parents=True)
    if config is not None:
        (path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return path


def test_named_template_is_kept(catalog, tmp_path) -> None:
    choice = choose_template(catalog, _tokenizer(OWN), name="llama3", model_dir=tmp_path)
    assert (choice.name, choice.reason) == ("llama3", "asked for by name")


def test_model_group_name(catalog, tmp_path) -> None:
    # the directory's name is a registered group (its hf_id's last part, any case): its template wins
    # over the family default (llama3_1)
    model_dir = _model_dir(tmp_path, "meta-llama-3-8b-instruct", {"model_type": "llama"})
    choice = choose_template(catalog, _tokenizer(), model_dir=model_dir)
    assert choice.name == "llama3"
    assert "model group Llama-3-8B-Instruct" in choice.reason


def test_model_group_hub_id(catalog) -> None:
    choice = choose_template(catalog, _tokenizer(), model_dir="meta-llama/Llama-3.2-1B-Instruct")
    assert choice.name == "llama3_2" and "model group" in choice.reason


def test_model_group_with_a_different_own_template(catalog, tmp_path, caplog) -> None:
    model_dir = _model_dir(tmp_path, "Llama-3-8B-Instruct", {"model_type": "llama"})
    with caplog.at_level(logging.INFO, logger="tunesmith.families.resolve"):
        choice = choose_template(catalog, _tokenizer(OWN), model_dir=model_dir)
    assert choice.name == "jinja"
    assert "renders differently" in choice.reason
    assert any("renders differently" in r.getMessage() for r in caplog.records)


def test_model_group_with_the_same_own_template(catalog, tmp_path) -> None:
    own = catalog.template("llama3").bind(_tokenizer().special_tokens_map).to_jinja()
    model_dir = _model_dir(tmp_path, "Llama-3-8B-Instruct")
    choice = choose_template(catalog, _tokenizer(own), model_dir=model_dir)
    assert choice.name == "llama3" and "renders identically" in choice.reason


def test_model_type(catalog, tmp_path) -> None:
    model_dir = _model_dir(tmp_path, "my-finetune", {"model_type": "llama"})
    choice = choose_template(catalog, _tokenizer(), model_dir=model_dir)
    assert choice.name == "llama3_1"
    assert "model_type 'llama' → family llama" in choice.reason


def test_architectures(catalog, tmp_path) -> None:
    model_dir = _model_dir(tmp_path, "my-finetune", {"architectures": ["LlamaForCausalLM"]})
    choice = choose_template(catalog, _tokenizer(), model_dir=model_dir)
    assert choice.name == "llama3_1"
    assert "architectures ['LlamaForCausalLM'] → family llama" in choice.reason


def test_template_identity(catalog, tmp_path) -> None:
    tokenizer = _tokenizer()
    tokenizer.chat_template = catalog.template("llama3").bind(tokenizer.special_tokens_map).to_jinja()
    model_dir = _model_dir(tmp_path, "my-finetune", {"model_type": "unrelated_arch"})
    started = time.perf_counter()
    choice = choose_template(catalog, tokenizer, model_dir=model_dir)
    elapsed = time.perf_counter() - started
    assert choice.name == "llama3"
    assert "identical" in choice.reason
    assert elapsed < 5  # ~0.1 s alone; generous for shared CI machines


def test_template_identity_after_family_default_differs(catalog, tmp_path) -> None:
    # model_type llama → default llama3_1 renders differently; the own template is llama3's export
    tokenizer = _tokenizer()
    tokenizer.chat_template = catalog.template("llama3").bind(tokenizer.special_tokens_map).to_jinja()
    model_dir = _model_dir(tmp_path, "my-finetune", {"model_type": "llama"})
    choice = choose_template(catalog, tokenizer, model_dir=model_dir)
    assert choice.name == "llama3" and "identical" in choice.reason


def test_unknown_template_uses_own_jinja(catalog, tmp_path, caplog) -> None:
    model_dir = _model_dir(tmp_path, "my-finetune", {"model_type": "unrelated_arch"})
    with caplog.at_level(logging.INFO, logger="tunesmith.families.resolve"):
        choice = choose_template(catalog, _tokenizer(OWN), model_dir=model_dir)
    assert choice.name == "jinja"
    assert "own chat template" in choice.reason
    records = [r for r in caplog.records if r.name == "tunesmith.families.resolve"]
    assert any("template jinja" in r.getMessage() and "own chat template" in r.getMessage() for r in records)


def test_no_template_and_unknown_type_raises(catalog, tmp_path) -> None:
    model_dir = _model_dir(tmp_path, "my-finetune", {"model_type": "unrelated_arch"})
    with pytest.raises(TemplateError, match="--template"):
        choose_template(catalog, _tokenizer(), model_dir=model_dir)
