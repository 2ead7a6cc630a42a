"""Inline SVG for the HTML report: the drill's swimlanes and the key-metric plot.

Plain strings, no plotting library and no script: the report must open from a CI artifact on
a machine without network. Both charts share one ``Axis`` (seconds from the report's first
event), so the fault window, the alert bars and the metric line up vertically on the page.
Every piece of text that came from a test, a receiver or Prometheus is escaped here.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Final, TypeAlias

from alertdrill.report.series import MetricSeries
from alertdrill.report.timeline import (
    ALERT_FIRING,
    ALERT_PENDING,
    ALERT_RESOLVED,
    AM_RECEIVED,
    EXPECTATION,
    FAULT_INJECT,
    FAULT_REVERT,
    INCIDENT_OPENED,
    INCIDENT_RESOLVED,
    NOTIFICATION,
    TimelineEvent,
)

__all__ = [
    "Axis",
    "Window",
    "fault_windows",
    "make_axis",
    "plot_svg",
    "series_color",
    "timeline_svg",
]

WIDTH: Final = 960
LEFT: Final = 210  # room for lane labels ("→ pagerduty:0123456789abcdef…")
RIGHT: Final = 24
LANE: Final = 24
_LABEL_CHARS: Final = 32
_PALETTE: Final = ("#1f6feb", "#8250df", "#bf8700", "#1a7f37", "#cf222e", "#0a7ea4", "#6e7781")
_FAULT_FILL: Final = "#f6c4c4"
_COLORS: Final = {
    "fault": "#cf222e",
    "pending": "#d4a72c",
    "firing": "#cf222e",
    "resolved": "#1a7f37",
    "am": "#6e7781",
    "incident": "#8250df",
    "failed": "#cf222e",
}

_Lane: TypeAlias = Callable[[str], list[str]]  # the drawing items of the lane with this label
_Row: TypeAlias = Callable[[str], float]  # the y of the lane with this label


@dataclass(frozen=True)
class Axis:
    """Seconds from t0 mapped onto the drawing width."""

    start: float
    end: float

    def x(self, seconds: float) -> float:
        span = self.end - self.start
        return LEFT + (seconds - self.start) / span * (WIDTH - LEFT - RIGHT)


@dataclass(frozen=True)
class Window:
    """A fault in place: from its inject mark to its revert (None: never reverted)."""

    what: str
    start: float
    end: float | None


def make_axis(seconds: Iterable[float]) -> Axis:
    """An axis covering every time given, padded a little, at least one second wide."""
    times = [t for t in seconds if math.isfinite(t)]
    if not times:
        return Axis(0.0, 1.0)
    lo, hi = min(times), max(times)
    pad = max((hi - lo) * 0.02, 0.25)
    return Axis(lo - pad, max(hi + pad, lo - pad + 1.0))


def fault_windows(events: Sequence[TimelineEvent]) -> tuple[Window, ...]:
    """Each inject paired with the next revert of the same fault, in seconds from t0."""
    if not events:
        return ()
    t0 = events[0].at
    open_: dict[str, float] = {}
    windows: list[Window] = []
    for event in events:
        if event.kind == FAULT_INJECT:
            open_.setdefault(event.what, event.at - t0)
        elif event.kind == FAULT_REVERT and event.what in open_:
            windows.append(Window(event.what, open_.pop(event.what), event.at - t0))
    windows.extend(Window(what, start, None) for what, start in open_.items())
    return tuple(sorted(windows, key=lambda w: w.start))


def series_color(index: int) -> str:
    return _PALETTE[index % len(_PALETTE)]


# -- swimlanes ------------------------------------------------------------------


def timeline_svg(events: Sequence[TimelineEvent], axis: Axis) -> str:
    """Lanes: faults, each alert's pending/firing bar, Alertmanager, each receiver, incidents."""
    t0 = events[0].at if events else 0.0
    lanes: list[tuple[str, list[str]]] = []

    def lane(label: str) -> list[str]:
        for name, found in lanes:
            if name == label:
                return found
        created: list[str] = []
        lanes.append((label, created))
        return created

    windows = fault_windows(events)
    for window in windows:
        lane(f"fault {window.what}")
    for event in events:  # lanes in order of first appearance, grouped by kind below
        if event.kind in (ALERT_PENDING, ALERT_FIRING, ALERT_RESOLVED):
            lane(f"alert {event.what}")
    if any(e.kind == AM_RECEIVED for e in events):
        lane("Alertmanager received")
    for event in events:
        if event.kind == NOTIFICATION:
            lane(f"→ {event.what}")
    for event in events:
        if event.kind in (INCIDENT_OPENED, INCIDENT_RESOLVED):
            lane(f"incident {event.what}")
    if any(e.kind == EXPECTATION for e in events):
        lane("checks")
    if not lanes:
        return ""
    rows = {name: i for i, (name, _) in enumerate(lanes)}

    def y(label: str) -> float:
        return 8 + rows[label] * LANE + LANE / 2

    for window in windows:
        end = axis.end if window.end is None else window.end
        label = f"fault {window.what}"
        lane(label).append(
            _bar(axis, window.start, end, y(label), _COLORS["fault"], f"fault {window.what}")
        )
    _alert_bars(events, t0, axis, lane, y)
    _incident_bars(events, t0, axis, lane, y)
    for event in events:
        at = event.at - t0
        if event.kind == AM_RECEIVED:
            label = "Alertmanager received"
            lane(label).append(_dot(axis, at, y(label), _COLORS["am"], _tip(event, at)))
        elif event.kind == NOTIFICATION:
            label = f"→ {event.what}"
            status = str(event.details.get("status", ""))
            color = _COLORS["resolved"] if status == "resolved" else _COLORS["firing"]
            lane(label).append(_dot(axis, at, y(label), color, _tip(event, at)))
        elif event.kind == EXPECTATION:
            failed = event.details.get("outcome") not in (None, "passed")
            color = _COLORS["failed"] if failed else _COLORS["resolved"]
            lane("checks").append(_tick(axis, at, y("checks"), color, _tip(event, at)))
    height = 8 + len(lanes) * LANE + 28
    parts = [_svg_open(height, "Timeline of the drill: fault window, alerts, notifications")]
    parts += _shading(axis, windows, 4, 8 + len(lanes) * LANE)
    for i, (name, _) in enumerate(lanes):
        top = 8 + i * LANE
        if i % 2:
            parts.append(
                f'<rect x="0" y="{top}" width="{WIDTH}" height="{LANE}" fill="#000" '
                'fill-opacity="0.03"/>'
            )
        parts.append(_label(name, top + LANE / 2 + 4))
    parts += _x_axis(axis, 8 + len(lanes) * LANE)
    for _, items in lanes:
        parts += items
    parts.append("</svg>")
    return "\n".join(parts)


