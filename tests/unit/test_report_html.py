"""The HTML report: sections present when their data is, absent when not, everything escaped,
the metric plot drawn from its points, and the per-alert latency table against the floors."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from alertdrill.report.html import render_html, write_html
from alertdrill.report.journal import Report, read_report, write_report
from alertdrill.report.latency_view import latency_samples
from alertdrill.report.series import MetricSeries, series_json
from alertdrill.report.svg import Axis, fault_windows, make_axis, plot_svg
from alertdrill.report.timeline import (
    ALERT_FIRING,
    ALERT_PENDING,
    ALERT_RESOLVED,
    EXPECTATION,
    FAULT_INJECT,
    FAULT_REVERT,
    INCIDENT_OPENED,
    INCIDENT_RESOLVED,
    NOTIFICATION,
    JsonValue,
    Timeline,
)

pytestmark = pytest.mark.unit

WALL0 = 1_800_000_000.0  # epoch seconds of the first event
EVIL = '<script>alert("x")</script>&'


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _wall(clock: Clock) -> float:
    return WALL0 + (clock.now - 100.0)


def drill_timeline(*, receiver: str = "slack:#alerts-critical") -> Timeline:
    clock = Clock()
    timeline = Timeline("incident-response", clock=clock, wall_clock=lambda: _wall(clock))
    timeline.mark(FAULT_INJECT, "error_rate", at=100.0)
    timeline.mark(ALERT_PENDING, "HighErrorRate", at=100.4)
    timeline.mark(NOTIFICATION, receiver, at=102.5, alert="HighErrorRate", status="firing")
    timeline.mark(ALERT_FIRING, "HighErrorRate", at=102.7)
    timeline.mark(INCIDENT_OPENED, "HighErrorRate", at=102.8, id=1)
    timeline.mark(EXPECTATION, "alert HighErrorRate firing", at=102.7, outcome="passed")
    timeline.mark(FAULT_REVERT, "error_rate", at=104.0)
    timeline.mark(ALERT_RESOLVED, "HighErrorRate", at=108.0)
    timeline.mark(
        NOTIFICATION,
        receiver,
        at=109.0,
        alert="HighErrorRate",
        status="resolved",
        floor=5.85,
    )
    timeline.mark(INCIDENT_RESOLVED, "HighErrorRate", at=109.1, id=1)
    clock.now = 110.0
    return timeline


def make_report(
    tmp_path: Path,
    *,
    timeline: Timeline | None = None,
    extra: dict[str, JsonValue] | None = None,
    outcome: str = "passed",
    floors: dict[str, float] | None = None,
) -> Report:
    path = write_report(
        tmp_path / "r.json",
        name="incident-response",
        outcome=outcome,  # type: ignore[arg-type]
        timeline=timeline if timeline is not None else drill_timeline(),
        floors={"HighErrorRate": 2.85} if floors is None else floors,
        extra=extra,
    )
    return read_report(path)


def series_points() -> tuple[tuple[float, float], ...]:
    # A baseline of 0, a rise inside the fault window, back to 0: 0.25 s apart, one gap.
    points = [(WALL0 - 3 + i * 0.25, 0.0) for i in range(12)]
    points += [(WALL0 + i * 0.25, min(3.0, i * 0.3)) for i in range(16)]
    points += [(WALL0 + 8 + i * 0.25, 0.0) for i in range(8)]  # after a 4 s gap
    return tuple(points)


class _Tags(HTMLParser):
    """Collects tag names, to prove the page parses and no injected tag got through."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


def _tags(page: str) -> list[str]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


