"""Shared fixtures: where ../shared is, and the conformance table printed at the end of the run."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CONFORMANCE_KEY = pytest.StashKey[dict]()


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test with a clear reason when it is missing (a user's clone)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"{path} not found: these tests read the shared corpus beside the repository (present in CI)"
        )
    return path


def pytest_configure(config: pytest.Config) -> None:
    config.stash[CONFORMANCE_KEY] = {}


@pytest.fixture(scope="session")
def conformance_rows(pytestconfig: pytest.Config) -> dict:
    return pytestconfig.stash[CONFORMANCE_KEY]


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    rows = config.stash.get(CONFORMANCE_KEY, {})
    if not rows:
        return
    from tunesmith.templates.conformance import format_table

    terminalreporter.section("template conformance (template x shape)")
    terminalreporter.write_line(format_table(dict(sorted(rows.items()))))