def _alert_bars(
    events: Sequence[TimelineEvent], t0: float, axis: Axis, lane: _Lane, y: _Row
) -> None:
    """pending (amber) until firing (red) until resolved (green tick); open bars run to the end."""
    state: dict[str, tuple[str, float]] = {}
    for event in events:
        if event.kind not in (ALERT_PENDING, ALERT_FIRING, ALERT_RESOLVED):
            continue
        label, at = f"alert {event.what}", event.at - t0
        current = state.get(event.what)
        if event.kind == ALERT_PENDING and current is None:
            state[event.what] = ("pending", at)
        elif event.kind == ALERT_FIRING and (current is None or current[0] == "pending"):
            if current is not None:
                lane(label).append(_segment(axis, current[1], at, y(label), "pending", event.what))
            state[event.what] = ("firing", at)
        elif event.kind == ALERT_RESOLVED:
            if current is not None:
                lane(label).append(_segment(axis, current[1], at, y(label), current[0], event.what))
                state.pop(event.what)
            lane(label).append(_tick(axis, at, y(label), _COLORS["resolved"], _tip(event, at)))
    for alert, (kind, since) in state.items():
        label = f"alert {alert}"
        lane(label).append(_segment(axis, since, axis.end, y(label), kind, alert))


def _incident_bars(
    events: Sequence[TimelineEvent], t0: float, axis: Axis, lane: _Lane, y: _Row
) -> None:
    opened: dict[str, float] = {}
    for event in events:
        at = event.at - t0
        label = f"incident {event.what}"
        if event.kind == INCIDENT_OPENED:
            opened.setdefault(event.what, at)
            lane(label).append(_dot(axis, at, y(label), _COLORS["incident"], _tip(event, at)))
        elif event.kind == INCIDENT_RESOLVED:
            start = opened.pop(event.what, None)
            if start is not None:
                lane(label).append(
                    _bar(axis, start, at, y(label), _COLORS["incident"], f"incident {event.what}")
                )
            lane(label).append(_tick(axis, at, y(label), _COLORS["resolved"], _tip(event, at)))
    for alert, start in opened.items():
        label = f"incident {alert}"
        lane(label).append(
            _bar(axis, start, axis.end, y(label), _COLORS["incident"], f"incident {alert} open")
        )


