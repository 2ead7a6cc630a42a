"""A session on a shared stack settles only on what it caused (alertdrill.session_scope), while
on the harness's own stacks every active alert still holds the reset. In-memory fakes for
Prometheus, Alertmanager and the receivers; nothing is contacted."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

import alertdrill.session as session_module
from alertdrill.clients.service import ServiceClient, ServiceFaultRecord
from alertdrill.errors import ExpectationFailed
from alertdrill.receivers.records import FrozenMap, Notification, SlackMessage, Status
from alertdrill.session import DrillSession
from alertdrill.session_scope import (
    NO_BASELINE,
    AlertBaseline,
    OwnFaultsServiceClient,
    is_shared,
)
from alertdrill.stack.external import ExternalStack
from alertdrill.stack.live_config import live_rendered_config
from alertdrill.stack.local import MONITORING_DIR
from alertdrill.timing import eventually
from tests.unit.test_external_stack import (
    ALERTMANAGER_YAML,
    RULES,
    STATUS_CONFIG,
    _stack,
)

pytestmark = pytest.mark.unit

T = TypeVar("T")


@dataclass(frozen=True)
class PromAlert:
    name: str
    labels: FrozenMap
    state: str = "firing"
    active_at: None = None
    value: float = 1.0


@dataclass(frozen=True)
class AmAlert:
    fingerprint: str
    labels: FrozenMap
    state: str = "active"
    inhibited_by: tuple[str, ...] = ()
    receivers: tuple[str, ...] = ()
    starts_at: None = None


def prom(name: str, **labels: str) -> PromAlert:
    return PromAlert(name, FrozenMap({"alertname": name, **labels}))


def am(fingerprint: str, name: str, **labels: str) -> AmAlert:
    return AmAlert(fingerprint, FrozenMap({"alertname": name, **labels}))


@dataclass
class FakePrometheus:
    current: list[PromAlert] = field(default_factory=list)

    def alerts(self) -> tuple[PromAlert, ...]:
        return tuple(self.current)


@dataclass
class FakeAlertmanager:
    current: list[AmAlert] = field(default_factory=list)

    def alerts(self) -> tuple[AmAlert, ...]:
        return tuple(self.current)


def slack(alert: str, status: Status, at: float) -> SlackMessage:
    return SlackMessage(
        name="alertmanager", channel="#staging", username="am", status=status, firing_count=1,
        alertname=alert, title=f"[{status.upper()}] {alert}", text="", fallback="", color="",
        arrived_at=at, wall_time=0.0,
    )  # fmt: skip


class FakeCapture:
    """A receiver sink; ``chatty`` alerts deliver a firing repeat at every read (someone
    else's alert that keeps notifying: the receivers never go quiet if it counts)."""

    def __init__(self) -> None:
        self.kept: list[SlackMessage] = []
        self.chatty: list[str] = []

    def records(self) -> tuple[SlackMessage, ...]:
        now = time.monotonic()
        return (*self.kept, *(slack(name, "firing", now) for name in self.chatty))

    def notifications(self) -> tuple[Notification, ...]:
        return tuple(n for r in self.records() for n in r.notifications())

    def pagerduty(self) -> tuple[()]:
        return ()

    def clear(self) -> None:
        self.kept.clear()

    def wait_for(self, predicate: Callable[[], T | None], *, within: float | str, what: str) -> T:
        return eventually(predicate, within=within, every=0.01, what=what)


class Owned:
    """The same stack as the harness's own backends look to the session: no ``shared``."""

    def __init__(self, inner: ExternalStack) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        if name == "shared":
            raise AttributeError(name)
        return getattr(self._inner, name)


@dataclass
class Rig:
    session: DrillSession
    prometheus: FakePrometheus
    alertmanager: FakeAlertmanager
    receivers: FakeCapture


def _rig(tmp_path: Path, *, shared: bool) -> Rig:
    # No service faults allowed: the reset then has nothing of the service to clean (that
    # part is tested below against the client itself).
    stack = _stack(allow=frozenset())
    stack._rendered = live_rendered_config(
        STATUS_CONFIG, RULES, ALERTMANAGER_YAML, tmp_path / "live", monitoring_dir=MONITORING_DIR
    )
    receivers = FakeCapture()
    stack.receivers = receivers  # type: ignore[assignment]
    session = DrillSession(stack if shared else Owned(stack))  # type: ignore[arg-type]
    rig = Rig(session, FakePrometheus(), FakeAlertmanager(), receivers)
    session.close()  # the real clients: never used, the fakes replace them
    session.prometheus = rig.prometheus  # type: ignore[assignment]
    session.alertmanager = rig.alertmanager  # type: ignore[assignment]
    return rig


@pytest.fixture
def short_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_module, "RESET_TIMEOUT", 0.5)


