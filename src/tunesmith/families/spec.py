"""What a model family declares, and the catalog that collects families, templates and model groups.

A family file (built in, or a user's plugin file) defines ``register(catalog)`` and calls
``catalog.add_family(Family(...))``. Nothing is registered at import time.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunesmith.registry import Registry, RegistryError, iter_entry_point_plugins, load_plugin_file
from tunesmith.templates.declarative import DeclarativeTemplate

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelGroup:
    """A downloadable model: display name → Hugging Face id and ModelScope id."""

    name: str
    hf_id: str | None = None
    ms_id: str | None = None
    template: str | None = None
    """Default template name for this model (falls back to the family's default)."""
    multimodal: bool = False


@dataclass(frozen=True)
class Family:
    name: str
    templates: tuple[DeclarativeTemplate, ...] = ()
    groups: tuple[ModelGroup, ...] = ()
    default_template: str | None = None
    model_types: tuple[str, ...] = ()
    """config.json ``model_type`` values of this family (used for detection)."""
    architectures: tuple[str, ...] = ()
    references: Mapping[str, str] = field(default_factory=dict)
    """template name → file stem of its official chat template in the conformance corpus
    (../shared/chat_templates/<stem>.json), for the conformance tests."""
    reference_kwargs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """template name → keyword arguments the reference is rendered with (``{"enable_thinking": False}``
    for a template that is the official one with thinking switched off)."""
    composite: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    """model_type → {"vision_tower": prefixes, "projector": prefixes, "language_model": prefixes}."""
    default_dtype: str | None = None
    """dtype to load this family in on a GPU when infer_dtype is auto (e.g. "bfloat16")."""
    export_files: tuple[str, ...] = ()
    """Extra files of the base model folder copied next to an exported model (e.g. processor files)."""
    download_ignore: tuple[str, ...] = ()
    """File patterns not downloaded from a hub (e.g. "*.pth", "original/*")."""
    notes: str = ""


@dataclass(frozen=True)
class TemplateEntry:
    template: DeclarativeTemplate
    family: str
    reference: str | None = None
    reference_kwargs: Mapping[str, Any] = field(default_factory=dict)


class Catalog:
    """Families, templates and model groups, each in its own registry, with origins kept."""

    def __init__(self) -> None:
        self.families: Registry[Family] = Registry("model family")
        self.templates: Registry[TemplateEntry] = Registry("template")
        self.groups: Registry[tuple[ModelGroup, str]] = Registry("model")
        self._origin = "builtin"

    def add_family(self, family: Family, *, replace: bool = False) -> Family:
        origin = self._origin
        self.families.register(family.name, family, origin=origin, replace=replace)
        for t in family.templates:
            entry = TemplateEntry(
                t, family.name, family.references.get(t.name), family.reference_kwargs.get(t.name, {})
            )
            self.templates.register(t.name, entry, origin=origin, replace=replace)
        for g in family.groups:
            self.groups.register(g.name, (g, family.name), origin=origin, replace=replace)
        return family

    def add_template(self, template: DeclarativeTemplate, *, family: str = "custom", replace: bool = False):
        entry = TemplateEntry(template, family)
        return self.templates.register(template.name, entry, origin=self._origin, replace=replace)

    def template(self, name: str) -> DeclarativeTemplate:
        return self.templates.get(name).template

    def group(self, name: str) -> tuple[ModelGroup, Family] | None:
        """The registered model group called ``name`` (case-insensitive) and its family, if any."""
        if name not in self.groups:
            return None
        group, family = self.groups.get(name)
        return group, self.families.get(family)

    def family_for_model_type(self, model_type: str) -> Family | None:
        for entry in self.families:
            if model_type in entry.item.model_types:
                return entry.item
        return None

    def default_template_for(self, family: Family, group: ModelGroup | None = None) -> str | None:
        if group is not None and group.template:
            return group.template
        if family.default_template:
            return family.default_template
        return family.templates[0].name if family.templates else None

    def _run(self, register, origin: str) -> None:
        previous, self._origin = self._origin, origin
        try:
            register(self)
        finally:
            self._origin = previous


BUILTIN_FAMILY_MODULES: tuple[str, ...] = (
    "generic",
    "qwen",
    "llama",
    "mistral",
    "gemma",
    "phi",
    "deepseek",
    "glm",
    "cohere",
    "granite",
    "smollm",
    "hermes",
    "gpt_oss",
)


def build_catalog(plugins: Sequence[str | Path] = (), *, entry_points: bool = True) -> Catalog:
    """Built-in families, then installed entry-point plugins, then plugin files (in order)."""
    catalog = Catalog()
    for name in BUILTIN_FAMILY_MODULES:
        module = importlib.import_module(f"tunesmith.families.{name}")
        catalog._run(module.register, f"builtin:families/{name}.py")
    if entry_points:
        for ep_name, register in iter_entry_point_plugins():
            catalog._run(register, f"entry-point:{ep_name}")
    for path in plugins:
        module = load_plugin_file(path)
        try:
            catalog._run(module.register, f"plugin:{path}")
        except RegistryError as exc:
            raise RegistryError(f"plugin {path}: {exc}") from None
        logger.info("loaded plugin %s", path)
    return catalog


def iter_templates(catalog: Catalog) -> Iterable[tuple[str, str, str]]:
    """(template name, family, origin) for listing."""
    for e in catalog.templates:
        yield e.name, e.item.family, e.origin
