"""Expectations against in-memory fakes whose state changes on a script (seconds from start)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

import pytest

from alertdrill.errors import ConfigError, ExpectationFailed
from alertdrill.expect import Expect, HttpObservation
from alertdrill.expect.budget import resolve_budget
from alertdrill.receivers.records import FrozenMap, Notification, PagerDutyEvent, Status
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
    Timeline,
)
from alertdrill.timing import eventually

pytestmark = pytest.mark.unit

T = TypeVar("T")
S = TypeVar("S")


class Script(Generic[S]):
    """A value that changes over time: ``[(0, a), (0.1, b)]`` is a until 0.1 s, then b."""

    def __init__(self, steps: Sequence[tuple[float, S]]) -> None:
        self.start = time.monotonic()
        self.steps = sorted(steps, key=lambda step: step[0])

    def now(self) -> S:
        elapsed = time.monotonic() - self.start
        current = self.steps[0][1]
        for offset, value in self.steps:
            if offset <= elapsed:
                current = value
        return current


@dataclass(frozen=True)
class FakeAlert:
    name: str
    state: str
    active_at: datetime | None = None
    value: float = 1.0
    labels: FrozenMap = field(default_factory=FrozenMap)


class FakePrometheus:
    def __init__(self, steps: Sequence[tuple[float, tuple[FakeAlert, ...]]] = ((0, ()),)) -> None:
        self.script = Script(steps)
        self.broken = False

    def alerts(self) -> tuple[FakeAlert, ...]:
        if self.broken:
            raise ConnectionError("prometheus is down")
        return self.script.now()


@dataclass(frozen=True)
class FakeAmAlert:
    fingerprint: str
    labels: FrozenMap
    state: str = "active"
    inhibited_by: tuple[str, ...] = ()
    receivers: tuple[str, ...] = ()
    starts_at: datetime | None = None


class FakeAlertmanager:
    def __init__(self, alerts: tuple[FakeAmAlert, ...] = ()) -> None:
        self.current = alerts

    def alerts(self) -> tuple[FakeAmAlert, ...]:
        return self.current


@dataclass(frozen=True)
class FakeIncident:
    id: int
    status: str
    alertname: str
    created_at: datetime | None = None
    resolved_at: datetime | None = None


class FakeService:
    def __init__(
        self, steps: Sequence[tuple[float, tuple[FakeIncident, ...]]] = ((0, ()),)
    ) -> None:
        self.script = Script(steps)

    def incidents(self) -> tuple[FakeIncident, ...]:
        return self.script.now()


class FakeReceivers:
    """Deliveries due at set times; ``wait_for`` polls like the hub (which is woken instead)."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self._due: list[Notification] = []
        self._pagerduty: list[PagerDutyEvent] = []

    def deliver(
        self, receiver: str, alert: str, status: Status = "firing", *, after: float = 0.0
    ) -> None:
        kind = receiver.split(":", 1)[0]
        self._due.append(
            Notification(kind, receiver, alert, status, self.start + after, (alert,))  # type: ignore[arg-type]
        )

    def page(self, alert: str, action: str, dedup_key: str, *, after: float = 0.0) -> None:
        self._pagerduty.append(
            PagerDutyEvent(
                routing_key="key", event_action=action, dedup_key=dedup_key,  # type: ignore[arg-type]
                summary=f"[FIRING:1] {alert}", source="", severity="critical", component="",
                group="", event_class="", custom_details=FrozenMap(), client="", client_url="",
                links=(), images=(), alertname=alert, arrived_at=self.start + after,
                wall_time=0.0,
            )
        )  # fmt: skip

    def notifications(self) -> tuple[Notification, ...]:
        now = time.monotonic()
        return tuple(sorted((n for n in self._due if n.arrived_at <= now), key=_arrival))

    def pagerduty(self) -> tuple[PagerDutyEvent, ...]:
        now = time.monotonic()
        return tuple(e for e in self._pagerduty if e.arrived_at <= now)

    def wait_for(self, predicate: Callable[[], T | None], *, within: float | str, what: str) -> T:
        return eventually(predicate, within=within, every=0.005, what=what)


def _arrival(n: Notification) -> float:
    return n.arrived_at


