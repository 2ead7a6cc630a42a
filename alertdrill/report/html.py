"""The HTML report of one drill or test: one self-contained file a person reads without a terminal.

Sections, each shown only when the report has what it needs (a plain pytest report has no
steps and no metric series; it still gets its verdict, timeline and latencies):

    verdict and drill (title, description, file, stack/profile, times)
    at a glance (fault windows, first firing per alert, notifications, incidents)
    steps (the drill's checks with their observations)
    timeline (SVG swimlanes over the fault window, then every event as a table)
    key metric (SVG plot per query, fault window shaded, threshold and firings marked)
    detection latency per alert (report.latency samples against the floors)
    component logs (collapsed), other data from ``extra`` (collapsed)

Inline CSS and SVG only: no script, no fonts, no network. Everything that came from a test, a
receiver, Prometheus or a log is escaped (``html.escape`` with quotes).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Final

from alertdrill.report.atomic import write_text_atomic
from alertdrill.report.extra import CONSUMED, DrillExtra, StepRecord, drill_extra
from alertdrill.report.journal import Report
from alertdrill.report.latency_view import latency_section, secs
from alertdrill.report.series import MetricSeries
from alertdrill.report.svg import (
    Axis,
    Window,
    fault_windows,
    make_axis,
    plot_svg,
    series_color,
    timeline_svg,
)
from alertdrill.report.timeline import (
    ALERT_FIRING,
    ALERT_RESOLVED,
    FAULT_INJECT,
    FAULT_REVERT,
    INCIDENT_OPENED,
    INCIDENT_RESOLVED,
    NOTIFICATION,
    TimelineEvent,
)

__all__ = ["render_html", "write_html"]

_CSS: Final = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;
 margin:0 auto;max-width:1040px;padding:24px}
h1{font-size:22px;margin:0 0 4px;overflow-wrap:anywhere}h2{font-size:17px;margin:28px 0 8px;
 border-bottom:1px solid #d0d7de;padding-bottom:4px}h3{font-size:14px;margin:14px 0 4px}
.verdict{display:inline-block;padding:3px 12px;border-radius:14px;color:#fff;font-weight:600;
 letter-spacing:.04em;vertical-align:middle;margin-left:8px;font-size:14px}
.passed{background:#1a7f37}.failed,.error{background:#cf222e}.skipped{background:#6e7781}
table{border-collapse:collapse;width:100%;margin:6px 0}
th,td{border:1px solid #d0d7de;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.over{background:#ffebe9}td.nowrap{white-space:nowrap}td.step{min-width:16em}
tr.fail td{background:#ffebe9}
.ok{color:#1a7f37;font-weight:600}.ko{color:#cf222e;font-weight:600}
table.meta{width:auto}table.meta th{background:none;border:none;padding:1px 12px 1px 0}
table.meta td{border:none;padding:1px 0}
pre{background:#f6f8fa;border:1px solid #d0d7de;padding:8px;overflow-x:auto;font-size:12px;
 white-space:pre-wrap;word-break:break-word;margin:4px 0}
code{font-size:12px;background:#f6f8fa;padding:1px 4px;border-radius:4px;word-break:break-all}
details{margin:6px 0}summary{cursor:pointer;font-weight:600}
svg text{font:11px system-ui,sans-serif;fill:#1f2328}svg text.tick{fill:#57606a}
svg text.mark{fill:#cf222e}
.legend span{display:inline-block;margin-right:16px}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:4px;
 vertical-align:-1px}
.warn{background:#fff8c5;border:1px solid #d4a72c;padding:6px 10px;border-radius:6px}
.muted{color:#57606a}
"""
# The `{service="backend"}` a range query's label set adds to a series' display name.
_LABELS_SUFFIX: Final = re.compile(r'\{(?:[A-Za-z_][A-Za-z0-9_]*="[^"]*"(?:, )?)*\}$')
_KIND_CLASS: Final = {"fault.inject": "fault", "fault.revert": "fault"}


def render_html(report: Report) -> str:
    """The whole page as a string (see the module docstring for its sections)."""
    extra = drill_extra(report)
    events = report.events
    t0_wall = events[0].wall_time if events else _first_point_time(extra.series)
    offsets = [e.at - events[0].at for e in events]
    offsets += [t - t0_wall for s in extra.series for t, _ in s.points]
    axis = make_axis(offsets)
    windows = fault_windows(events)
    title = extra.drill.title if extra.drill and extra.drill.title else report.name
    body = [
        _header(report, extra, title),
        _glance(report, windows),
        _steps(extra.steps),
        _timeline(report, axis),
        _metrics(extra, report, t0_wall, axis, windows),
        latency_section(report),
        _logs(extra.logs),
        _other(report),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(extra.verdict.upper())} — {escape(title)}</title>\n"
        f"<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body>\n</html>\n"
    )


def write_html(report: Report, target: Path) -> Path:
    """Write ``render_html(report)`` atomically to ``target``; returns it."""
    text = render_html(report)
    # 0644: a report is for reading (mkstemp creates it 0600).
    return write_text_atomic(Path(target), text, mode=0o644)


