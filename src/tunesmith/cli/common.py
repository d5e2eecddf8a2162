"""The start the config-driven verbs share: ``--help``, logging, the run's configuration."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any


def load_run_config(
    argv: Sequence[str],
    verb: str,
    *,
    errors: tuple[type[Exception], ...] = (),
    more_help: str | None = None,
    setup_logging: bool = True,
    load: Callable[[list[str]], Any] | None = None,
) -> Any:
    """The config of ``tunesmith VERB argv``, or the exit status when the verb ends here: 0 after printing
    the verb's help (``-h``/``--help``, then ``more_help``), 2 after printing a :class:`ConfigError` (or one
    of ``errors``) to stderr. With ``setup_logging``, INFO logging is set up before the config loads.
    ``load`` replaces :func:`~tunesmith.config.load_config` (e.g. to take verb-only options out first)."""
    from tunesmith.config import ConfigError, format_help, load_config

    if any(a in ("-h", "--help") for a in argv):
        print(format_help(verb))
        if more_help is not None:
            print(more_help)
        return 0
    if setup_logging:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return load(list(argv)) if load is not None else load_config(list(argv), verb=verb)
    except (ConfigError, *errors) as exc:
        print(f"tunesmith {verb}: {exc}", file=sys.stderr)
        return 2