# -- metric plot ----------------------------------------------------------------


def plot_svg(
    series: Sequence[MetricSeries],
    *,
    t0_wall: float,
    axis: Axis,
    windows: Sequence[Window],
    marks: Sequence[tuple[float, str]] = (),
    height: int = 240,
) -> str:
    """Lines of ``series`` (one query) against seconds from t0, faults shaded, marks as rules."""
    top, bottom = 12, height - 28
    values = [v for s in series for _, v in s.points]
    thresholds = [s.threshold for s in series if s.threshold is not None]
    lo = min([0.0, *values, *thresholds])
    hi = max([*values, *thresholds, lo + 1e-9])
    if hi - lo < 1e-12:
        hi = lo + 1.0
    hi += (hi - lo) * 0.08

    def y(value: float) -> float:
        return bottom - (value - lo) / (hi - lo) * (bottom - top)

    parts = [_svg_open(height, f"Plot of {series[0].query if series else 'the key metric'}")]
    parts += _shading(axis, windows, top, bottom)
    for tick in _nice_ticks(lo, hi, 5):
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            'stroke="#d0d7de" stroke-width="0.6"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" '
            f'class="tick">{escape(_num(tick))}</text>'
        )
    parts += _x_axis(axis, bottom)
    for at, text in marks:
        if axis.start <= at <= axis.end:
            x = axis.x(at)
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}" stroke="#cf222e" '
                f'stroke-dasharray="2 3"><title>{escape(text)}</title></line>'
            )
            parts.append(
                f'<text x="{x + 3:.1f}" y="{top + 10}" class="mark">{escape(_cut(text))}</text>'
            )
    for threshold in sorted(set(thresholds)):
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(threshold):.1f}" '
            f'y2="{y(threshold):.1f}" stroke="#cf222e" stroke-dasharray="6 4" stroke-width="1.2"/>'
        )
        parts.append(
            f'<text x="{WIDTH - RIGHT - 4}" y="{y(threshold) - 4:.1f}" text-anchor="end" '
            f'class="mark">threshold {escape(_num(threshold))}</text>'
        )
    for index, one in enumerate(series):
        color = series_color(index)
        for run in _runs(one.points):
            coords = " ".join(f"{axis.x(t - t0_wall):.1f},{y(v):.1f}" for t, v in run)
            if len(run) == 1:
                cx, cy = coords.split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="2" fill="{color}"/>')
            else:
                parts.append(
                    f'<polyline points="{coords}" fill="none" stroke="{color}" '
                    f'stroke-width="1.8"><title>{escape(one.name)}</title></polyline>'
                )
    parts.append("</svg>")
    return "\n".join(parts)


