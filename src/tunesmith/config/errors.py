"""The one exception type of the configuration package."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

COMMAND_LINE = "command line"
"""The source name used in messages for values given as command-line overrides."""


class ConfigError(ValueError):
    """A configuration key, value or combination of values is invalid.

    The message always names the key(s) involved and, where known, the source (a file path or
    ``command line``) the value came from.
    """


def suggest(word: str, candidates: Iterable[str], *, n: int = 3) -> str:
    """Return ``"; did you mean a, b?"`` for the closest candidates, or ``""`` when none is close."""
    close = difflib.get_close_matches(word, list(candidates), n=n, cutoff=0.6)
    if not close:
        return ""
    return "; did you mean " + " or ".join(close) + "?"