def _someone_elses(rig: Rig) -> None:
    """A staging alert firing for days: in Prometheus, in Alertmanager (with the external
    label Prometheus adds), and repeating its Slack notification."""
    rig.prometheus.current.append(prom("DiskWillFillIn4Hours", instance="db-7"))
    rig.alertmanager.current.append(
        am("f-disk", "DiskWillFillIn4Hours", instance="db-7", cluster="staging")
    )
    rig.receivers.chatty.append("DiskWillFillIn4Hours")


# -- the baseline ----------------------------------------------------------------------------


def test_the_baseline_is_the_label_sets_active_at_the_snapshot() -> None:
    baseline = AlertBaseline.take(
        FakePrometheus([prom("HighErrorRate", service="billing")]),
        FakeAlertmanager([am("f1", "InstanceDown", instance="a")]),
    )
    assert baseline and baseline.alertnames == {"HighErrorRate", "InstanceDown"}
    assert baseline.foreign_prometheus(prom("HighErrorRate", service="billing"))
    # Same name, other labels: a drill's own alert, waited for.
    assert not baseline.foreign_prometheus(prom("HighErrorRate", service="backend"))
    assert baseline.foreign_alertmanager(am("f1", "InstanceDown", instance="a"))
    assert not baseline.foreign_alertmanager(am("f2", "InstanceDown", instance="b"))
    # A baseline Prometheus alert that reached Alertmanager after the snapshot, external
    # label added: still someone else's.
    assert baseline.foreign_alertmanager(
        am("f3", "HighErrorRate", service="billing", cluster="staging")
    )
    assert not baseline.foreign_alertmanager(
        am("f4", "HighErrorRate", service="backend", cluster="staging")
    )
    note = slack("InstanceDown", "firing", 0.0).notifications()[0]
    assert baseline.foreign_notification(note)
    mixed = Notification(
        "webhook", "webhook:x", "InstanceDown", "firing", 0.0, ("InstanceDown", "X")
    )
    assert not baseline.foreign_notification(mixed)
    assert not NO_BASELINE and not NO_BASELINE.foreign_notification(note)
    assert "InstanceDown" in baseline.describe()


def test_only_a_stack_that_says_so_is_shared(tmp_path: Path) -> None:
    stack = _stack()
    assert is_shared(stack)
    assert not is_shared(Owned(stack))
    assert not is_shared(object())


# -- the reset -------------------------------------------------------------------------------


def test_a_shared_reset_ignores_alerts_active_before_the_session(
    tmp_path: Path, short_reset: None
) -> None:
    rig = _rig(tmp_path, shared=True)
    _someone_elses(rig)
    began = time.monotonic()
    rig.session.begin("first")
    # Neither the firing alert nor its repeats held the reset (quiet window 0.5 s; an owed
    # all-clear would have waited > 10 s).
    assert time.monotonic() - began < 3.0
    assert rig.session.baseline.alertnames == {"DiskWillFillIn4Hours"}

    # Positive control: an alert the session's drill caused holds the reset, named.
    rig.prometheus.current.append(prom("HighErrorRate", service="backend"))
    with pytest.raises(ExpectationFailed, match=r"previous drill to resolve.*DiskWillFillIn4Hours"):
        rig.session.settle()
    rig.prometheus.current.pop()
    rig.alertmanager.current.append(am("f-mine", "HighErrorRate", service="backend"))
    with pytest.raises(ExpectationFailed, match="Alertmanager to hold no active alert"):
        rig.session.settle()
    rig.alertmanager.current.pop()
    # ... and so does its owed all-clear (quiet window only here: the owed wait is bounded).
    rig.receivers.kept.append(slack("HighErrorRate", "firing", time.monotonic()))
    assert rig.session._owed_all_clear() == [("slack:#staging", "HighErrorRate")]
    rig.receivers.kept.clear()
    rig.session.begin("second")  # the baseline stays the first snapshot
    assert rig.session.baseline.alertnames == {"DiskWillFillIn4Hours"}


