"""The journal of one drill run: every step with its phase, timing, observation and verdict.

Steps are recorded from several threads (the method's, the steady-state watcher's, the
expectations'), so the journal is locked; it also prints the live progress lines.

In the report (``alertdrill.report/v1``, key ``extra``; the HTML report reads these names)::

    "drill":   {"title", "description", "file"}
    "verdict": "passed" | "failed"
    "steps":   [{"name", "phase", "offset", "seconds", "passed", "observation", "error"}]
               phase: steady-state-before | method | expectation | rollback |
                      steady-state-after; offset: seconds from the start of the run
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from alertdrill.report.timeline import JsonValue

__all__ = ["Journal", "Phase", "Progress", "StepRecord"]

Phase = Literal["steady-state-before", "method", "expectation", "rollback", "steady-state-after"]
Progress = Callable[[str], None]
# An error message in the journal stays readable: the first lines say what failed.
_MAX_ERROR_CHARS = 4000


@dataclass(frozen=True)
class StepRecord:
    name: str
    phase: Phase
    offset: float
    seconds: float
    passed: bool
    observation: str = ""
    error: str = ""

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "name": self.name,
            "phase": self.phase,
            "offset": round(self.offset, 3),
            "seconds": round(self.seconds, 3),
            "passed": self.passed,
            "observation": self.observation,
            "error": self.error,
        }


class Journal:
    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._lock = threading.Lock()
        self._steps: list[StepRecord] = []
        self.started = time.monotonic()
        self.started_wall = time.time()

    def offset(self, at: float | None = None) -> float:
        return (time.monotonic() if at is None else at) - self.started

    def say(self, line: str) -> None:
        with self._lock:
            self._progress(line)

    def record(
        self,
        name: str,
        phase: Phase,
        began: float,
        *,
        passed: bool,
        observation: str = "",
        error: str = "",
    ) -> StepRecord:
        """A step that began at ``began`` (monotonic) and ends now."""
        seconds = time.monotonic() - began
        if len(error) > _MAX_ERROR_CHARS:
            error = error[:_MAX_ERROR_CHARS] + "…"
        step = StepRecord(name, phase, self.offset(began), seconds, passed, observation, error)
        mark = "✓" if passed else "✗"
        detail = f" — {observation}" if observation else ""
        first_error = error.splitlines()[0] if error else ""
        with self._lock:
            self._steps.append(step)
            self._progress(f"  {mark} {name} ({seconds:.2f}s){detail}")
            if not passed and first_error:
                self._progress(f"      {first_error}")
        return step

    @property
    def steps(self) -> tuple[StepRecord, ...]:
        """In the order they began (a step is recorded when it ends: a fault held through
        the expectations ends after them)."""
        with self._lock:
            return tuple(sorted(self._steps, key=lambda s: s.offset))

    def passed(self) -> bool:
        steps = self.steps
        return bool(steps) and all(s.passed for s in steps)
