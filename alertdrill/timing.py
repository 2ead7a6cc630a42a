"""Deadlines, durations, and the one sanctioned polling loop.

Every wait in alertdrill is bounded by a ``Deadline`` on the monotonic clock
(wall-clock jumps must not stretch or cut a wait), and every "wait until X" is
``eventually(...)``, so timeouts fail the same way everywhere: with the last
thing observed and how long was waited.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from alertdrill.errors import ExpectationFailed

__all__ = ["Deadline", "eventually", "parse_duration"]

T = TypeVar("T")

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
# One or more number+unit pairs, so Prometheus-style "1m30s" parses too.
_PART = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h|d)")
_WHOLE = re.compile(r"(?:(?:\d+(?:\.\d+)?|\.\d+)(?:ms|s|m|h|d))+")


@dataclass(frozen=True)
class Deadline:
    """A point in monotonic time; ``Deadline.after(5)`` expires five seconds from now."""

    started: float
    expires: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        if seconds < 0 or math.isnan(seconds):
            raise ValueError(f"a deadline needs a non-negative number of seconds, got {seconds}")
        now = time.monotonic()
        return cls(started=now, expires=now + seconds)

    @property
    def seconds(self) -> float:
        """The total budget this deadline was created with."""
        return self.expires - self.started

    def remaining(self) -> float:
        return max(0.0, self.expires - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.expires

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def parse_duration(value: str | float) -> float:
    """Seconds from ``"250ms"``, ``"1.5s"``, ``"2m"``, ``"1h"``, ``"1m30s"`` or a number.

    A bare number (or numeric string) is already seconds. Raises ``ValueError``
    on anything else, including negative or non-finite values.
    """
    if isinstance(value, bool):  # bool is an int; True seconds is surely a bug
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if _WHOLE.fullmatch(text):
            seconds = sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(text))
        else:
            try:
                seconds = float(text)
            except ValueError:
                raise ValueError(
                    f"not a duration: {value!r} (use e.g. 250ms, 1.5s, 2m, 1h)"
                ) from None
    else:
        raise ValueError(f"not a duration: {value!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"a duration must be finite and non-negative, got {value!r}")
    return seconds


def eventually(
    check: Callable[[], T | None],
    *,
    within: float | str,
    every: float | str = 0.05,
    what: str,
) -> T:
    """Poll ``check`` until it returns a truthy value, and return that value.

    A falsy result or an exception both mean "not yet"; on timeout this raises
    ``ExpectationFailed`` carrying the last result (or the last exception,
    which is also chained as ``__cause__``) and the elapsed time. ``check``
    runs at least once, and once more at the deadline.
    """
    budget = parse_duration(within)
    interval = parse_duration(every)
    if interval <= 0:
        raise ValueError("every must be positive")
    deadline = Deadline.after(budget)
    last_observation: object = None
    last_error: Exception | None = None
    polls = 0
    while True:
        polls += 1
        try:
            result = check()
        except Exception as error:  # the check's failure is an observation, not an outcome
            last_error = error
            last_observation = error
        else:
            if result:
                return result
            last_error = None
            last_observation = result
        if deadline.expired():
            raise ExpectationFailed(
                f"{what}: not true within {budget:g}s ({polls} polls)",
                last_observation=last_observation,
                elapsed=deadline.elapsed(),
            ) from last_error
        # The one sanctioned sleep in alertdrill: the thing being waited for
        # lives in another process, so polling is the only way to see it, and
        # the sleep never overshoots the deadline.
        time.sleep(min(interval, deadline.remaining()))