def test_an_owned_reset_still_waits_for_every_alert(tmp_path: Path, short_reset: None) -> None:
    rig = _rig(tmp_path, shared=False)
    _someone_elses(rig)
    with pytest.raises(ExpectationFailed, match="previous drill to resolve") as caught:
        rig.session.begin("first")
    assert "ignored" not in str(caught.value)
    assert rig.session.baseline is NO_BASELINE
    rig.prometheus.current.clear()
    with pytest.raises(ExpectationFailed, match="Alertmanager to hold no active alert"):
        rig.session.settle()
    # Positive control: with nothing active and quiet receivers it settles.
    rig.alertmanager.current.clear()
    rig.receivers.chatty.clear()
    rig.session.begin("first")


def test_no_notification_at_all_skips_someone_elses_alerts_on_a_shared_stack(
    tmp_path: Path, short_reset: None
) -> None:
    rig = _rig(tmp_path, shared=True)
    _someone_elses(rig)
    rig.session.begin("quiet")
    rig.session.expect.no_notification(during=0.2)
    # Positive control: one of this drill's notifications fails it; so does naming the
    # foreign alert explicitly (every notification of a named alert counts).
    with pytest.raises(ExpectationFailed, match="DiskWillFillIn4Hours"):
        rig.session.expect.no_notification(during=0.2, alert="DiskWillFillIn4Hours")
    rig.receivers.chatty.append("HighErrorRate")
    with pytest.raises(ExpectationFailed, match="HighErrorRate"):
        rig.session.expect.no_notification(during=0.2)


def test_an_exact_receiver_set_is_not_disturbed_by_another_alert(
    tmp_path: Path, short_reset: None
) -> None:
    rig = _rig(tmp_path, shared=True)
    _someone_elses(rig)  # notifies slack:#staging, outside the expected set, all the time
    rig.session.begin("exact")
    rig.receivers.kept.append(slack("HighErrorRate", "firing", time.monotonic()))
    got = rig.session.expect.notified({"slack:#staging"}, alert="HighErrorRate", within=1)
    assert [n.alertname for n in got] == ["HighErrorRate"]


# -- own service faults ------------------------------------------------------------------------


def test_the_own_faults_client_deletes_only_what_it_added(monkeypatch: pytest.MonkeyPatch) -> None:
    active = {"theirs": "error_rate"}
    deleted: list[str] = []

    def add_fault(
        self: ServiceClient, kind: str, *, duration_seconds: float, **params: object
    ) -> ServiceFaultRecord:
        fault_id = f"mine-{len(active)}"
        active[fault_id] = kind
        return ServiceFaultRecord(id=fault_id, kind=kind, created_at=None, expires_at=None)

    def delete_fault(self: ServiceClient, fault_id: str) -> bool:
        deleted.append(fault_id)
        return active.pop(fault_id, None) is not None

    monkeypatch.setattr(ServiceClient, "add_fault", add_fault)
    monkeypatch.setattr(ServiceClient, "delete_fault", delete_fault)
    client = OwnFaultsServiceClient("http://127.0.0.1:9", faults_token="t")
    try:
        first = client.add_fault("latency", duration_seconds=30, delay_ms=10)
        second = client.add_fault("error_rate", duration_seconds=30)
        assert client.own_fault_ids == (first.id, second.id)
        client.delete_fault(first.id)  # reverted normally: no longer owed
        active.pop(second.id)  # expired on the service meanwhile
        third = client.add_fault("cpu_hog", duration_seconds=30)
        assert client.clear_own_faults() == 1  # the third; the second was already gone
        assert deleted == [first.id, second.id, third.id]
        assert active == {"theirs": "error_rate"}
        assert client.own_fault_ids == ()
    finally:
        client.close()
