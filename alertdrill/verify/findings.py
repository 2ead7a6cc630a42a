"""What a verification reports: findings (with id, severity, place and fix hint) and checks.

A *finding* is one thing wrong (or worth knowing) about the configuration, pointing at a file
and line when one is known. A *check* is one step of ``alertdrill verify`` (``promtool check
rules``, the routing tests, the lints, ...): it holds its findings and, for JUnit, the cases it
ran (one per test file, routing test, dashboard, ...). A check failed when it has an error
finding or a failed case; warnings and infos never fail a check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Case", "CheckResult", "CheckStatus", "Finding", "Severity", "location"]

Severity = Literal["error", "warning", "info"]
CheckStatus = Literal["passed", "failed", "skipped"]
_ORDER: dict[Severity, int] = {"error": 0, "warning": 1, "info": 2}


def location(path: str | None, line: int | None) -> str:
    """``file:line``, ``file`` or empty."""
    if path is None:
        return ""
    return path if line is None else f"{path}:{line}"


@dataclass(frozen=True)
class Finding:
    id: str
    """Stable identifier, ``area/what`` (``rule/runbook-url``, ``metric/missing``)."""
    severity: Severity
    message: str
    path: str | None = None
    line: int | None = None
    hint: str = ""
    """How to fix it."""
    subject: str = ""
    """What it is about: an alert name, a route, a receiver, a panel."""

    @property
    def where(self) -> str:
        return location(self.path, self.line)

    def sort_key(self) -> tuple[int, str, int, str]:
        return (_ORDER[self.severity], self.path or "", self.line or 0, self.id)


@dataclass(frozen=True)
class Case:
    """One unit of a check (a test file, a routing test, a dashboard panel, a lint rule)."""

    name: str
    ok: bool
    message: str = ""
    path: str | None = None
    line: int | None = None
    skipped: bool = False


@dataclass(frozen=True)
class CheckResult:
    name: str
    """``promtool test rules``, ``routing (amtool)``, ``lints``, ..."""
    seconds: float
    findings: tuple[Finding, ...] = ()
    cases: tuple[Case, ...] = ()
    note: str = ""
    """One line for the summary: ``11 files, 64 tests``, or why the check was skipped."""
    skipped: bool = False

    @property
    def status(self) -> CheckStatus:
        if self.skipped:
            return "skipped"
        failed = any(f.severity == "error" for f in self.findings) or any(
            not c.ok and not c.skipped for c in self.cases
        )
        return "failed" if failed else "passed"

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")

    @classmethod
    def skip(cls, name: str, why: str) -> CheckResult:
        return cls(name=name, seconds=0.0, note=why, skipped=True)