@dataclass(frozen=True)
class Floor:
    total: float
    resolve_total: float
    firing: float | None = None


def ago(seconds: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)


@dataclass
class Rig:
    prometheus: FakePrometheus = field(default_factory=FakePrometheus)
    alertmanager: FakeAlertmanager = field(default_factory=FakeAlertmanager)
    receivers: FakeReceivers = field(default_factory=FakeReceivers)
    service: FakeService = field(default_factory=FakeService)
    timeline: Timeline = field(default_factory=lambda: Timeline("unit"))
    http_status: int = 200

    def expect(self, floors: dict[str, Floor] | None = None, slack: float = 0.1) -> Expect:
        return Expect(
            self.prometheus, self.alertmanager, self.receivers, self.service, self.timeline,
            floors, slack, settle=0.1, poll=0.01,
            http_get=lambda url, timeout: HttpObservation(self.http_status, f"GET {url}"),
        )  # fmt: skip


@pytest.fixture
def rig() -> Rig:
    return Rig()


# -- alerts -------------------------------------------------------------------


def test_firing_is_detected_and_marked(rig: Rig) -> None:
    active = ago(0.5)
    rig.timeline.mark(FAULT_INJECT, "error_rate", at=time.monotonic() - 1.0)
    rig.prometheus = FakePrometheus(
        [
            (0, ()),
            (0.03, (FakeAlert("HighErrorRate", "pending", active),)),
            (0.08, (FakeAlert("HighErrorRate", "firing", active, value=0.7),)),
        ]
    )
    expect = rig.expect({"HighErrorRate": Floor(total=5, resolve_total=5, firing=0.9)})
    assert expect.alert("HighErrorRate").pending(within=1).state == "pending"
    alert = expect.alert("HighErrorRate").firing(within=1)
    assert alert.value == 0.7
    pending = rig.timeline.first(ALERT_PENDING, "HighErrorRate")
    assert pending is not None
    assert pending.at == pytest.approx(time.monotonic() - 0.5 - 0.08, abs=0.05)  # activeAt
    assert len([e for e in rig.timeline.events if e.kind == ALERT_PENDING]) == 1  # marked once
    firing = rig.timeline.first(ALERT_FIRING, "HighErrorRate")
    assert firing is not None and firing.floor == 0.9 and firing.details["value"] == 0.7
    steps = {lat.step: lat for lat in rig.timeline.latencies()}
    assert steps["alert.firing HighErrorRate"].seconds == pytest.approx(1.08, abs=0.05)
    outcomes = [e.details["outcome"] for e in rig.timeline.events if e.kind == EXPECTATION]
    assert outcomes == ["passed", "passed"]


def test_labels_narrow_the_alert(rig: Rig) -> None:
    labels = FrozenMap({"alertname": "ServiceDown", "service": "backend"})
    rig.prometheus = FakePrometheus([(0, (FakeAlert("ServiceDown", "firing", labels=labels),))])
    expect = rig.expect()
    expect.alert("ServiceDown", service="backend").firing(within=0.2)
    with pytest.raises(ExpectationFailed, match=r'ServiceDown\{service="redis"\} firing'):
        expect.alert("ServiceDown", service="redis").firing(within=0.05)


def test_a_timeout_reports_the_last_observation_elapsed_and_timeline(rig: Rig) -> None:
    rig.prometheus = FakePrometheus([(0, (FakeAlert("HighErrorRate", "pending", ago(1)),))])
    rig.timeline.mark(FAULT_INJECT, "error_rate")
    with pytest.raises(ExpectationFailed) as caught:
        rig.expect().alert("HighErrorRate").firing(within=0.15)
    error = caught.value
    assert 0.15 <= error.elapsed < 0.5
    assert "HighErrorRate pending since" in str(error.last_observation)
    assert error.timeline is not None and "fault.inject" in error.timeline
    assert "outcome=failed" in error.timeline
    text = str(error)
    assert "not within 0.15s" in text and "waited" in text and "timeline:" in text


def test_a_probe_that_keeps_failing_is_reported(rig: Rig) -> None:
    rig.prometheus.broken = True
    with pytest.raises(ExpectationFailed) as caught:
        rig.expect().alert("HighErrorRate").firing(within=0.05)
    assert "prometheus is down" in str(caught.value.last_observation)


