"""The per-test timeline: every arrow of the chain as a timestamp, and the latencies between them.

A ``Timeline`` collects ``TimelineEvent``s from every part of a test: the fault
helpers mark ``fault.inject``/``fault.revert``, the expectations mark what they
saw (``alert.firing``, each ``notification``, ``incident.opened`` …). Times are
on the monotonic clock (``at``), so latencies are immune to wall-clock jumps;
each event also keeps the wall time it corresponds to, for reports.

Kinds (use these names; ``latencies()`` and the renderers rely on them):

    fault.inject  fault.revert                      what = the fault ("error_rate", "stop postgres")
    alert.pending alert.firing alert.resolved       what = alertname (Prometheus)
    am.received                                     what = alertname (Alertmanager)
    notification                                    what = receiver id ("slack:#alerts-critical"),
                                                    details alert=, status= firing|resolved
    incident.opened incident.resolved               what = alertname, details id=
    expectation                                     what = the expectation, details outcome=
    note                                            anything else worth seeing on failure

The detail ``floor`` (seconds) is reserved: it is the detection floor of the
step from its fault mark, computed from the rendered config, and is shown next
to the measured latency.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Protocol, TypeAlias

__all__ = [
    "ALERT_FIRING",
    "ALERT_PENDING",
    "ALERT_RESOLVED",
    "AM_RECEIVED",
    "EXPECTATION",
    "FAULT_INJECT",
    "FAULT_REVERT",
    "INCIDENT_OPENED",
    "INCIDENT_RESOLVED",
    "KINDS",
    "NOTE",
    "NOTIFICATION",
    "Detail",
    "Details",
    "FaultEventLike",
    "JsonValue",
    "Latency",
    "Timeline",
    "TimelineEvent",
]

Detail: TypeAlias = str | float | int
JsonValue: TypeAlias = str | int | float | bool | list["JsonValue"] | dict[str, "JsonValue"] | None

FAULT_INJECT: Final = "fault.inject"
FAULT_REVERT: Final = "fault.revert"
ALERT_PENDING: Final = "alert.pending"
ALERT_FIRING: Final = "alert.firing"
ALERT_RESOLVED: Final = "alert.resolved"
AM_RECEIVED: Final = "am.received"
NOTIFICATION: Final = "notification"
INCIDENT_OPENED: Final = "incident.opened"
INCIDENT_RESOLVED: Final = "incident.resolved"
EXPECTATION: Final = "expectation"
NOTE: Final = "note"
KINDS: Final = (
    FAULT_INJECT,
    FAULT_REVERT,
    ALERT_PENDING,
    ALERT_FIRING,
    ALERT_RESOLVED,
    AM_RECEIVED,
    NOTIFICATION,
    INCIDENT_OPENED,
    INCIDENT_RESOLVED,
    EXPECTATION,
    NOTE,
)

# Steps measured from the fault being injected, and steps measured from it being reverted.
_FROM_INJECT = frozenset({ALERT_PENDING, ALERT_FIRING, AM_RECEIVED, INCIDENT_OPENED})
_FROM_REVERT = frozenset({ALERT_RESOLVED, INCIDENT_RESOLVED})


class FaultEventLike(Protocol):
    """One line of the faults' journal (``alertdrill.faults.FaultEvent``)."""

    @property
    def fault(self) -> str: ...
    @property
    def action(self) -> str: ...  # inject | inject-failed | revert | revert-failed
    @property
    def at_monotonic(self) -> float: ...
    @property
    def detail(self) -> str: ...


class Details(Mapping[str, Detail]):
    """An immutable mapping of an event's details, in the order they were given."""

    __slots__ = ("_data",)

    def __init__(self, items: Mapping[str, Detail] | None = None) -> None:
        self._data: dict[str, Detail] = dict(items or {})

    def __getitem__(self, key: str) -> Detail:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(tuple(self._data.items()))

    def __repr__(self) -> str:
        return f"Details({self._data!r})"


@dataclass(frozen=True)
class TimelineEvent:
    kind: str
    what: str
    at: float  # time.monotonic() of the moment it happened (not when it was noticed)
    wall_time: float  # the matching time.time(), for humans and reports
    details: Details = field(default_factory=Details)

    @property
    def floor(self) -> float | None:
        value = self.details.get("floor")
        return float(value) if isinstance(value, int | float) else None

    @property
    def step(self) -> str:
        """``"<kind> <what>"``, plus the status of a notification: the key of a latency."""
        status = self.details.get("status") if self.kind == NOTIFICATION else None
        suffix = f" ({status})" if status else ""
        return f"{self.kind} {self.what}{suffix}"


