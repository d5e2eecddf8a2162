"""The error every model-layer failure raises: it names the model/key and says how to fix it."""

from __future__ import annotations


class ModelError(RuntimeError):
    """A model, tokenizer or adapter cannot be loaded, adapted or exported as configured; the
    message names the model (or config key) and suggests the fix."""