# -- sections -------------------------------------------------------------------


def _header(report: Report, extra: DrillExtra, title: str) -> str:
    verdict = extra.verdict
    css = verdict if verdict in ("passed", "failed", "error", "skipped") else "error"
    rows: list[tuple[str, str]] = []
    if title != report.name:
        rows.append(("report", report.name))
    if extra.drill and extra.drill.file:
        rows.append(("drill file", extra.drill.file))
    for key in ("backend", "stack", "profile"):
        value = report.extra.get(key)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            rows.append((key, str(value)))
    rows.append(("started", report.started_at or "—"))
    rows.append(("duration", f"{report.duration:.2f}s (first to last event)"))
    rows.append(("written", report.written_at))
    parts = [
        f'<h1>{escape(title)}<span class="verdict {css}">{escape(verdict.upper())}</span></h1>'
    ]
    if extra.drill and extra.drill.description:
        parts.append(f"<p>{escape(extra.drill.description)}</p>")
    parts.append(
        '<table class="meta">'
        + "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
        + "</table>"
    )
    if extra.problems:
        parts.append(
            '<p class="warn">Parts of this report could not be read and are left out: '
            + "; ".join(escape(p) for p in extra.problems)
            + "</p>"
        )
    return "\n".join(parts)


def _glance(report: Report, windows: Sequence[Window]) -> str:
    """What happened, in sentences: the first thing a person reads."""
    events = report.events
    if not events:
        return '<h2>At a glance</h2>\n<p class="muted">No events were recorded.</p>'
    t0 = events[0].at
    items: list[str] = []
    for window in windows:
        end = "never reverted" if window.end is None else f"reverted at +{window.end:.2f}s"
        items.append(f"Fault <b>{escape(window.what)}</b> injected at +{window.start:.2f}s, {end}.")
    by_step = {(lat.kind, lat.what): lat for lat in report.latencies}
    for event in _firsts(events, ALERT_FIRING):
        lat = by_step.get((ALERT_FIRING, event.what))
        measured = f" {lat.seconds:.2f}s after the fault" if lat else ""
        floor = f" (floor {lat.floor:.2f}s)" if lat and lat.floor is not None else ""
        resolved = next(
            (e for e in events if e.kind == ALERT_RESOLVED and e.what == event.what), None
        )
        end = f", resolved at +{resolved.at - t0:.2f}s" if resolved else ", not seen resolved"
        items.append(
            f"Alert <b>{escape(event.what)}</b> firing at +{event.at - t0:.2f}s,"
            f"{measured}{floor}{end}."
        )
    notes = [e for e in events if e.kind == NOTIFICATION]
    if notes:
        receivers = sorted({e.what for e in notes})
        items.append(
            f"{len(notes)} notification(s) to {len(receivers)} receiver(s): "
            + ", ".join(f"<code>{escape(r)}</code>" for r in receivers)
            + "."
        )
    opened = sum(1 for e in events if e.kind == INCIDENT_OPENED)
    closed = sum(1 for e in events if e.kind == INCIDENT_RESOLVED)
    if opened or closed:
        items.append(f"Incidents: {opened} opened, {closed} resolved.")
    if not items:
        items.append("No fault, alert, notification or incident in this report.")
    return "<h2>At a glance</h2>\n<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _steps(steps: Sequence[StepRecord]) -> str:
    if not steps:
        return ""
    rows = []
    # In time order (the journal records a step when it ends; a reader follows the drill).
    ordered = sorted(steps, key=lambda s: math.inf if s.offset is None else s.offset)
    for step in ordered:
        mark = (
            '<span class="ok">✓ passed</span>'
            if step.passed
            else '<span class="ko">✗ failed</span>'
            if step.passed is False
            else '<span class="muted">not run</span>'
        )
        seen = escape(step.observation)
        if step.error:
            seen += f"<pre>{escape(step.error)}</pre>"
        rows.append(
            f'<tr class="{"fail" if step.passed is False else ""}">'
            f'<td class="nowrap">{escape(step.phase)}</td><td class="step">{escape(step.name)}</td>'
            f'<td class="nowrap">{mark}</td>'
            f'<td class="num">{secs(step.offset, "+")}</td>'
            f'<td class="num">{secs(step.seconds)}</td><td>{seen}</td></tr>'
        )
    return (
        "<h2>Steps</h2>\n<table><tr><th>phase</th><th>step</th><th>result</th>"
        '<th title="seconds from the start of the drill run">started</th>'
        "<th>took</th><th>observation</th></tr>" + "".join(rows) + "</table>"
    )


