"""Detection latency per alert across a run: fault → pending → firing → first notification →
incident, and revert → all-clear, against each alert's floor.

Each drill's timeline yields ``LatencySample``s (``samples()``); a ``LatencyTable`` collects
them from every drill of a run (the pytest plugin feeds it, across xdist workers too) and
renders the end-of-run table and ``reports/latency.json``. The samples are plain JSON, so
later reports (a game-day summary, a trend over runs) can read the same file.

Which fault caused a step. A step counts only when its cause is unambiguous: a detection step
(pending, firing, notification, incident) when the latest fault mark before it is an inject
and that fault is the only one injected at that moment; a resolution step (the all-clear
notification) when the latest fault mark is a revert and nothing is
injected any more. Drills with overlapping faults (grouping, inhibition, restarts under an
alert) still report their own timelines; they just do not feed this table. Nor does a drill
that holds delivery back on purpose (a silence): it marks its timeline with a ``note`` named
``EXCLUDED``.

Floors. A sample's floor is the alert's configured floor plus the time its fault needs to
reach the metric, when the drill knows it (``alertdrill.stack.floors.SignalDelay``): the drill
marks a ``note`` named ``SIGNAL`` with details ``alert``, ``detect`` and ``resolve`` (seconds)
before injecting (``signal_note()``), and ``signal`` records the detect part.

Schema ``alertdrill.latency/v1``::

    {"schema": "alertdrill.latency/v1", "written_at": "...ISO...",
     "alerts": [{"alert": "HighErrorRate", "samples": 3, "floor": 2.85, "resolve_floor": 5.85,
                 "signal": 0.0,                             # included in floor; null = none
                 "pending": 0.41, "firing": 2.62, "notification": 2.64, "incident": 2.70,
                 "resolved_notification": 4.10}],          # medians, seconds; null = not seen
     "samples": [{"test": "...", "alert": "...", "fault": "error_rate", ...same keys...}]}
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Protocol

from alertdrill.report.atomic import write_text_atomic
from alertdrill.report.timeline import (
    ALERT_FIRING,
    ALERT_PENDING,
    FAULT_INJECT,
    FAULT_REVERT,
    INCIDENT_OPENED,
    NOTE,
    NOTIFICATION,
    JsonValue,
    Timeline,
    TimelineEvent,
)

__all__ = [
    "EXCLUDED",
    "SCHEMA",
    "SIGNAL",
    "FloorLike",
    "LatencySample",
    "LatencyTable",
    "samples",
    "samples_json",
    "signal_note",
]

SCHEMA: Final = "alertdrill.latency/v1"
#: ``timeline.mark(NOTE, EXCLUDED, why=...)``: this drill's latencies are not detection
#: latencies (it delays or suppresses delivery on purpose).
EXCLUDED: Final = "not a detection-latency sample"
#: ``timeline.mark(NOTE, SIGNAL, **signal_note(alert, detect, resolve, why))``: this drill's
#: fault needs ``detect``/``resolve`` seconds to reach the alert's metric (see floors.py).
SIGNAL: Final = "fault-to-metric signal delay"
# The measured columns, in table order; each is seconds from the fault mark, or None.
_MEASURES: Final = ("pending", "firing", "notification", "incident", "resolved_notification")


class FloorLike(Protocol):
    """``alertdrill.stack.floors.DetectionFloor`` as far as this module reads it."""

    @property
    def total(self) -> float: ...
    @property
    def resolve_total(self) -> float: ...


@dataclass(frozen=True)
class LatencySample:
    """One alert in one drill: seconds from its fault (None: not observed by the drill)."""

    test: str
    alert: str
    fault: str
    floor: float | None
    resolve_floor: float | None
    signal: float | None = None
    """The fault-to-metric part of ``floor`` (None: the drill gave none)."""
    pending: float | None = None
    firing: float | None = None
    notification: float | None = None
    """To the first firing notification, whichever receiver got it first."""
    incident: float | None = None
    resolved_notification: float | None = None
    """From the revert to the first resolved notification."""

    def to_json(self) -> dict[str, JsonValue]:
        return {k: _round(v) if isinstance(v, float) else v for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, raw: Mapping[str, object]) -> LatencySample:
        """Parse one sample; ValueError when it is not one."""
        values: dict[str, str | float | None] = {}
        for f in fields(cls):
            value = raw.get(f.name)
            if f.name in ("test", "alert", "fault"):
                if not isinstance(value, str):
                    raise ValueError(f"latency sample: {f.name} must be a string, got {value!r}")
                values[f.name] = value
            elif value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
                values[f.name] = None if value is None else float(value)
            else:
                raise ValueError(f"latency sample: {f.name} must be a number, got {value!r}")
        return cls(**values)  # type: ignore[arg-type]  # keys and types checked above


def signal_note(alert: str, detect: float, resolve: float, why: str) -> dict[str, str | float]:
    """The details of a ``SIGNAL`` note (see the module docstring)."""
    return {"alert": alert, "detect": detect, "resolve": resolve, "why": why}


def _signals(events: Sequence[TimelineEvent]) -> dict[str, tuple[float, float]]:
    """(detect, resolve) per alert from the drill's SIGNAL notes; the latest note wins."""
    found: dict[str, tuple[float, float]] = {}
    for event in events:
        if event.kind != NOTE or event.what != SIGNAL:
            continue
        alert, detect, resolve = (event.details.get(k) for k in ("alert", "detect", "resolve"))
        if not isinstance(alert, str):
            raise ValueError(f"{SIGNAL} note without an alert: {dict(event.details)}")
        if not isinstance(detect, int | float) or not isinstance(resolve, int | float):
            raise ValueError(f"{SIGNAL} note without detect/resolve seconds: {event.details}")
        found[alert] = (float(detect), float(resolve))
    return found