def test_full_drill_report_has_every_section(tmp_path: Path) -> None:
    extra: dict[str, JsonValue] = {
        "drill": {
            "title": "Incident response",
            "description": "Errors page the critical receivers.",
            "file": "chaos/drills/incident-response.yaml",
        },
        "verdict": "failed",
        "steps": [
            {
                "name": "HighErrorRate fires",
                "phase": "method",
                "offset": 2.7,
                "seconds": 2.7,
                "passed": True,
                "observation": "firing after 2.70s",
                "error": "",
            },
            {
                "name": "exactly one incident",
                "phase": "verify",
                "offset": 9.5,
                "seconds": 0.1,
                "passed": False,
                "observation": "2 incidents",
                "error": "expected 1 incident, saw 2",
            },
        ],
        "metric_series": series_json(
            [MetricSeries("errors/s", "sum(rate(errors_total[5s]))", series_points(), 0.1)]
        ),
        "logs": {"service": "Traceback: boom", "prometheus": "level=info msg=ready"},
        "profile": "fast",
    }
    page = render_html(make_report(tmp_path, extra=extra, outcome="failed"))

    assert '<span class="verdict failed">FAILED</span>' in page
    assert "Incident response" in page and "Errors page the critical receivers." in page
    assert "chaos/drills/incident-response.yaml" in page and "fast" in page
    for heading in (
        "At a glance",
        "Steps",
        "Timeline",
        "Key metric",
        "Detection latency per alert",
        "Component logs",
    ):
        assert f"<h2>{heading}</h2>" in page, heading
    assert "expected 1 incident, saw 2" in page and "✗ failed" in page and "✓ passed" in page
    assert "<summary>service</summary><pre>Traceback: boom</pre>" in page
    assert "threshold 0.1" in page
    # Two svg charts: the swimlanes and the plot; the page has no script and no remote URL.
    assert page.count("<svg ") == 2
    assert "<script" not in page
    assert not re.search(r'(?:src|href)="https?://', page)
    assert "<title>FAILED — Incident response</title>" in page


def test_plain_pytest_report_degrades_to_what_it_has(tmp_path: Path) -> None:
    page = render_html(make_report(tmp_path))
    assert "<h2>Timeline</h2>" in page and "<h2>Detection latency per alert</h2>" in page
    assert '<span class="verdict passed">PASSED</span>' in page
    # No steps, no series, no logs: their sections are left out, not shown empty.
    for absent in ("<h2>Steps</h2>", "<h2>Key metric</h2>", "<h2>Component logs</h2>"):
        assert absent not in page
    assert page.count("<svg ") == 1


def test_report_without_events_still_renders(tmp_path: Path) -> None:
    page = render_html(make_report(tmp_path, timeline=Timeline("empty"), floors={}))
    assert "No events were recorded." in page
    assert "<svg" not in page and "<h2>Timeline</h2>" not in page


def test_everything_from_tests_and_receivers_is_escaped(tmp_path: Path) -> None:
    extra: dict[str, JsonValue] = {
        "drill": {"title": EVIL, "description": EVIL, "file": EVIL},
        "steps": [{"name": EVIL, "phase": EVIL, "passed": False, "observation": EVIL}],
        "metric_series": series_json([MetricSeries(EVIL, EVIL, series_points())]),
        "logs": {EVIL: EVIL},
        "custom": EVIL,
    }
    report = make_report(tmp_path, timeline=drill_timeline(receiver=EVIL), extra=extra)
    page = render_html(report)
    assert "<script" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in page
    # Positive control: the same text unescaped would have produced a script tag.
    assert "script" in _tags(f"<p>{EVIL}</p>")
    assert "script" not in _tags(page)


def test_malformed_drill_keys_are_named_and_skipped(tmp_path: Path) -> None:
    extra: dict[str, JsonValue] = {"steps": "not a list", "metric_series": [{"name": 1}]}
    page = render_html(make_report(tmp_path, extra=extra))
    assert "could not be read" in page and "extra.steps" in page
    assert "<h2>Timeline</h2>" in page  # the rest still renders


def test_metric_error_is_shown_when_the_plot_is_missing(tmp_path: Path) -> None:
    extra: dict[str, JsonValue] = {"metric_series": [], "metric_error": "prometheus: timed out"}
    page = render_html(make_report(tmp_path, extra=extra))
    assert "<h2>Key metric</h2>" in page and "prometheus: timed out" in page


