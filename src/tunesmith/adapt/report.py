"""What `tunesmith adapt` found and checked: one line per check, each found / passed / needs a human / failed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Status = Literal["found", "pass", "human", "fail"]
MARKS = {"found": "found", "pass": "passed", "human": "NEEDS A HUMAN", "fail": "FAILED"}


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str


@dataclass(frozen=True)
class AdaptReport:
    model_dir: str
    name: str
    checks: tuple[Check, ...] = ()
    plugin_path: str | None = None
    extras: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No check failed (checks that need a human do not fail the run)."""
        return all(c.status != "fail" for c in self.checks)

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def format(self) -> str:
        width = max((len(c.name) for c in self.checks), default=0)
        lines = [f"tunesmith adapt {self.model_dir} (name {self.name})"]
        for c in self.checks:
            lines.append(f"  {c.name:<{width}}  {MARKS[c.status]:<13}  {c.detail}")
        if self.plugin_path:
            lines.append(f"plugin written: {self.plugin_path} (load it with --plugins {self.plugin_path})")
        failed = [c.name for c in self.checks if c.status == "fail"]
        human = [c.name for c in self.checks if c.status == "human"]
        lines.append(
            ("FAILED: " + ", ".join(failed) if failed else "all checks passed")
            + (f"; needs a human: {', '.join(human)}" if human else "")
        )
        return "\n".join(lines)
