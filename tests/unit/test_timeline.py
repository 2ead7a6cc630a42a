from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alertdrill.errors import ConfigError
from alertdrill.report.journal import SCHEMA, read_report, write_report
from alertdrill.report.timeline import (
    ALERT_FIRING,
    ALERT_PENDING,
    ALERT_RESOLVED,
    EXPECTATION,
    FAULT_INJECT,
    FAULT_REVERT,
    INCIDENT_OPENED,
    NOTIFICATION,
    Timeline,
)

pytestmark = pytest.mark.unit


class Clocks:
    """A monotonic and a wall clock that move together, by hand."""

    def __init__(self) -> None:
        self.mono = 500.0
        self.wall = 1_700_000_000.0

    def monotonic(self) -> float:
        return self.mono

    def time(self) -> float:
        return self.wall

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += seconds


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


@pytest.fixture
def timeline(clocks: Clocks) -> Timeline:
    return Timeline("test_high_error_rate", clock=clocks.monotonic, wall_clock=clocks.time)


def drill(timeline: Timeline, clocks: Clocks) -> None:
    """A whole drill: inject at +0, fire at +3.012, notify, open, revert at +10, resolve."""
    timeline.mark(FAULT_INJECT, "error_rate", rate=0.5)
    timeline.mark(ALERT_PENDING, "HighErrorRate", at=clocks.mono + 0.8)
    clocks.advance(3.012)
    timeline.mark(ALERT_FIRING, "HighErrorRate", floor=2.75, value=0.52)
    for receiver, delay in (("slack:#alerts-critical", 0.1), ("pagerduty:key", 0.12)):
        timeline.mark(
            NOTIFICATION, receiver, at=clocks.mono + delay, alert="HighErrorRate", status="firing"
        )
    timeline.mark(INCIDENT_OPENED, "HighErrorRate", at=clocks.mono + 0.2, id=1)
    clocks.advance(6.988)
    timeline.mark(FAULT_REVERT, "error_rate")
    clocks.advance(1.5)
    timeline.mark(ALERT_RESOLVED, "HighErrorRate")
    timeline.mark(
        NOTIFICATION, "slack:#alerts-critical", at=clocks.mono + 0.3, alert="HighErrorRate",
        status="resolved", floor=1.25,
    )  # fmt: skip


def test_events_sort_by_when_they_happened_not_when_marked(
    timeline: Timeline, clocks: Clocks
) -> None:
    timeline.mark("note", "second")
    timeline.mark("note", "first", at=clocks.mono - 1.0)
    timeline.mark("note", "third", at=clocks.mono)  # a tie keeps marking order
    assert [e.what for e in timeline.events] == ["first", "second", "third"]
    assert timeline.events[0].wall_time == pytest.approx(clocks.wall - 1.0)


def test_first_last_and_since(timeline: Timeline, clocks: Clocks) -> None:
    assert timeline.first(FAULT_INJECT) is None
    assert timeline.since(FAULT_INJECT) is None
    drill(timeline, clocks)
    first = timeline.first(NOTIFICATION)
    assert first is not None and first.what == "slack:#alerts-critical"
    assert first.details["status"] == "firing"
    assert timeline.first(NOTIFICATION, "pagerduty:key") is not None
    last = timeline.last(NOTIFICATION, "slack:#alerts-critical")
    assert last is not None and last.details["status"] == "resolved"
    assert timeline.since(FAULT_REVERT) == pytest.approx(1.5)


def test_latencies_count_from_the_fault_mark_that_caused_each_step(
    timeline: Timeline, clocks: Clocks
) -> None:
    drill(timeline, clocks)
    latencies = {lat.step: lat for lat in timeline.latencies({"alert.pending": 0.5})}
    assert set(latencies) == {
        "alert.pending HighErrorRate",
        "alert.firing HighErrorRate",
        "notification slack:#alerts-critical (firing)",
        "notification pagerduty:key (firing)",
        "incident.opened HighErrorRate",
        "alert.resolved HighErrorRate",
        "notification slack:#alerts-critical (resolved)",
    }
    firing = latencies["alert.firing HighErrorRate"]
    assert (firing.anchor, firing.anchor_what) == (FAULT_INJECT, "error_rate")
    assert firing.seconds == pytest.approx(3.012)
    assert firing.floor == 2.75
    assert firing.over_floor == pytest.approx(0.262)
    assert latencies["alert.pending HighErrorRate"].floor == 0.5  # from the floors mapping
    resolved = latencies["notification slack:#alerts-critical (resolved)"]
    assert resolved.anchor == FAULT_REVERT
    assert resolved.seconds == pytest.approx(1.8)
    assert latencies["alert.resolved HighErrorRate"].floor is None


def test_a_step_without_its_fault_mark_has_no_latency(timeline: Timeline) -> None:
    timeline.mark(ALERT_FIRING, "HighErrorRate")  # before any fault: no anchor
    timeline.mark(FAULT_REVERT, "error_rate")
    timeline.mark(ALERT_FIRING, "HighErrorRate")  # after a revert: not caused by an injection
    timeline.mark(FAULT_INJECT, "error_rate")
    timeline.mark(ALERT_FIRING, "HighErrorRate")
    assert len(timeline.latencies()) == 1