def test_resolved_waits_for_the_alert_to_disappear(rig: Rig) -> None:
    rig.prometheus = FakePrometheus([(0, (FakeAlert("HighErrorRate", "firing"),)), (0.05, ())])
    rig.expect().alert("HighErrorRate").resolved(within=1)
    assert rig.timeline.first(ALERT_RESOLVED, "HighErrorRate") is not None


def test_not_firing_fails_when_the_alert_fires_and_passes_on_pending(rig: Rig) -> None:
    rig.prometheus = FakePrometheus([(0, (FakeAlert("HighErrorRate", "pending"),))])
    rig.expect().alert("HighErrorRate").not_firing(during=0.1)

    rig.prometheus = FakePrometheus([(0, ()), (0.03, (FakeAlert("HighErrorRate", "firing"),))])
    started = time.monotonic()
    with pytest.raises(ExpectationFailed, match="violated") as caught:
        rig.expect().alert("HighErrorRate").not_firing(during=1)
    assert time.monotonic() - started < 0.5  # fails at once, not at the window's end
    assert "firing" in str(caught.value.last_observation)


def test_not_firing_fails_when_prometheus_could_not_be_asked(rig: Rig) -> None:
    rig.prometheus.broken = True
    with pytest.raises(ExpectationFailed, match="could not observe"):
        rig.expect().alert("HighErrorRate").not_firing(during=0.05)


# -- floors ---------------------------------------------------------------------


def test_floor_means_floor_plus_slack(rig: Rig) -> None:
    floors = {"HighErrorRate": Floor(total=0.05, resolve_total=0.05)}
    started = time.monotonic()
    with pytest.raises(ExpectationFailed, match=r"floor 0\.050s \+ slack 0\.05s"):
        rig.expect(floors, slack=0.05).alert("HighErrorRate").firing(within="floor")
    assert 0.1 <= time.monotonic() - started < 0.35
    budget = resolve_budget(
        "floor", alert="HighErrorRate", phase="resolve", floors=floors, slack=0.1,
        timeline=rig.timeline,
    )  # fmt: skip
    assert budget.seconds == pytest.approx(0.15)


def test_floor_counts_from_the_fault_mark(rig: Rig) -> None:
    floors = {"X": Floor(total=10, resolve_total=4)}
    rig.timeline.mark(FAULT_INJECT, "f", at=time.monotonic() - 3)
    detect = resolve_budget(
        "floor", alert="X", phase="detect", floors=floors, slack=2, timeline=rig.timeline
    )
    assert detect.seconds == pytest.approx(9, abs=0.05)
    assert "from fault.inject 'f'" in detect.text
    # No revert yet: a resolve budget counts from now.
    resolve = resolve_budget(
        "floor", alert="X", phase="resolve", floors=floors, slack=2, timeline=rig.timeline
    )
    assert resolve.seconds == 6
    rig.timeline.mark(FAULT_REVERT, "f", at=time.monotonic() - 1)
    resolve = resolve_budget(
        "floor", alert="X", phase="resolve", floors=floors, slack=2, timeline=rig.timeline
    )
    assert resolve.seconds == pytest.approx(5, abs=0.05)
    assert resolve_budget(
        "5s", alert=None, phase="detect", floors=None, slack=2, timeline=rig.timeline
    ).seconds == 5  # fmt: skip


def test_floor_without_a_floor_is_a_config_error(rig: Rig) -> None:
    with pytest.raises(ConfigError, match="no detection floor for alert 'Nope'"):
        rig.expect({"Other": Floor(1, 1)}).alert("Nope").firing(within="floor")


# -- notifications ----------------------------------------------------------------

CRITICAL = {"slack:#alerts-critical", "pagerduty:key", "webhook:incident"}


