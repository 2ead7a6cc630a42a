"""``within=`` → seconds: a number, a duration string, or "floor" (from the rendered config).

``"floor"`` means the alert's detection floor plus a slack, counted from the
fault mark that started the step: ``fault.inject`` for pending/firing/received/
notified/opened, ``fault.revert`` for resolved. So a chain of waits after one
injection cannot add up to more than floor + slack — the claim under test is
"fault → notification within floor + slack", not "each step within it". Without
a fault mark (the test broke something by hand) the budget counts from now.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from alertdrill.errors import ConfigError
from alertdrill.expect.protocols import DetectionFloorLike
from alertdrill.report.timeline import FAULT_INJECT, FAULT_REVERT, Timeline
from alertdrill.timing import parse_duration

__all__ = [
    "FLOOR",
    "Budget",
    "Phase",
    "Within",
    "firing_floor",
    "floor_seconds",
    "resolve_budget",
    "resolve_window",
]

FLOOR = "floor"
Within = float | str
Phase = Literal["detect", "resolve"]


@dataclass(frozen=True)
class Budget:
    """How long a wait may still take, and how that was decided (for failure messages)."""

    seconds: float
    text: str


def floor_seconds(
    floors: Mapping[str, DetectionFloorLike] | None, alert: str, phase: Phase
) -> float | None:
    """The alert's floor for the phase, None when no floors were given or the alert has none."""
    if floors is None or alert not in floors:
        return None
    floor = floors[alert]
    return floor.total if phase == "detect" else floor.resolve_total


def firing_floor(floors: Mapping[str, DetectionFloorLike] | None, alert: str) -> float | None:
    """The optional ``firing`` floor (see DetectionFloorLike), None when not provided."""
    if floors is None or alert not in floors:
        return None
    value: object = getattr(floors[alert], "firing", None)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def resolve_budget(
    within: Within,
    *,
    alert: str | None,
    phase: Phase,
    floors: Mapping[str, DetectionFloorLike] | None,
    slack: float,
    timeline: Timeline,
) -> Budget:
    if not (isinstance(within, str) and within.strip() == FLOOR):
        seconds = parse_duration(within)
        return Budget(seconds, f"{seconds:g}s")
    if alert is None:
        raise ConfigError('within="floor" needs an alert to take the floor of; pass seconds')
    floor = floor_seconds(floors, alert, phase)
    if floor is None:
        known = ", ".join(sorted(floors)) if floors else "none"
        raise ConfigError(
            f'within="floor": no detection floor for alert {alert!r} (floors known: {known}); '
            "pass seconds or give Expect the rendered config's floors"
        )
    total = floor + slack
    anchor_kind, other = (
        (FAULT_INJECT, FAULT_REVERT) if phase == "detect" else (FAULT_REVERT, FAULT_INJECT)
    )
    anchor = timeline.last(anchor_kind)
    competitor = timeline.last(other)
    if anchor is None or (competitor is not None and competitor.at > anchor.at):
        return Budget(total, f"floor {floor:.3f}s + slack {slack:g}s")
    ago = timeline.now() - anchor.at
    return Budget(
        max(0.0, total - ago),
        f"floor {floor:.3f}s + slack {slack:g}s from {anchor_kind} {anchor.what!r}"
        f" ({ago:.3f}s before this wait)",
    )


def resolve_window(
    during: Within,
    *,
    alert: str | None,
    floors: Mapping[str, DetectionFloorLike] | None,
    slack: float,
) -> Budget:
    """A negative assertion's window: seconds, a duration, or "floor" (floor + slack, from now)."""
    if not (isinstance(during, str) and during.strip() == FLOOR):
        seconds = parse_duration(during)
        return Budget(seconds, f"{seconds:g}s")
    if alert is None:
        raise ConfigError('during="floor" needs an alert; pass seconds')
    floor = floor_seconds(floors, alert, "detect")
    if floor is None:
        raise ConfigError(f'during="floor": no detection floor for alert {alert!r}')
    return Budget(floor + slack, f"floor {floor:.3f}s + slack {slack:g}s")
