"""The detection-latency table: which timeline steps count, medians, JSON round trip."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from alertdrill.report.latency import (
    EXCLUDED,
    SCHEMA,
    LatencySample,
    LatencyTable,
    samples,
    samples_json,
)
from alertdrill.report.timeline import (
    ALERT_FIRING,
    ALERT_PENDING,
    FAULT_INJECT,
    FAULT_REVERT,
    INCIDENT_OPENED,
    NOTE,
    NOTIFICATION,
    Timeline,
)

pytestmark = pytest.mark.unit


@dataclass(frozen=True)
class Floor:
    total: float
    resolve_total: float


FLOORS = {"HighErrorRate": Floor(2.85, 5.85), "ServiceDown": Floor(2.05, 0.85)}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def timeline(clock: Clock) -> Timeline:
    return Timeline("t", clock=clock, wall_clock=clock)


def test_one_fault_gives_every_step_from_its_mark(timeline: Timeline) -> None:
    timeline.mark(FAULT_INJECT, "error_rate", at=100.0)
    timeline.mark(ALERT_PENDING, "HighErrorRate", at=100.4)
    timeline.mark(NOTIFICATION, "slack:#c", at=102.6, alert="HighErrorRate", status="firing")
    timeline.mark(NOTIFICATION, "webhook:i", at=102.5, alert="HighErrorRate", status="firing")
    timeline.mark(ALERT_FIRING, "HighErrorRate", at=102.7)
    timeline.mark(INCIDENT_OPENED, "HighErrorRate", at=102.55)
    timeline.mark(FAULT_REVERT, "error_rate", at=110.0)
    timeline.mark(NOTIFICATION, "slack:#c", at=115.0, alert="HighErrorRate", status="resolved")

    (sample,) = samples("t", timeline, FLOORS)
    assert sample.fault == "error_rate"
    assert (sample.floor, sample.resolve_floor) == (2.85, 5.85)
    assert sample.pending == pytest.approx(0.4)
    assert sample.firing == pytest.approx(2.7)
    assert sample.notification == pytest.approx(2.5)  # the first receiver told
    assert sample.incident == pytest.approx(2.55)
    assert sample.resolved_notification == pytest.approx(5.0)


def test_overlapping_faults_do_not_count(timeline: Timeline) -> None:
    timeline.mark(FAULT_INJECT, "outage:probe", at=100.0)
    timeline.mark(ALERT_FIRING, "ServiceDown", at=101.3)
    timeline.mark(FAULT_INJECT, "error_rate", at=102.0)
    # Caused by which? Two faults are in place: not a sample.
    timeline.mark(ALERT_FIRING, "HighErrorRate", at=104.5)
    timeline.mark(FAULT_REVERT, "outage:probe", at=106.0)
    # After a revert, a firing notification belongs to no injection.
    timeline.mark(NOTIFICATION, "slack:#c", at=106.2, alert="HighErrorRate", status="firing")
    # The all-clear of ServiceDown while error_rate is still injected: not a sample either.
    timeline.mark(NOTIFICATION, "slack:#c", at=106.2, alert="ServiceDown", status="resolved")

    (sample,) = samples("t", timeline, FLOORS)
    assert sample.alert == "ServiceDown"
    assert sample.firing == pytest.approx(1.3)
    assert sample.resolved_notification is None


def test_a_drill_can_exclude_itself(timeline: Timeline) -> None:
    timeline.mark(NOTE, EXCLUDED, at=99.0, why="silenced")
    timeline.mark(FAULT_INJECT, "auth-failure-storm", at=100.0)
    timeline.mark(NOTIFICATION, "slack:#s", at=106.0, alert="HighErrorRate", status="firing")
    assert samples("t", timeline, FLOORS) == ()


def test_table_medians_and_json_round_trip(tmp_path: Path) -> None:
    table = LatencyTable()
    found = [
        LatencySample("a", "HighErrorRate", "error_rate", 2.85, 5.85, notification=n)
        for n in (2.4, 2.6, 3.9)
    ]
    table.add_json(samples_json(found))
    table.add([LatencySample("b", "ServiceDown", "kill:service", 2.05, 0.85, firing=1.2)])

    rows = {row["alert"]: row for row in table.summary()}
    assert rows["HighErrorRate"]["notification"] == 2.6
    assert rows["HighErrorRate"]["samples"] == 3
    assert rows["ServiceDown"]["notification"] is None
    text = table.render_text()
    assert "HighErrorRate" in text and "2.60" in text and "-" in text

    written = json.loads(table.write(tmp_path / "latency.json").read_text(encoding="utf-8"))
    assert written["schema"] == SCHEMA
    assert tuple(LatencySample.from_json(s) for s in written["samples"]) == table.samples


def test_a_malformed_sample_is_refused() -> None:
    with pytest.raises(ValueError, match="firing must be a number"):
        LatencySample.from_json(
            {"test": "t", "alert": "A", "fault": "f", "floor": 1.0, "firing": "slow"}
        )


def test_a_row_keeps_floor_and_signal_together_across_drills() -> None:
    """One drill of an alert gives a signal, another (a load scenario) none: the row's floor
    and signal are medians of the same samples, so floor - signal is the configured floor."""
    table = LatencyTable()
    table.add(
        [
            LatencySample("a", "SlowDatabaseQueries", "f", 5.85, 5.85, None, notification=6.0),
            LatencySample("b", "SlowDatabaseQueries", "f", 7.15, 6.9, 1.3, notification=7.0),
            LatencySample("c", "ServiceDown", "f", 2.05, 0.85, None, notification=1.0),
        ]
    )
    rows = {row["alert"]: row for row in table.summary()}
    slow = rows["SlowDatabaseQueries"]
    assert (slow["floor"], slow["signal"], slow["notification"]) == (6.5, 0.65, 6.5)
    assert rows["ServiceDown"]["signal"] is None