def test_notified_exact_set_passes_and_marks_arrivals(rig: Rig) -> None:
    for i, receiver in enumerate(sorted(CRITICAL)):
        rig.receivers.deliver(receiver, "HighErrorRate", after=0.02 + i * 0.01)
    rig.receivers.deliver("slack:#ops", "HighCPUUsage", after=0.03)  # another alert: fine
    rig.receivers.deliver("slack:#alerts", "HighErrorRate", "resolved")  # another status: fine
    floors = {"HighErrorRate": Floor(total=1.5, resolve_total=1)}
    got = rig.expect(floors).notified(CRITICAL, alert="HighErrorRate", within=1)
    assert [n.receiver for n in got] == sorted(CRITICAL)
    marks = [e for e in rig.timeline.events if e.kind == NOTIFICATION]
    assert {e.what for e in marks} == CRITICAL
    assert {e.at for e in marks} == {n.arrived_at for n in got}
    assert all(e.floor == 1.5 and e.details["status"] == "firing" for e in marks)


def test_an_extra_receiver_fails_the_exact_set_naming_it(rig: Rig) -> None:
    for receiver in CRITICAL:
        rig.receivers.deliver(receiver, "HighErrorRate", after=0.01)
    rig.receivers.deliver("slack:#alerts", "HighErrorRate", after=0.05)  # within the settle
    with pytest.raises(ExpectationFailed, match=r"also notified \['slack:#alerts'\]"):
        rig.expect().notified(CRITICAL, alert="HighErrorRate", within=1)


def test_a_missing_receiver_times_out(rig: Rig) -> None:
    rig.receivers.deliver("slack:#alerts-critical", "HighErrorRate")
    with pytest.raises(ExpectationFailed, match=r"not within 0\.1s") as caught:
        rig.expect().notified(CRITICAL, alert="HighErrorRate", within=0.1)
    assert caught.value.elapsed >= 0.1


def test_no_notification_fails_when_one_arrives(rig: Rig) -> None:
    rig.receivers.deliver("slack:#ops", "HighCPUUsage", after=0.02)  # another alert: quiet
    rig.expect().no_notification(during=0.06, alert="HighErrorRate")
    rig.receivers.deliver("slack:#ops", "HighCPUUsage", after=0.1)
    with pytest.raises(ExpectationFailed, match="slack:#ops HighCPUUsage firing") as caught:
        rig.expect().no_notification(during=1)
    assert caught.value.elapsed < 0.5
    assert rig.timeline.first(NOTIFICATION, "slack:#ops") is not None


def test_no_notification_passes_on_silence(rig: Rig) -> None:
    rig.receivers.deliver("slack:#ops", "HighCPUUsage", after=-1)  # before the window
    rig.receivers.deliver("slack:#ops", "HighCPUUsage", after=0.12)
    rig.expect().no_notification(during=0.05)
    with pytest.raises(ExpectationFailed, match="slack:#ops HighCPUUsage firing"):
        rig.expect().no_notification(during=0.2)


def test_pagerduty_resolve_must_reuse_the_dedup_key(rig: Rig) -> None:
    rig.receivers.page("HighErrorRate", "trigger", "k1")
    rig.receivers.page("HighErrorRate", "resolve", "k1", after=0.02)
    pagerduty = rig.expect().pagerduty("HighErrorRate")
    assert pagerduty.triggered(within=1).dedup_key == "k1"
    assert pagerduty.resolved(within=1).event_action == "resolve"
    assert rig.timeline.first(NOTIFICATION, "pagerduty:key") is not None

    other = Rig()
    other.receivers.page("HighErrorRate", "trigger", "k1")
    other.receivers.page("HighErrorRate", "resolve", "k2")
    with pytest.raises(ExpectationFailed, match="dedup_key 'k2' matches no trigger"):
        other.expect().pagerduty("HighErrorRate").resolved(within=1)


# -- Alertmanager -------------------------------------------------------------------