def _timeline(report: Report, axis: Axis) -> str:
    events = report.events
    if not events:
        return ""
    t0 = events[0].at
    measured_of = _event_latencies(report)
    rows = []
    for i, event in enumerate(events):
        details = ", ".join(f"{k}={v}" for k, v in event.details.items() if k != "floor")
        measured = measured_of.get(i, "")
        rows.append(
            f'<tr class="{_KIND_CLASS.get(event.kind, "")}"><td class="num">'
            f"+{event.at - t0:.3f}s</td><td>{escape(event.kind)}</td>"
            f'<td>{escape(event.what)}</td><td class="num">{measured}</td>'
            f"<td>{escape(details)}</td></tr>"
        )
    legend = (
        '<p class="legend muted">'
        + "".join(
            f'<span><i class="swatch" style="background:{color}"></i>{escape(text)}</span>'
            for color, text in (
                ("#f6c4c4", "fault in place"),
                ("#d4a72c", "alert pending"),
                ("#cf222e", "alert firing / firing notification"),
                ("#1a7f37", "resolved / check passed"),
                ("#8250df", "incident open"),
                ("#6e7781", "Alertmanager received"),
            )
        )
        + " Hover a mark for its details.</p>"
    )
    return (
        "<h2>Timeline</h2>\n"
        + timeline_svg(events, axis)
        + "\n"
        + legend
        + f"\n<details><summary>All {len(events)} events</summary><table><tr><th>at</th>"
        "<th>kind</th><th>what</th><th>latency (floor)</th><th>details</th></tr>"
        + "".join(rows)
        + "</table></details>\n<details><summary>As text</summary><pre>"
        + escape(report.timeline_text)
        + "</pre></details>"
    )


def _event_latencies(report: Report) -> dict[int, str]:
    """Event index → its measured latency text, matching ``report.latencies`` to the events
    (same kind and what, anchored on the latest fault mark before it, same seconds)."""
    shown: dict[int, str] = {}
    mark: TimelineEvent | None = None
    for i, event in enumerate(report.events):
        if event.kind in (FAULT_INJECT, FAULT_REVERT):
            mark = event
            continue
        if mark is None:
            continue
        for lat in report.latencies:
            if (
                (lat.kind, lat.what, lat.anchor, lat.anchor_what)
                == (event.kind, event.what, mark.kind, mark.what)
            ) and math.isclose(lat.seconds, event.at - mark.at, abs_tol=1e-6):
                floor = "" if lat.floor is None else f" ({lat.floor:.2f}s)"
                shown[i] = f"{lat.seconds:.3f}s{floor}"
                break
    return shown


def _metrics(
    extra: DrillExtra,
    report: Report,
    t0_wall: float,
    axis: Axis,
    windows: Sequence[Window],
) -> str:
    series = extra.series
    missing = (
        f'<p class="warn">Could not fetch from Prometheus: {escape(extra.metric_error)}</p>'
        if extra.metric_error
        else ""
    )
    if not series:
        return f"<h2>Key metric</h2>\n{missing}" if missing else ""
    events = report.events
    t0 = events[0].at if events else 0.0
    marks = [(e.at - t0, f"{e.what} firing") for e in _firsts(events, ALERT_FIRING)]
    groups: dict[str, list[MetricSeries]] = {}
    for one in series:
        groups.setdefault(one.query, []).append(one)
    parts = ["<h2>Key metric</h2>", missing]
    for query, group in groups.items():
        names = {_LABELS_SUFFIX.sub("", s.name) for s in group}
        heading = next(iter(names)) if len(names) == 1 else query
        thresholds = sorted({s.threshold for s in group if s.threshold is not None})
        if thresholds:
            heading += " (threshold " + ", ".join(f"{t:g}" for t in thresholds) + ")"
        parts.append(f"<h3>{escape(heading)}</h3><p><code>{escape(query)}</code></p>")
        if not any(s.points for s in group):
            parts.append('<p class="muted">Prometheus returned no samples for this query.</p>')
            continue
        parts.append(plot_svg(group, t0_wall=t0_wall, axis=axis, windows=windows, marks=marks))
        parts.append(
            '<p class="legend">'
            + "".join(
                f'<span><i class="swatch" style="background:{series_color(i)}"></i>'
                f"{escape(s.name)}</span>"
                for i, s in enumerate(group)
            )
            + '<span class="muted">shaded: fault in place; dotted: first firing'
            + ("; dashed: threshold" if thresholds else "")
            + "</span></p>"
        )
    return "\n".join(parts)


def _logs(logs: Sequence[tuple[str, str]]) -> str:
    if not logs:
        return ""
    return "<h2>Component logs</h2>\n" + "\n".join(
        f"<details><summary>{escape(name)}</summary><pre>{escape(text)}</pre></details>"
        for name, text in logs
    )


def _other(report: Report) -> str:
    rest = {k: v for k, v in report.extra.items() if k not in CONSUMED}
    if not rest:
        return ""
    text = json.dumps(rest, indent=2, ensure_ascii=False, sort_keys=True)
    return (
        "<h2>Other data</h2>\n<details><summary>extra (JSON)</summary><pre>"
        + escape(text)
        + "</pre></details>"
    )


# -- helpers --------------------------------------------------------------------


def _firsts(events: Sequence[TimelineEvent], kind: str) -> list[TimelineEvent]:
    seen: dict[str, TimelineEvent] = {}
    for event in events:
        if event.kind == kind:
            seen.setdefault(event.what, event)
    return list(seen.values())


def _first_point_time(series: Sequence[MetricSeries]) -> float:
    times = [s.points[0][0] for s in series if s.points]
    return min(times) if times else 0.0
