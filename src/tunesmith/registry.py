"""One small generic registry, and the loading of plugin files and entry points.

A registry is an ordinary object owned by whoever builds it (see :func:`tunesmith.families.build_catalog`);
there is no module-level mutable registry. Plugins are Python files (or entry points in the group
``tunesmith.plugins``) that define ``register(catalog)``; they register things exactly like the built-in
family files do.
"""

from __future__ import annotations

import difflib
import importlib.util
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")

ENTRY_POINT_GROUP = "tunesmith.plugins"


class RegistryError(KeyError):
    """A name is missing from, or registered twice in, a registry."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    item: T
    origin: str  # "builtin:<module>", "plugin:<file>" or "entry-point:<name>"


class Registry(Generic[T]):
    """Name → item, with the origin of every registration kept for listing."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, item: T, *, origin: str, replace: bool = False) -> T:
        key = name.lower()
        if key in self._entries and not replace:
            prev = self._entries[key].origin
            raise RegistryError(
                f"{self.kind} {name!r} is already registered (by {prev}); "
                f"pass replace=True to override it from {origin}"
            )
        self._entries[key] = Entry(name, item, origin)
        return item

    def get(self, name: str) -> T:
        return self.entry(name).item

    def entry(self, name: str) -> Entry[T]:
        try:
            return self._entries[name.lower()]
        except KeyError:
            close = difflib.get_close_matches(name.lower(), list(self._entries), n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise RegistryError(
                f"unknown {self.kind} {name!r}.{hint} Known: {', '.join(sorted(self._entries)) or '(none)'}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        return [e.name for e in self._entries.values()]


def load_plugin_file(path: str | Path):
    """Import a plugin file as a private module and return it (it must define ``register(catalog)``)."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise FileNotFoundError(f"plugin file not found: {path} (from --plugins / config key 'plugins')")
    mod_name = f"tunesmith_plugin_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import plugin file {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(mod_name, None)
        raise ImportError(f"plugin file {path} failed to import: {exc}") from exc
    if not callable(getattr(module, "register", None)):
        raise ImportError(f"plugin file {path} must define a function register(catalog)")
    return module


def iter_entry_point_plugins():
    """Yield (name, register_function) for every installed entry point in ``tunesmith.plugins``."""
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        yield ep.name, ep.load()
