"""The JSON report of one test or drill: its outcome, timeline, latencies and floors.

Schema ``alertdrill.report/v1`` (one JSON object; keys are stable, new keys may
be added in v1, removing or changing one means v2)::

    {
      "schema": "alertdrill.report/v1",
      "name": "scenarios/test_errors.py::test_high_error_rate",
      "outcome": "passed" | "failed" | "error" | "skipped",
      "written_at": "2024-05-01T12:00:00.123+00:00",   # ISO 8601, UTC
      "started_at": "...ISO..." | null,                  # wall time of the first event
      "duration": 12.345,                                # first to last event, seconds
      "floors": {"<key>": seconds, ...},                 # as given (see Timeline.latencies)
      "events": [                                        # time order
        {"kind": "alert.firing", "what": "HighErrorRate",
         "offset": 3.012,          # seconds from the first event
         "at": 81234.567,          # time.monotonic() of this run (only comparable within it)
         "wall_time": 1714564800.5,  # epoch seconds
         "details": {"active_at": "...", "floor": 2.75}}  # str | number values
      ],
      "latencies": [                                     # Timeline.latencies()
        {"step": "alert.firing HighErrorRate", "kind": "alert.firing",
         "what": "HighErrorRate", "from": "fault.inject", "from_what": "error_rate",
         "seconds": 3.012, "floor": 2.75 | null}
      ],
      "timeline_text": "...",                            # Timeline.render_text(floors)
      "extra": {...}                                     # caller's JSON (logs paths, profile…)
    }

``read_report`` parses a file back into a ``Report`` (and refuses other schemas).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal, cast

from alertdrill.errors import ConfigError
from alertdrill.report.atomic import write_text_atomic
from alertdrill.report.timeline import (
    Detail,
    Details,
    JsonValue,
    Latency,
    Timeline,
    TimelineEvent,
)

__all__ = ["SCHEMA", "Outcome", "Report", "read_report", "write_report"]

SCHEMA: Final = "alertdrill.report/v1"
Outcome = Literal["passed", "failed", "error", "skipped"]
_OUTCOMES: Final = ("passed", "failed", "error", "skipped")


@dataclass(frozen=True)
class Report:
    """A report read back from disk."""

    name: str
    outcome: Outcome
    written_at: str
    started_at: str | None
    duration: float
    floors: Mapping[str, float]
    events: tuple[TimelineEvent, ...]
    latencies: tuple[Latency, ...]
    timeline_text: str
    extra: Mapping[str, JsonValue]

    def timeline(self) -> Timeline:
        """The events as a ``Timeline`` again (to re-render or measure)."""
        timeline = Timeline(self.name)
        timeline.extend(self.events)
        return timeline


def _iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds")


def write_report(
    path: str | os.PathLike[str],
    *,
    name: str,
    outcome: Outcome,
    timeline: Timeline,
    floors: Mapping[str, float] | None = None,
    extra: Mapping[str, JsonValue] | None = None,
) -> Path:
    """Write the report atomically (a reader never sees half a file); returns the path."""
    if outcome not in _OUTCOMES:
        raise ValueError(f"outcome must be one of {_OUTCOMES}, got {outcome!r}")
    floors = dict(floors or {})
    for key, value in floors.items():
        if not math.isfinite(value):
            raise ValueError(f"floor {key!r} is not a finite number of seconds: {value!r}")
    events = timeline.events
    body = timeline.to_json(floors)
    document: dict[str, JsonValue] = {
        "schema": SCHEMA,
        "name": name,
        "outcome": outcome,
        "written_at": _iso(datetime.now(UTC).timestamp()),
        "started_at": _iso(events[0].wall_time) if events else None,
        "duration": round(events[-1].at - events[0].at, 6) if events else 0.0,
        "floors": dict(floors.items()),
        "events": body["events"],
        "latencies": body["latencies"],
        "timeline_text": timeline.render_text(floors),
        "extra": dict(extra or {}),
    }
    # allow_nan=False: NaN/Infinity are not JSON, and a report other tools cannot read is useless.
    text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    return write_text_atomic(Path(path), text)


def read_report(path: str | os.PathLike[str]) -> Report:
    """Parse a report written by ``write_report``; ConfigError if it is not one."""
    where = os.fspath(path)
    try:
        raw: object = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot read report: {error}", path=where) from error
    doc = _object(raw, "report", where)
    if doc.get("schema") != SCHEMA:
        raise ConfigError(f"not an {SCHEMA} report (schema={doc.get('schema')!r})", path=where)
    outcome = doc.get("outcome")
    if outcome not in _OUTCOMES:
        raise ConfigError(f"unknown outcome {outcome!r}", path=where)
    started = doc.get("started_at")
    floors = {
        key: _number(value, f"floors.{key}", where)
        for key, value in _object(doc.get("floors", {}), "floors", where).items()
    }
    return Report(
        name=_text(doc.get("name"), "name", where),
        outcome=outcome,
        written_at=_text(doc.get("written_at"), "written_at", where),
        started_at=None if started is None else _text(started, "started_at", where),
        duration=_number(doc.get("duration"), "duration", where),
        floors=floors,
        events=tuple(
            _event(item, f"events[{i}]", where)
            for i, item in enumerate(_list(doc.get("events"), "events", where))
        ),
        latencies=tuple(
            _latency(item, f"latencies[{i}]", where)
            for i, item in enumerate(_list(doc.get("latencies"), "latencies", where))
        ),
        timeline_text=_text(doc.get("timeline_text"), "timeline_text", where),
        extra=cast("dict[str, JsonValue]", _object(doc.get("extra", {}), "extra", where)),
    )


# -- parsing helpers ------------------------------------------------------------


def _object(value: object, what: str, where: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ConfigError(f"{what}: expected an object, got {type(value).__name__}", path=where)
    return cast("dict[str, object]", value)


def _list(value: object, what: str, where: str) -> list[object]:
    if not isinstance(value, list):
        raise ConfigError(f"{what}: expected a list, got {type(value).__name__}", path=where)
    return cast("list[object]", value)


def _text(value: object, what: str, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{what}: expected a string, got {value!r}", path=where)
    return value


def _number(value: object, what: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{what}: expected a number, got {value!r}", path=where)
    return float(value)


def _detail(value: object, what: str, where: str) -> Detail:
    # bool is an int to the type checker, so scenarios mark flags (told=True): keep them.
    if not isinstance(value, str | int | float):
        raise ConfigError(
            f"{what}: expected a string, number or boolean, got {value!r}", path=where
        )
    return value


def _event(item: object, what: str, where: str) -> TimelineEvent:
    raw = _object(item, what, where)
    details = _object(raw.get("details", {}), f"{what}.details", where)
    return TimelineEvent(
        kind=_text(raw.get("kind"), f"{what}.kind", where),
        what=_text(raw.get("what"), f"{what}.what", where),
        at=_number(raw.get("at"), f"{what}.at", where),
        wall_time=_number(raw.get("wall_time"), f"{what}.wall_time", where),
        details=Details({k: _detail(v, f"{what}.details.{k}", where) for k, v in details.items()}),
    )


def _latency(item: object, what: str, where: str) -> Latency:
    raw = _object(item, what, where)
    floor = raw.get("floor")
    return Latency(
        step=_text(raw.get("step"), f"{what}.step", where),
        kind=_text(raw.get("kind"), f"{what}.kind", where),
        what=_text(raw.get("what"), f"{what}.what", where),
        anchor=_text(raw.get("from"), f"{what}.from", where),
        anchor_what=_text(raw.get("from_what"), f"{what}.from_what", where),
        seconds=_number(raw.get("seconds"), f"{what}.seconds", where),
        floor=None if floor is None else _number(floor, f"{what}.floor", where),
    )
