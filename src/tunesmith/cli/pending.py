"""Verbs whose implementation has not landed yet: their options are listed, running them says so."""

from __future__ import annotations

import sys
from collections.abc import Sequence

TRACKED = {
    "webui": "the web UI board (a later issue)",
}


def run(argv: Sequence[str], *, verb: str) -> int:
    if any(a in ("-h", "--help") for a in argv):
        from tunesmith.config import format_help

        print(format_help(verb))
        return 0
    print(
        f"tunesmith {verb}: not available in this version yet; it is tracked as {TRACKED.get(verb, 'an open issue')}.",
        file=sys.stderr,
    )
    return 2