def samples(
    test: str, timeline: Timeline, floors: Mapping[str, FloorLike]
) -> tuple[LatencySample, ...]:
    """The unambiguous latency samples of one drill's timeline (see the module docstring)."""
    events = timeline.events
    if any(e.kind == NOTE and e.what == EXCLUDED for e in events):
        return ()
    signals = _signals(events)
    found: dict[str, dict[str, float]] = {}
    causes: dict[str, str] = {}
    injected: list[str] = []  # faults injected now, in order
    last_mark: TimelineEvent | None = None
    for event in events:
        if event.kind == FAULT_INJECT:
            injected.append(event.what)
            last_mark = event
            continue
        if event.kind == FAULT_REVERT:
            if event.what in injected:
                injected.remove(event.what)
            last_mark = event
            continue
        step = _step(event)
        if step is None or last_mark is None:
            continue
        measure, alert = step
        resolving = measure == "resolved_notification"
        if resolving:
            # The all-clear of the fault that caused the alert, nothing else still injected.
            if last_mark.kind != FAULT_REVERT or injected or last_mark.what != causes.get(alert):
                continue
        else:
            # The latest mark is an inject, and that fault is the only one in place.
            if last_mark.kind != FAULT_INJECT or injected != [last_mark.what]:
                continue
            if causes.setdefault(alert, last_mark.what) != last_mark.what:
                continue
        seen = found.setdefault(alert, {})
        if measure not in seen:  # the first of each: the first notification, not the last
            seen[measure] = event.at - last_mark.at
    result: list[LatencySample] = []
    for alert, seen in sorted(found.items()):
        floor = floors.get(alert)
        signal = signals.get(alert)
        detect, resolve = signal or (0.0, 0.0)
        result.append(
            LatencySample(
                test=test,
                alert=alert,
                fault=causes.get(alert, ""),
                floor=None if floor is None else _round(floor.total + detect),
                resolve_floor=None if floor is None else _round(floor.resolve_total + resolve),
                signal=None if signal is None else detect,
                **{m: seen.get(m) for m in _MEASURES},
            )
        )
    return tuple(result)