def test_plot_draws_its_points_shades_the_fault_and_breaks_at_gaps(tmp_path: Path) -> None:
    report = make_report(tmp_path)
    windows = fault_windows(report.events)
    assert [(w.what, w.start, w.end) for w in windows] == [("error_rate", 0.0, 4.0)]
    axis = Axis(-4.0, 12.0)
    series = MetricSeries("errors/s", "q", series_points(), threshold=0.1)
    svg = plot_svg([series], t0_wall=WALL0, axis=axis, windows=windows, marks=[(2.7, "firing")])

    lines = re.findall(r'<polyline points="([^"]+)"', svg)
    assert len(lines) == 2  # the 4 s gap (+4 s to +8 s) splits the line in two
    drawn = sum(len(line.split()) for line in lines)
    assert drawn == len(series_points())
    # The fault window's shading spans +0 s to +4 s on the shared axis.
    (shade,) = re.findall(r'<rect x="([0-9.]+)" y="\d+" width="([0-9.]+)"', svg)
    assert float(shade[0]) == pytest.approx(axis.x(0.0), abs=0.1)
    assert float(shade[0]) + float(shade[1]) == pytest.approx(axis.x(4.0), abs=0.2)
    # The highest point is drawn highest (smallest y); the baseline sits on the zero line.
    coords = [tuple(map(float, p.split(","))) for line in lines for p in line.split()]
    top = min(coords, key=lambda c: c[1])
    assert top[0] > axis.x(0.0)
    assert "threshold 0.1" in svg and ">firing</text>" in svg


def test_axis_covers_all_times_and_is_never_empty() -> None:
    axis = make_axis([0.0, 10.0, -3.0])
    assert axis.start < -3.0 and axis.end > 10.0
    assert make_axis([]) == Axis(0.0, 1.0)
    flat = make_axis([5.0])
    assert flat.end - flat.start >= 1.0


def test_latency_table_uses_the_floors_and_marks_slow_steps(tmp_path: Path) -> None:
    report = make_report(tmp_path, floors={"HighErrorRate": 2.6})
    (sample,) = latency_samples(report)
    assert sample.alert == "HighErrorRate" and sample.fault == "error_rate"
    assert sample.floor == 2.6 and sample.resolve_floor == 5.85
    assert sample.firing == pytest.approx(2.7) and sample.notification == pytest.approx(2.5)
    assert sample.resolved_notification == pytest.approx(5.0)
    page = render_html(report)
    table = page.split("<h2>Detection latency per alert</h2>", 1)[1].split("</table>", 1)[0]
    # firing (2.70s) and incident (2.80s) are over the 2.60s floor; the notification is not.
    assert '<td class="num over">2.70s</td>' in table
    assert '<td class="num over">2.80s</td>' in table
    assert '<td class="num">2.50s</td>' in table


def test_overlapping_faults_fall_back_to_every_measured_step(tmp_path: Path) -> None:
    clock = Clock()
    timeline = Timeline("t", clock=clock, wall_clock=lambda: _wall(clock))
    timeline.mark(FAULT_INJECT, "a", at=100.0)
    timeline.mark(FAULT_INJECT, "b", at=100.5)
    timeline.mark(ALERT_FIRING, "HighErrorRate", at=102.0)
    page = render_html(make_report(tmp_path, timeline=timeline))
    assert "<h2>Detection latency per alert</h2>" not in page
    assert "<h2>Measured latencies</h2>" in page and "alert.firing HighErrorRate" in page


def test_write_html_is_atomic_and_readable(tmp_path: Path) -> None:
    target = write_html(make_report(tmp_path), tmp_path / "out" / "r.html")
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert target.stat().st_mode & 0o044 == 0o044  # group and others may read it
    assert [p.name for p in target.parent.iterdir()] == ["r.html"]  # no temp file left
