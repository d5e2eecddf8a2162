"""Field metadata markers shared by the config groups.

Documentation of a field is the string literal right after it (litgpt style), read with ``ast``
by :mod:`tunesmith.config.schema`; metadata only carries behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

SECRET: Mapping[str, Any] = MappingProxyType({"secret": True})
"""The value is a credential: redacted by ``RunConfig.to_dict()`` unless asked for."""

APPEND: Mapping[str, Any] = MappingProxyType({"append": True})
"""A list whose values accumulate over all sources (files, then repeated flags) instead of the
last one winning."""


def empty_mapping() -> Mapping[str, Any]:
    """Default factory for mapping-valued fields."""
    return MappingProxyType({})