def _step(event: TimelineEvent) -> tuple[str, str] | None:
    """(measure, alert) of a timeline event this table counts, or None."""
    if event.kind == ALERT_PENDING:
        return "pending", event.what
    if event.kind == ALERT_FIRING:
        return "firing", event.what
    if event.kind == INCIDENT_OPENED:
        return "incident", event.what
    if event.kind == NOTIFICATION:
        alert = event.details.get("alert")
        if not isinstance(alert, str):
            return None
        status = event.details.get("status")
        if status == "firing":
            return "notification", alert
        if status == "resolved":
            return "resolved_notification", alert
    return None


class LatencyTable:
    """Samples of a whole run, aggregated per alert (medians)."""

    def __init__(self) -> None:
        self._samples: list[LatencySample] = []

    def add(self, new: Iterable[LatencySample]) -> None:
        self._samples.extend(new)

    def add_json(self, text: str) -> None:
        """Samples as ``samples_json`` wrote them (what crosses from an xdist worker)."""
        raw: object = json.loads(text)
        if not isinstance(raw, list):
            raise ValueError("latency samples: expected a JSON list")
        self.add(LatencySample.from_json(item) for item in raw if isinstance(item, dict))

    @property
    def samples(self) -> tuple[LatencySample, ...]:
        return tuple(self._samples)

    def __len__(self) -> int:
        return len(self._samples)

    def summary(self) -> list[dict[str, JsonValue]]:
        """One row per alert: floors and the median of each measure over its samples."""
        rows: list[dict[str, JsonValue]] = []
        for alert in sorted({s.alert for s in self._samples}):
            mine = [s for s in self._samples if s.alert == alert]
            row: dict[str, JsonValue] = {
                "alert": alert,
                "samples": len(mine),
                # Medians like the measures: drills of one alert may differ in their signal
                # (a load scenario gives none), and floor = configured floor + signal must
                # hold in the row as it does in every sample.
                "floor": _median([s.floor for s in mine]),
                "resolve_floor": _median([s.resolve_floor for s in mine]),
                "signal": _signal_median(mine),
            }
            for measure in _MEASURES:
                row[measure] = _median([getattr(s, measure) for s in mine])
            rows.append(row)
        return rows

    def render_text(self) -> str:
        header = (
            "alert",
            "floor",
            "(signal)",
            "→pending",
            "→firing",
            "→1st notif",
            "→incident",
            "resolve floor",
            "→all-clear",
            "n",
        )
        keys = (
            "alert",
            "floor",
            "signal",
            "pending",
            "firing",
            "notification",
            "incident",
            "resolve_floor",
            "resolved_notification",
            "samples",
        )
        rows = [header] + [tuple(_cell(row[k]) for k in keys) for row in self.summary()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines = [
            "  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r))
            for r in rows
        ]
        note = (
            "seconds, medians over n drills; → from the fault's injection, all-clear from its "
            "revert (first resolved notification); '-' = not observed; floors include the "
            "fault's own time to reach the metric (signal), where the drill gives it"
        )
        return "\n".join([note, *lines])

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "schema": SCHEMA,
            "written_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "alerts": list(self.summary()),
            "samples": [s.to_json() for s in self._samples],
        }

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write ``to_json()`` atomically; returns the path."""
        text = json.dumps(self.to_json(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        return write_text_atomic(Path(path), text)


def samples_json(found: Sequence[LatencySample]) -> str:
    """What ``LatencyTable.add_json`` reads."""
    return json.dumps([s.to_json() for s in found], allow_nan=False)


def _round(value: float) -> float:
    return round(value, 3)


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return _round(statistics.median(present)) if present else None


def _signal_median(samples: Sequence[LatencySample]) -> float | None:
    """Median signal over samples with a floor, a drill without one counting 0; None when no
    drill of the alert gave one."""
    if all(s.signal is None for s in samples):
        return None
    return _median([s.signal or 0.0 for s in samples if s.floor is not None])


def _cell(value: JsonValue) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)