@dataclass(frozen=True)
class Latency:
    """How long one step took from the fault mark that caused it."""

    step: str  # "alert.firing HighErrorRate", "notification slack:#alerts-critical (firing)"
    kind: str
    what: str
    anchor: str  # FAULT_INJECT or FAULT_REVERT
    anchor_what: str  # which fault
    seconds: float
    floor: float | None

    @property
    def over_floor(self) -> float | None:
        return None if self.floor is None else self.seconds - self.floor


def _anchor_kind(event: TimelineEvent) -> str | None:
    if event.kind in _FROM_INJECT:
        return FAULT_INJECT
    if event.kind in _FROM_REVERT:
        return FAULT_REVERT
    if event.kind == NOTIFICATION:
        return FAULT_REVERT if event.details.get("status") == "resolved" else FAULT_INJECT
    return None


class Timeline:
    """Thread-safe: receivers, fault helpers and the test thread all mark the same timeline."""

    def __init__(
        self,
        name: str = "",
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._events: list[TimelineEvent] = []
        self._synced: set[tuple[str, str, float]] = set()

    # -- recording -------------------------------------------------------------

    def now(self) -> float:
        return self._clock()

    def monotonic_from_wall(self, wall: datetime | float) -> float:
        """The monotonic time of a wall-clock instant (e.g. Prometheus' activeAt).

        Assumes the instant was stamped by a clock on this machine (the local
        stack), so the current monotonic/wall offset applies.
        """
        seconds = wall.timestamp() if isinstance(wall, datetime) else float(wall)
        return self._clock() - (self._wall_clock() - seconds)

    def mark(
        self, kind: str, what: str, /, *, at: float | None = None, **details: Detail
    ) -> TimelineEvent:
        """Record that ``what`` happened ``at`` (monotonic; default: now)."""
        return self.record(kind, what, details, at=at)

    def record(
        self, kind: str, what: str, details: Mapping[str, Detail], *, at: float | None = None
    ) -> TimelineEvent:
        """``mark`` with the details as a mapping (when they are built up first)."""
        mono_now, wall_now = self._clock(), self._wall_clock()
        moment = mono_now if at is None else at
        event = TimelineEvent(
            kind=kind,
            what=what,
            at=moment,
            wall_time=wall_now - (mono_now - moment),
            # NaN/inf are not JSON: keep them as text so a report can always be written.
            details=Details(
                {
                    k: (str(v) if isinstance(v, float) and not math.isfinite(v) else v)
                    for k, v in details.items()
                }
            ),
        )
        with self._lock:
            self._events.append(event)
        return event

    def sync_faults(self, events: Iterable[FaultEventLike]) -> int:
        """Mark the faults' journal lines not marked yet; returns how many were new.

        inject → ``fault.inject``, revert → ``fault.revert`` (at the journal's own
        time), a failed inject or revert → ``note``. Idempotent, so it can run
        before every wait and again before a report is written.
        """
        added = 0
        for event in events:
            key = (event.fault, event.action, event.at_monotonic)
            with self._lock:
                if key in self._synced:
                    continue
                self._synced.add(key)
            kind = {"inject": FAULT_INJECT, "revert": FAULT_REVERT}.get(event.action)
            details: dict[str, Detail] = {"detail": event.detail} if event.detail else {}
            if kind is None:
                self.record(NOTE, f"{event.fault} {event.action}", details, at=event.at_monotonic)
            else:
                self.record(kind, event.fault, details, at=event.at_monotonic)
            added += 1
        return added

    def extend(self, events: tuple[TimelineEvent, ...]) -> None:
        """Add events recorded elsewhere (a report being read back, a subprocess)."""
        with self._lock:
            self._events.extend(events)

    # -- reading ---------------------------------------------------------------

    @property
    def events(self) -> tuple[TimelineEvent, ...]:
        """Every event in time order (events marked with an earlier ``at`` sort earlier)."""
        with self._lock:
            snapshot = list(self._events)
        return tuple(sorted(snapshot, key=lambda e: e.at))  # stable: ties keep mark order

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)

    def first(self, kind: str, what: str | None = None) -> TimelineEvent | None:
        return next(
            (e for e in self.events if e.kind == kind and (what is None or e.what == what)), None
        )

    def last(self, kind: str, what: str | None = None) -> TimelineEvent | None:
        return next(
            (
                e
                for e in reversed(self.events)
                if e.kind == kind and (what is None or e.what == what)
            ),
            None,
        )

    def since(self, kind: str) -> float | None:
        """Seconds since the latest event of ``kind`` (None if there was none)."""
        event = self.last(kind)
        return None if event is None else self._clock() - event.at

    # -- latencies ---------------------------------------------------------------

    def latencies(self, floors: Mapping[str, float] | None = None) -> tuple[Latency, ...]:
        """Each step's latency from the fault mark that caused it.

        fault.inject → alert.pending, alert.firing, am.received, firing notifications,
        incident.opened; fault.revert → alert.resolved, resolved notifications,
        incident.resolved. The anchor is the latest fault mark before the step,
        and only when that mark is of the right kind: a firing seen after a
        revert belongs to no injection. The floor is the event's own ``floor``
        detail, else ``floors["<kind> <what>"]``, else ``floors["<kind>"]``.
        """
        return tuple(latency for _, latency in _measure(self.events, floors))

    # -- rendering ---------------------------------------------------------------

    def render_text(self, floors: Mapping[str, float] | None = None) -> str:
        """A table: offset from the first event, kind, what, latency (floor), details."""
        events = self.events
        title = f"timeline {self.name}".rstrip()
        if not events:
            return f"{title}: (no events)"
        t0 = events[0]
        started = datetime.fromtimestamp(t0.wall_time, UTC).isoformat(timespec="milliseconds")
        by_event = {id(e): lat for e, lat in _measure(events, floors)}
        rows: list[tuple[str, str, str, str, str]] = []
        for event in events:
            latency = by_event.get(id(event))
            rows.append(
                (
                    f"+{event.at - t0.at:.3f}s",
                    event.kind,
                    event.what,
                    _latency_text(latency) if latency is not None else "",
                    _details_text(event.details),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines = [f"{title} (t0 = {started})"]
        for row in rows:
            cells = [
                row[i].rjust(widths[i]) if i == 0 else row[i].ljust(widths[i]) for i in range(4)
            ]
            lines.append("  ".join([*cells, row[4]]).rstrip())
        return "\n".join(lines)

    def to_json(self, floors: Mapping[str, float] | None = None) -> dict[str, JsonValue]:
        """Events and latencies as plain JSON values (see report.journal for the schema)."""
        events = self.events
        t0 = events[0].at if events else 0.0
        return {
            "name": self.name,
            "events": [
                {
                    "kind": e.kind,
                    "what": e.what,
                    "offset": round(e.at - t0, 6),
                    "at": e.at,
                    "wall_time": e.wall_time,
                    "details": dict(e.details),
                }
                for e in events
            ],
            "latencies": [
                {
                    "step": lat.step,
                    "kind": lat.kind,
                    "what": lat.what,
                    "from": lat.anchor,
                    "from_what": lat.anchor_what,
                    "seconds": lat.seconds,
                    "floor": lat.floor,
                }
                for lat in self.latencies(floors)
            ],
        }


def _floor_of(event: TimelineEvent, floors: Mapping[str, float] | None) -> float | None:
    if event.floor is not None:
        return event.floor
    if floors is None:
        return None
    for key in (event.step, f"{event.kind} {event.what}", event.kind):
        if key in floors:
            return floors[key]
    return None


def _measure(
    events: tuple[TimelineEvent, ...], floors: Mapping[str, float] | None
) -> list[tuple[TimelineEvent, Latency]]:
    """Pair each anchored event (in time order) with its latency."""
    result: list[tuple[TimelineEvent, Latency]] = []
    latest_fault: TimelineEvent | None = None
    for event in events:
        if event.kind in (FAULT_INJECT, FAULT_REVERT):
            latest_fault = event
            continue
        wanted = _anchor_kind(event)
        if wanted is None or latest_fault is None or latest_fault.kind != wanted:
            continue
        latency = Latency(
            step=event.step,
            kind=event.kind,
            what=event.what,
            anchor=latest_fault.kind,
            anchor_what=latest_fault.what,
            seconds=event.at - latest_fault.at,
            floor=_floor_of(event, floors),
        )
        result.append((event, latency))
    return result


def _latency_text(latency: Latency) -> str:
    origin = "fault" if latency.anchor == FAULT_INJECT else "revert"
    text = f"{origin}→{latency.seconds:.3f}s"
    if latency.floor is not None:
        text += f" (floor {latency.floor:.3f}s)"
    return text


def _details_text(details: Details) -> str:
    parts = []
    for key, value in details.items():
        if key == "floor":
            continue  # shown with the latency
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        parts.append(f"{key}={shown}")
    return " ".join(parts)