def _runs(points: Sequence[tuple[float, float]]) -> list[list[tuple[float, float]]]:
    """Split where samples are missing (NaN dropped, a scrape gap) so no line bridges a gap."""
    if len(points) < 2:
        return [list(points)] if points else []
    steps = [b[0] - a[0] for a, b in itertools.pairwise(points)]
    gap = 2.5 * statistics.median(steps)
    runs: list[list[tuple[float, float]]] = [[points[0]]]
    for previous, point in itertools.pairwise(points):
        if point[0] - previous[0] > gap:
            runs.append([])
        runs[-1].append(point)
    return runs


# -- drawing helpers ------------------------------------------------------------


def _svg_open(height: float, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0f}" '
        f'width="100%" role="img" aria-label="{escape(label)}">'
    )


def _shading(axis: Axis, windows: Sequence[Window], top: float, bottom: float) -> list[str]:
    parts = []
    for window in windows:
        x1 = axis.x(max(window.start, axis.start))
        x2 = axis.x(axis.end if window.end is None else min(window.end, axis.end))
        parts.append(
            f'<rect x="{x1:.1f}" y="{top}" width="{max(x2 - x1, 1):.1f}" height="{bottom - top}" '
            f'fill="{_FAULT_FILL}" fill-opacity="0.45"><title>fault {escape(window.what)}'
            "</title></rect>"
        )
    return parts


def _x_axis(axis: Axis, y: float) -> list[str]:
    parts = [f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}" stroke="#8c959f"/>']
    for tick in _nice_ticks(axis.start, axis.end, 8):
        x = axis.x(tick)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y}" y2="{y + 4}" stroke="#8c959f"/>')
        parts.append(
            f'<text x="{x:.1f}" y="{y + 16}" text-anchor="middle" class="tick">'
            f"{'+' if tick > 0 else ''}{_num(tick)}s</text>"
        )
    return parts


def _label(text: str, y: float) -> str:
    return (
        f'<text x="6" y="{y:.1f}" class="lane"><title>{escape(text)}</title>'
        f"{escape(_cut(text))}</text>"
    )


def _bar(axis: Axis, start: float, end: float, y: float, color: str, tip: str) -> str:
    x1, x2 = axis.x(start), axis.x(end)
    return (
        f'<rect x="{x1:.1f}" y="{y - 6:.1f}" width="{max(x2 - x1, 2):.1f}" height="12" rx="3" '
        f'fill="{color}" fill-opacity="0.8"><title>{escape(tip)} '
        f"(+{start:.2f}s → +{end:.2f}s)</title></rect>"
    )


def _segment(axis: Axis, start: float, end: float, y: float, state: str, alert: str) -> str:
    return _bar(axis, start, end, y, _COLORS[state], f"{alert} {state}")


def _dot(axis: Axis, at: float, y: float, color: str, tip: str) -> str:
    return (
        f'<circle cx="{axis.x(at):.1f}" cy="{y:.1f}" r="5" fill="{color}" stroke="#fff">'
        f"<title>{escape(tip)}</title></circle>"
    )


def _tick(axis: Axis, at: float, y: float, color: str, tip: str) -> str:
    x = axis.x(at)
    return (
        f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y - 8:.1f}" y2="{y + 8:.1f}" stroke="{color}" '
        f'stroke-width="3"><title>{escape(tip)}</title></line>'
    )


def _tip(event: TimelineEvent, at: float) -> str:
    details = " ".join(f"{k}={v}" for k, v in event.details.items())
    return f"+{at:.3f}s {event.kind} {event.what} {details}".rstrip()


def _cut(text: str) -> str:
    return text if len(text) <= _LABEL_CHARS else text[: _LABEL_CHARS - 1] + "…"


def _num(value: float) -> str:
    if value == 0:
        return "0"
    return f"{value:.3g}"


def _nice_ticks(lo: float, hi: float, count: int) -> list[float]:
    """Round-numbered ticks (1, 2, 5 × 10^n apart) covering [lo, hi]."""
    span = hi - lo
    if span <= 0 or not math.isfinite(span):
        return [lo]
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if raw <= m * magnitude)
    first = math.ceil(lo / step) * step
    ticks = []
    value = first
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 12) + 0.0)  # + 0.0: no "-0"
        value += step
    return ticks
