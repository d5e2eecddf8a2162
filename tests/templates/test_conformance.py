"""Conformance: our rendering vs transformers' apply_chat_template, token for token.

* every ../shared/chat_templates/*.json and every original (not *_training) template shipped by trl,
  through the Jinja path (the model's own template rendered by our engine);
* every registered declarative template that names its official reference, against that reference;
* every declarative template against its own exported Jinja (round trip).

A table (template x shape) is printed at the end of the run.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from tests.conftest import SHARED, shared_path
from tunesmith.families import build_catalog
from tunesmith.templates import jinja_template_from_tokenizer
from tunesmith.templates.conformance import battery, run_battery

CORPUS = sorted((SHARED / "chat_templates").glob("*.json"))


def _trl_templates() -> list[Path]:
    try:
        import trl
    except ImportError:  # pragma: no cover - trl is a test dependency
        return []
    folder = Path(trl.__file__).parent / "chat_templates"
    return sorted(p for p in folder.glob("*.jinja") if not p.stem.endswith("_training"))


TRL = _trl_templates()


def _assert_all_ok(name: str, results, rows: dict) -> None:
    rows[name] = results
    failures = [f"{r.shape}: {r.detail}" for r in results if not r.ok]
    assert not failures, f"{name}:\n" + "\n".join(failures)


def _specials(tokenizer) -> list[str]:
    return [t for t in tokenizer.all_special_tokens if t not in (tokenizer.bos_token, tokenizer.pad_token)]


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_shared_corpus_jinja_path(path: Path, conformance_rows: dict) -> None:
    from tunesmith.testing.template_tokenizers import tokenizer_from_template_spec

    spec = json.loads(shared_path("chat_templates", path.name).read_text())
    tok = tokenizer_from_template_spec(spec)
    template = jinja_template_from_tokenizer(tok, path.stem)
    _assert_all_ok(
        f"jinja:{path.stem}", run_battery(template, tok, shapes=battery(_specials(tok))), conformance_rows
    )


@pytest.mark.parametrize("path", TRL, ids=[p.stem for p in TRL])
def test_trl_templates_jinja_path(path: Path, conformance_rows: dict) -> None:
    from tunesmith.testing.template_tokenizers import tokenizer_for_jinja_template

    tok = tokenizer_for_jinja_template(path.read_text(), family=path.stem)
    template = jinja_template_from_tokenizer(tok, f"trl-{path.stem}")
    _assert_all_ok(
        f"trl:{path.stem}", run_battery(template, tok, shapes=battery(_specials(tok))), conformance_rows
    )


def _declarative_with_reference():
    catalog = build_catalog(entry_points=False)
    return [(e.name, e.item) for e in catalog.templates if e.item.reference]


DECLARATIVE_REF = _declarative_with_reference()


@pytest.mark.parametrize("name,entry", DECLARATIVE_REF, ids=[n for n, _ in DECLARATIVE_REF])
def test_declarative_matches_official(name: str, entry, conformance_rows: dict) -> None:
    from tunesmith.testing.template_tokenizers import tokenizer_from_template_spec

    spec = json.loads(shared_path("chat_templates", f"{entry.reference}.json").read_text())
    tok = tokenizer_from_template_spec(spec)
    template = entry.template.bind(tok.special_tokens_map)
    shapes = [
        dataclasses.replace(s, kwargs={**s.kwargs, **entry.reference_kwargs}) for s in battery(_specials(tok))
    ]
    results = run_battery(template, tok, shapes=shapes)
    _assert_all_ok(f"decl:{name}", results, conformance_rows)


ALL_DECLARATIVE = [(e.name, e.item) for e in build_catalog(entry_points=False).templates]


@pytest.mark.parametrize("name,entry", ALL_DECLARATIVE, ids=[n for n, _ in ALL_DECLARATIVE])
def test_declarative_jinja_export_round_trip(name: str, entry) -> None:
    """The exported Jinja renders exactly what the declarative template renders (or both refuse)."""
    from tunesmith.testing.tokenizer import build_tokenizer

    t = entry.template
    specials = sorted(
        {
            s
            for s in (t.assistant, t.user, t.system, t.tool, t.prefix, t.generation_prompt or "")
            for s in _marker_strings(s)
        }
    )
    tok = build_tokenizer(
        special_tokens=specials, bos_token="<s>", eos_token="</s>", chat_template=t.to_jinja()
    )
    bound = t.bind(tok.special_tokens_map)
    results = run_battery(bound, tok, shapes=battery(specials))
    failures = [f"{r.shape}: {r.detail}" for r in results if not r.ok]
    assert not failures, f"{name} export:\n" + "\n".join(failures)


def _marker_strings(text: str) -> list[str]:
    import re

    return re.findall(r"<\|[^|\s]+\|>|<[a-z_]+>|\[/?[A-Z_]+\]", text)