def test_alertmanager_received_routed_and_inhibited(rig: Rig) -> None:
    down = FakeAmAlert("f1", FrozenMap({"alertname": "ServiceDown"}), receivers=("critical",))
    errors = FakeAmAlert(
        "f2", FrozenMap({"alertname": "HighErrorRate"}), state="suppressed",
        inhibited_by=("f1",), receivers=("critical", "incident-webhook"),
    )  # fmt: skip
    rig.alertmanager.current = (down, errors)
    expect = rig.expect()
    expect.alertmanager("ServiceDown").received(within=0.1)
    expect.alertmanager("HighErrorRate").routed_to({"critical", "incident-webhook"}, within=0.1)
    expect.alertmanager("HighErrorRate").inhibited(by="ServiceDown", within=0.1)
    with pytest.raises(ExpectationFailed, match="routes HighErrorRate to exactly"):
        expect.alertmanager("HighErrorRate").routed_to({"critical"}, within=0.03)
    with pytest.raises(ExpectationFailed, match="inhibits HighErrorRate by DatabaseDown"):
        expect.alertmanager("HighErrorRate").inhibited(by="DatabaseDown", within=0.03)


# -- incidents and HTTP -----------------------------------------------------------------


def test_incident_opened_resolved_and_counted_with_its_own_timestamps(rig: Rig) -> None:
    created, resolved = ago(2), ago(0.5)
    rig.service = FakeService(
        [
            (0, ()),
            (0.02, (FakeIncident(7, "open", "HighErrorRate", created),)),
            (0.05, (FakeIncident(7, "resolved", "HighErrorRate", created, resolved),)),
        ]
    )
    expect = rig.expect()
    assert expect.incident("HighErrorRate").opened(within=1).id == 7
    assert expect.incident("HighErrorRate").resolved(within=1).status == "resolved"
    assert len(expect.incident("HighErrorRate").count(1)) == 1
    assert expect.incident("HighCPUUsage").count(0) == ()
    opened = rig.timeline.first(INCIDENT_OPENED, "HighErrorRate")
    closed = rig.timeline.first(INCIDENT_RESOLVED, "HighErrorRate")
    assert opened is not None and closed is not None
    assert closed.at - opened.at == pytest.approx(1.5, abs=0.05)
    with pytest.raises(ExpectationFailed, match="exactly 2 incident"):
        expect.incident("HighErrorRate").count(2)


def test_http_status(rig: Rig) -> None:
    rig.http_status = 503
    expect = rig.expect()
    assert expect.http("http://127.0.0.1:1/", "/health/ready").status(503).status_code == 503
    with pytest.raises(ExpectationFailed, match=r"/health/live → 200") as caught:
        expect.http("http://127.0.0.1:1", "health/live").status(200, within=0.03)
    observed = caught.value.last_observation
    assert isinstance(observed, HttpObservation) and observed.status_code == 503


def test_expectations_mark_from_other_threads_safely(rig: Rig) -> None:
    # The fault helpers mark from their own threads while the test thread waits.
    rig.prometheus = FakePrometheus([(0, ()), (0.05, (FakeAlert("A", "firing"),))])
    marker = threading.Thread(target=lambda: rig.timeline.mark(FAULT_INJECT, "f"))
    marker.start()
    rig.expect().alert("A").firing(within=1)
    marker.join(timeout=1)
    assert rig.timeline.first(FAULT_INJECT) is not None


@dataclass(frozen=True)
class JournalLine:
    fault: str
    action: str
    at_monotonic: float
    detail: str = ""


class FakeJournal:
    def __init__(self) -> None:
        self.lines: list[JournalLine] = []

    def events(self) -> tuple[JournalLine, ...]:
        return tuple(self.lines)


def test_the_fault_journal_anchors_floor_budgets(rig: Rig) -> None:
    journal = FakeJournal()
    expect = Expect(
        rig.prometheus, rig.alertmanager, rig.receivers, rig.service, rig.timeline,
        {"HighErrorRate": Floor(total=0.2, resolve_total=1)}, 0.05, poll=0.01,
        fault_journal=journal,
    )  # fmt: skip
    # Injected 0.2 s ago: of floor 0.2 + slack 0.05, only 0.05 s are left.
    journal.lines.append(JournalLine("error_rate", "inject", time.monotonic() - 0.2))
    started = time.monotonic()
    with pytest.raises(ExpectationFailed, match=r"from fault\.inject 'error_rate'") as caught:
        expect.alert("HighErrorRate").firing(within="floor")
    assert time.monotonic() - started < 0.2
    assert caught.value.timeline is not None and "fault.inject" in caught.value.timeline
    assert expect.timeline.first(FAULT_INJECT, "error_rate") is not None