def test_render_text_shows_offsets_latencies_and_floors(timeline: Timeline, clocks: Clocks) -> None:
    drill(timeline, clocks)
    text = timeline.render_text()
    lines = text.splitlines()
    assert lines[0].startswith("timeline test_high_error_rate (t0 = 2023-11-14T22:13:20.000+00:00")
    firing = next(line for line in lines if "alert.firing" in line)
    assert firing.lstrip().startswith("+3.012s")
    assert "fault→3.012s (floor 2.750s)" in firing
    assert "value=0.52" in firing and "floor=" not in firing
    resolved = next(line for line in lines if "(floor 1.250s)" in line)
    assert "revert→1.800s" in resolved
    assert Timeline("empty").render_text() == "timeline empty: (no events)"


def test_non_finite_details_become_text(timeline: Timeline) -> None:
    event = timeline.mark("note", "x", value=float("nan"))
    assert event.details["value"] == "nan"


def test_marks_from_many_threads_are_all_kept(timeline: Timeline) -> None:
    def mark_many(n: int) -> None:
        for i in range(200):
            timeline.mark("note", f"{n}-{i}")

    threads = [threading.Thread(target=mark_many, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    assert len(timeline) == 1600
    assert len({e.what for e in timeline.events}) == 1600


def test_wall_times_convert_to_the_monotonic_clock(timeline: Timeline, clocks: Clocks) -> None:
    wall = datetime.fromtimestamp(clocks.wall - 2.5, UTC)
    assert timeline.monotonic_from_wall(wall) == pytest.approx(clocks.mono - 2.5)
    assert timeline.monotonic_from_wall(clocks.wall + 1) == pytest.approx(clocks.mono + 1)


def test_json_report_round_trips(timeline: Timeline, clocks: Clocks, tmp_path: Path) -> None:
    drill(timeline, clocks)
    timeline.mark(EXPECTATION, "alert HighErrorRate firing", outcome="passed", elapsed=3)
    floors = {"notification slack:#alerts-critical (firing)": 2.9}
    path = write_report(
        tmp_path / "reports" / "drill.json",
        name="test_high_error_rate",
        outcome="passed",
        timeline=timeline,
        floors=floors,
        extra={"profile": "fast", "logs": ["a.log"], "runs": 1},
    )
    raw = json.loads(path.read_text())
    assert raw["schema"] == SCHEMA
    assert raw["events"][0]["kind"] == FAULT_INJECT and raw["events"][0]["offset"] == 0
    assert raw["duration"] == pytest.approx(10 + 1.5 + 0.3)

    report = read_report(path)
    assert report.name == "test_high_error_rate"
    assert report.outcome == "passed"
    assert report.events == timeline.events
    assert report.latencies == timeline.latencies(floors)
    assert report.floors == floors
    assert report.extra == {"profile": "fast", "logs": ["a.log"], "runs": 1}
    assert report.timeline_text == timeline.render_text(floors)
    assert report.timeline().latencies(floors) == timeline.latencies(floors)
    assert list(tmp_path.joinpath("reports").iterdir()) == [path]  # no temp file left


def test_report_of_an_empty_timeline(tmp_path: Path) -> None:
    path = write_report(
        tmp_path / "r.json",
        name="t",
        outcome="skipped",
        timeline=Timeline("t"),
        floors={},
        extra={},
    )
    report = read_report(path)
    assert report.events == () and report.started_at is None and report.duration == 0


def test_read_report_refuses_other_files(tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text('{"schema": "something/v9"}')
    with pytest.raises(ConfigError, match=r"not an alertdrill\.report/v1 report"):
        read_report(other)
    with pytest.raises(ValueError, match="outcome"):
        write_report(
            tmp_path / "x.json",
            name="t",
            outcome="maybe",  # type: ignore[arg-type]
            timeline=Timeline(),
            floors={},
            extra={},
        )


@dataclass(frozen=True)
class JournalLine:
    fault: str
    action: str
    at_monotonic: float
    detail: str = ""


def test_fault_journal_lines_sync_once(timeline: Timeline, clocks: Clocks) -> None:
    lines = [
        JournalLine("error_rate", "inject", clocks.mono - 2, "rate=0.5"),
        JournalLine("stop postgres", "revert-failed", clocks.mono - 1, "timeout"),
        JournalLine("error_rate", "revert", clocks.mono),
    ]
    assert timeline.sync_faults(lines) == 3
    assert timeline.sync_faults(lines) == 0  # idempotent
    assert [(e.kind, e.what) for e in timeline.events] == [
        (FAULT_INJECT, "error_rate"),
        ("note", "stop postgres revert-failed"),
        (FAULT_REVERT, "error_rate"),
    ]
    assert timeline.events[0].details == {"detail": "rate=0.5"}
    assert timeline.events[0].at == clocks.mono - 2


def test_report_round_trips_flag_details(tmp_path: Path) -> None:
    """Scenarios mark flags (``told=True``) on the timeline: the report reads them back."""
    timeline = Timeline("flags")
    timeline.mark("note", "incident webhook verdicts", told=True, left_open=False, verdicts="200")
    path = write_report(
        tmp_path / "r.json", name="flags", outcome="passed", timeline=timeline, floors={}
    )
    details = read_report(path).events[0].details
    assert (details["told"], details["left_open"], details["verdicts"]) == (True, False, "200")
