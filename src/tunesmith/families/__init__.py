"""Model families: one file each (qwen.py, llama.py, …), each with ``register(catalog)``.

A user's plugin file has exactly the same shape; see docs/adding-a-model.md.
"""

from tunesmith.families.spec import (
    BUILTIN_FAMILY_MODULES,
    Catalog,
    Family,
    ModelGroup,
    TemplateEntry,
    build_catalog,
)
from tunesmith.templates.declarative import DeclarativeTemplate, ReasoningSpec

__all__ = [
    "BUILTIN_FAMILY_MODULES",
    "Catalog",
    "DeclarativeTemplate",
    "Family",
    "ModelGroup",
    "ReasoningSpec",
    "TemplateEntry",
    "build_catalog",
]
