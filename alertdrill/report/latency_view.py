"""The HTML report's latency section: per-alert detection latency against the floors.

``report.latency.samples`` measures a Timeline against ``FloorLike`` floors; a report has the
events and, per alert, only the detection floor's total. The resolve floor comes from the
``floor`` detail the expectations stamp on resolved notifications, when there is one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from html import escape
from typing import Final

from alertdrill.report.journal import Report
from alertdrill.report.latency import LatencySample, samples
from alertdrill.report.timeline import NOTIFICATION

__all__ = ["latency_samples", "latency_section", "secs"]

_MEASURES: Final = (
    ("pending", "→ pending"),
    ("firing", "→ firing"),
    ("notification", "→ 1st notification"),
    ("incident", "→ incident"),
)


@dataclass(frozen=True)
class _Floor:
    total: float
    resolve_total: float


def latency_samples(report: Report) -> tuple[LatencySample, ...]:
    """``report.latency.samples`` from a report: its floors are per-alert detection totals;
    resolve floors come from the ``floor`` detail of the resolved notifications, if any."""
    resolve: dict[str, float] = {}
    for event in report.events:
        floor = event.details.get("floor")
        alert = event.details.get("alert")
        if (
            event.kind == NOTIFICATION
            and event.details.get("status") == "resolved"
            and isinstance(alert, str)
            and isinstance(floor, int | float)
        ):
            resolve.setdefault(alert, float(floor))
    floors = {
        name: _Floor(total, resolve.get(name, math.nan)) for name, total in report.floors.items()
    }
    found = samples(report.name, report.timeline(), floors)
    return tuple(
        replace(s, resolve_floor=None)
        if s.resolve_floor is not None and math.isnan(s.resolve_floor)
        else s
        for s in found
    )


def latency_section(report: Report) -> str:
    """The per-alert table (or, without samples, every measured step); "" if neither."""
    found = latency_samples(report)
    if found:
        head = "".join(f"<th>{escape(label)}</th>" for _, label in _MEASURES)
        rows = []
        for s in found:
            cells = "".join(_latency_cell(getattr(s, key), s.floor) for key, _ in _MEASURES)
            rows.append(
                f"<tr><td>{escape(s.alert)}</td><td>{escape(s.fault)}</td>"
                f'<td class="num">{secs(s.floor)}</td>{cells}'
                f'<td class="num">{secs(s.resolve_floor)}</td>'
                f"{_latency_cell(s.resolved_notification, s.resolve_floor)}</tr>"
            )
        return (
            '<h2>Detection latency per alert</h2>\n<p class="muted">Seconds from the fault\'s '
            "injection (all-clear: from its revert). Red: slower than the floor the rendered "
            "config allows. — : not observed.</p><table><tr><th>alert</th><th>fault</th>"
            f"<th>floor</th>{head}<th>resolve floor</th><th>→ all-clear</th></tr>"
            + "".join(rows)
            + "</table>"
        )
    if report.latencies:
        rows = [
            f"<tr><td>{escape(lat.step)}</td><td>{escape(lat.anchor)} "
            f"{escape(lat.anchor_what)}</td>{_latency_cell(lat.seconds, lat.floor)}"
            f'<td class="num">{secs(lat.floor)}</td></tr>'
            for lat in report.latencies
        ]
        return (
            '<h2>Measured latencies</h2>\n<p class="muted">No per-alert sample (overlapping '
            "faults, or the drill failed); every measured step instead.</p><table><tr>"
            "<th>step</th><th>from</th><th>seconds</th><th>floor</th></tr>"
            + "".join(rows)
            + "</table>"
        )
    return ""


def _latency_cell(value: float | None, floor: float | None) -> str:
    over = value is not None and floor is not None and value > floor
    return f'<td class="num{" over" if over else ""}">{secs(value)}</td>'


def secs(value: float | None, sign: str = "") -> str:
    """Seconds as shown in the report's tables; "—" when not measured."""
    return "—" if value is None else f"{sign}{value:.2f}s"
