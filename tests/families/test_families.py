"""The built-in family files, the catalog they build, and plugin files of the same shape.

Also pins, per declarative template without a reference, exactly which conformance shapes differ from
the closest official template (as each family file documents): a shape that starts passing (the spec
gained a feature) or starts failing (a regression) shows up here.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import json
import textwrap

import pytest

from tests.conftest import shared_path
from tunesmith.families import BUILTIN_FAMILY_MODULES, Catalog, Family, build_catalog
from tunesmith.registry import RegistryError
from tunesmith.templates.conformance import battery, run_battery
from tunesmith.templates.messages import Conversation

# Family files written alongside this test; the others (llama, mistral, gemma, phi) may land later.
OWN = ("deepseek", "glm", "cohere", "granite", "smollm", "hermes", "gpt_oss")
ALWAYS = ("generic", "qwen", *OWN)


def _present(name: str) -> bool:
    return importlib.util.find_spec(f"tunesmith.families.{name}") is not None


PRESENT = [m for m in BUILTIN_FAMILY_MODULES if _present(m)]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return build_catalog(entry_points=False)


@pytest.mark.parametrize("module_name", PRESENT)
def test_family_module_registers(module_name: str) -> None:
    module = importlib.import_module(f"tunesmith.families.{module_name}")
    assert isinstance(module.FAMILY, Family)
    cat = Catalog()
    module.register(cat)
    assert cat.families.names() == [module.FAMILY.name]
    assert sorted(cat.templates.names()) == sorted(t.name for t in module.FAMILY.templates)
    for t in module.FAMILY.templates:
        assert t.family == module.FAMILY.name, f"template {t.name} says family {t.family!r}"


def test_own_family_modules_exist() -> None:
    missing = [m for m in ALWAYS if not _present(m)]
    assert not missing


def test_template_names_unique_across_families() -> None:
    seen: dict[str, str] = {}
    for name in PRESENT:
        family = importlib.import_module(f"tunesmith.families.{name}").FAMILY
        for t in family.templates:
            key = t.name.lower()
            assert key not in seen, f"template {t.name!r} in {family.name} and {seen[key]}"
            seen[key] = family.name


def test_catalog_contains_builtin_families(catalog: Catalog) -> None:
    expected = [m for m in BUILTIN_FAMILY_MODULES if m in ALWAYS or _present(m)]
    for name in expected:
        assert name in catalog.families, name
        assert catalog.families.entry(name).origin == f"builtin:families/{name}.py"


def test_every_group_has_hf_id_and_known_template(catalog: Catalog) -> None:
    for entry in catalog.groups:
        group, family_name = entry.item
        assert group.hf_id and "/" in group.hf_id, f"{group.name}: no Hugging Face id"
        assert group.ms_id is None or "/" in group.ms_id, group.name
        if group.template is not None:
            assert group.template in catalog.templates, f"{group.name}: unknown template {group.template}"
            assert catalog.templates.get(group.template).family == family_name, group.name


@pytest.mark.parametrize("module_name", OWN)
def test_family_defaults_and_references(module_name: str, catalog: Catalog) -> None:
    family = catalog.families.get(module_name)
    names = {t.name for t in family.templates}
    if family.default_template is not None:
        assert family.default_template in names
    assert set(family.references) <= names
    for stem in family.references.values():
        assert shared_path("chat_templates", f"{stem}.json").is_file()
    # every template either passes its reference or explains in its notes why it has none
    for t in family.templates:
        assert t.name in family.references or t.notes, t.name


@pytest.mark.parametrize(
    "model_type,family",
    [
        ("deepseek_v2", "deepseek"),
        ("deepseek_v3", "deepseek"),
        ("glm", "glm"),
        ("glm4", "glm"),
        ("chatglm", "glm"),
        ("glm4_moe", "glm"),
        ("cohere", "cohere"),
        ("cohere2", "cohere"),
        ("granite", "granite"),
        ("smollm3", "smollm"),
        ("gpt_oss", "gpt_oss"),
    ],
)
def test_family_for_model_type(catalog: Catalog, model_type: str, family: str) -> None:
    found = catalog.family_for_model_type(model_type)
    assert found is not None and found.name == family


def test_model_types_claimed_once(catalog: Catalog) -> None:
    owner: dict[str, str] = {}
    for entry in catalog.families:
        for mt in entry.item.model_types:
            assert mt not in owner, f"model_type {mt!r} claimed by {owner[mt]} and {entry.name}"
            owner[mt] = entry.name


def test_hermes_claims_no_model_type_and_gpt_oss_has_no_template(catalog: Catalog) -> None:
    assert catalog.families.get("hermes").model_types == ()
    gpt_oss = catalog.families.get("gpt_oss")
    assert gpt_oss.templates == ()
    assert catalog.default_template_for(gpt_oss) is None
    assert (
        catalog.family_for_model_type("llama") is None
        or catalog.family_for_model_type("llama").name != "hermes"
    )


def test_group_default_template(catalog: Catalog) -> None:
    group, family_name = catalog.groups.get("DeepSeek-R1-Distill-Qwen-7B")
    assert catalog.default_template_for(catalog.families.get(family_name), group) == "deepseek_r1"
    group, family_name = catalog.groups.get("aya-expanse-8b")
    assert catalog.default_template_for(catalog.families.get(family_name), group) == "cohere"


# -- plugins ------------------------------------------------------------------------------------------

PLUGIN = textwrap.dedent(
    """
    from tunesmith.families import DeclarativeTemplate, Family, ModelGroup

    TEMPLATE = DeclarativeTemplate(
        name={template!r},
        system="<sys>{{content}}</sys>",
        user="<u>{{content}}</u>",
        assistant="<a>{{content}}</a>",
        family="my_family",
    )


    def register(catalog):
        catalog.add_family(
            Family(
                name={family!r},
                templates=(TEMPLATE,),
                groups=(ModelGroup({group!r}, "me/my-model"),),
                model_types=("my_arch",),
            )
        )
    """
)


def _plugin(tmp_path, filename: str, *, family: str, template: str, group: str):
    path = tmp_path / filename
    path.write_text(PLUGIN.format(family=family, template=template, group=group))
    return path


def test_plugin_file_is_picked_up(tmp_path) -> None:
    path = _plugin(tmp_path, "my_plugin.py", family="my_family", template="my_chat", group="My-Model")
    catalog = build_catalog(plugins=[path], entry_points=False)
    origin = f"plugin:{path}"
    assert catalog.families.entry("my_family").origin == origin
    assert catalog.templates.entry("my_chat").origin == origin
    assert catalog.groups.entry("My-Model").origin == origin
    assert catalog.family_for_model_type("my_arch").name == "my_family"
    conversation = Conversation.from_openai(
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    )
    rendered = catalog.template("my_chat").render(conversation)
    assert rendered.text == "<u>hi</u><a>yo</a>"
    # built-ins are still there, with their own origin
    assert catalog.templates.entry("cohere").origin == "builtin:families/cohere.py"


def test_plugin_duplicate_template_names_both_origins(tmp_path) -> None:
    path = _plugin(tmp_path, "clash.py", family="my_family", template="cohere", group="My-Model")
    with pytest.raises(RegistryError) as info:
        build_catalog(plugins=[path], entry_points=False)
    message = str(info.value)
    assert "'cohere'" in message
    assert "builtin:families/cohere.py" in message
    assert f"plugin:{path}" in message


def test_two_plugins_clash_names_both_files(tmp_path) -> None:
    first = _plugin(tmp_path, "first.py", family="fam_a", template="shared_chat", group="Model-A")
    second = _plugin(tmp_path, "second.py", family="fam_b", template="shared_chat", group="Model-B")
    with pytest.raises(RegistryError) as info:
        build_catalog(plugins=[first, second], entry_points=False)
    message = str(info.value)
    assert f"plugin:{first}" in message and f"plugin:{second}" in message


# -- documented differences from the official templates ------------------------------------------------

TOOLS = {"tools", "parallel_tools"}
KNOWN_DIFFERENCES = [
    # (template, corpus stem, battery kwargs, shapes that differ)
    ("deepseek3", "deepseek-v2_5", {}, {"system", "empty_system"}),
    ("deepseek3", "deepseek-r1-distill-llama-8b", {}, set()),
    ("cohere", "aya-expanse-8b", {}, set()),
    ("cohere", "aya-23-35b", {}, set()),
    ("hermes", "hermes-2-pro-mistral-7b", {}, set()),
]


@pytest.mark.parametrize(
    "name,stem,kwargs,differs",
    KNOWN_DIFFERENCES,
    ids=[f"{n}-vs-{s}" for n, s, _, _ in KNOWN_DIFFERENCES],
)
def test_documented_differences_from_official(catalog: Catalog, name, stem, kwargs, differs) -> None:
    from tunesmith.testing.template_tokenizers import tokenizer_from_template_spec

    tok = tokenizer_from_template_spec(json.loads(shared_path("chat_templates", f"{stem}.json").read_text()))
    specials = [t for t in tok.all_special_tokens if t not in (tok.bos_token, tok.pad_token)]
    shapes = [dataclasses.replace(s, kwargs={**s.kwargs, **kwargs}) for s in battery(specials)]
    template = catalog.template(name).bind(tok.special_tokens_map)
    failing = {r.shape for r in run_battery(template, tok, shapes=shapes) if not r.ok}
    assert failing == differs, (
        f"{name} vs {stem}: now differs on {sorted(failing)}, documented {sorted(differs)}; "
        "update the family file's notes (and give it a reference if it now passes everything)"
    )


def test_smollm3_thinking_switch_renders_the_official_off_mode(catalog: Catalog) -> None:
    """enable_thinking=False on smollm3 renders what the official template renders with that flag."""
    from tunesmith.templates.base import RenderOptions, TemplateError
    from tunesmith.templates.messages import Conversation
    from tunesmith.testing.template_tokenizers import tokenizer_from_template_spec

    tok = tokenizer_from_template_spec(
        json.loads(shared_path("chat_templates", "smollm3-3b.json").read_text())
    )
    template = catalog.template("smollm3").bind(tok.special_tokens_map)
    off = RenderOptions(enable_thinking=False, extra={"enable_thinking": False})
    results = run_battery(
        template,
        tok,
        shapes=[dataclasses.replace(s, kwargs={"enable_thinking": False}) for s in battery()],
        options=off,
    )
    assert all(r.ok for r in results), [r for r in results if not r.ok]
    exported = template.to_jinja()
    msgs = [{"role": "user", "content": "Hi"}]
    for flag in (True, False):
        ours = template.render(
            Conversation.from_openai(msgs),
            add_generation_prompt=True,
            options=RenderOptions(enable_thinking=flag),
        ).text
        theirs = tok.apply_chat_template(
            msgs, chat_template=exported, add_generation_prompt=True, tokenize=False, enable_thinking=flag
        )
        assert ours == theirs
    with pytest.raises(TemplateError, match="/no_think"):
        template.render(
            Conversation.from_openai([{"role": "system", "content": "Be brief /no_think"}, *msgs])
        )


def test_phi4_reasoning_drops_system_messages_with_a_warning(catalog: Catalog) -> None:
    """The official Phi-4-reasoning template drops system messages; we render the same, but say so."""
    from tunesmith.templates.messages import Conversation

    msgs = [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi"}]
    with pytest.warns(UserWarning, match="system messages are not written"):
        text = catalog.template("phi4_reasoning").render(Conversation.from_openai(msgs)).text
    assert "Be terse." not in text and text.endswith("<|im_start|>user<|im_sep|>Hi<|im_end|>")
