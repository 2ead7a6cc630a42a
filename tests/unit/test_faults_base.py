"""Fault base: journal, idempotent revert, registry finalizer, watchdog, collected errors."""

from __future__ import annotations

import threading

import pytest

from alertdrill.clients.service import ServiceClient
from alertdrill.errors import FaultError, StackError
from alertdrill.faults import (
    BaseFault,
    ErrorRate,
    Fault,
    FaultJournal,
    FaultRegistry,
    KillProcess,
    Latency,
    PauseProcess,
    StopProcess,
)
from alertdrill.timing import eventually

pytestmark = pytest.mark.unit


class FakeFault(BaseFault):
    """Counts hook calls; fails inject/revert while told to."""

    def __init__(self, name: str = "fake", **kwargs: object) -> None:
        super().__init__(name, **kwargs)  # type: ignore[arg-type]
        self.calls: list[str] = []
        self.fail_inject = False
        self.fail_revert = 0  # how many reverts fail before one succeeds
        self.refuse = False

    def describe(self) -> str:
        return f"fake fault {self.name}"

    def _precheck(self) -> None:
        if self.refuse:
            raise FaultError(f"{self.name}: refused")

    def _inject(self) -> str:
        self.calls.append("inject")
        if self.fail_inject:
            raise RuntimeError("boom on inject")
        return "applied"

    def _revert(self) -> str:
        self.calls.append("revert")
        if self.fail_revert:
            self.fail_revert -= 1
            raise RuntimeError("boom on revert")
        return "undone"


def actions(journal: FaultJournal) -> list[tuple[str, str]]:
    return [(e.fault, e.action) for e in journal.events()]


def test_inject_and_revert_are_journaled_in_order_with_both_clocks() -> None:
    fault = FakeFault()
    fault.inject()
    fault.revert()
    inject, revert = fault.journal.events()
    assert (inject.action, revert.action) == ("inject", "revert")
    assert inject.detail == "fake fault fake; applied"
    assert revert.detail == "undone"
    assert inject.at_monotonic <= revert.at_monotonic
    assert inject.at_wall <= revert.at_wall
    assert isinstance(fault, Fault)


def test_revert_is_idempotent_and_a_noop_before_inject() -> None:
    fault = FakeFault()
    fault.revert()
    fault.inject()
    fault.revert()
    fault.revert()
    assert fault.calls == ["inject", "revert"]
    assert actions(fault.journal) == [("fake", "inject"), ("fake", "revert")]
    assert not fault.is_injected


def test_inject_twice_is_refused_and_reinject_after_revert_works() -> None:
    fault = FakeFault()
    fault.inject()
    with pytest.raises(FaultError, match="already injected"):
        fault.inject()
    fault.revert()
    fault.inject()
    fault.revert()
    assert fault.calls == ["inject", "revert", "inject", "revert"]


def test_injected_reverts_on_success_and_on_failure() -> None:
    fault = FakeFault()
    with fault.injected() as inside:
        assert inside is fault
        assert fault.is_injected
    assert not fault.is_injected
    with pytest.raises(AssertionError, match="the check"), fault.injected():
        raise AssertionError("the check")
    assert not fault.is_injected
    assert fault.calls == ["inject", "revert", "inject", "revert"]


def test_body_error_wins_over_a_failed_revert_which_is_noted() -> None:
    registry = FaultRegistry()
    fault = FakeFault(registry=registry)
    fault.fail_revert = 1
    with pytest.raises(AssertionError) as caught, fault.injected():
        raise AssertionError("the check")
    assert "the check" in str(caught.value)
    assert any("not reverted" in note for note in caught.value.__notes__)
    # Still injected and registered: the finalizer gets another go.
    assert fault.is_injected
    assert registry.active() == (fault,)
    assert registry.revert_all().ok
    assert not fault.is_injected


def test_failed_revert_raises_and_keeps_the_fault_injected() -> None:
    fault = FakeFault()
    fault.inject()
    fault.fail_revert = 1
    with pytest.raises(FaultError, match="revert failed: boom on revert"):
        fault.revert()
    assert fault.is_injected
    fault.revert()
    assert not fault.is_injected
    assert [a for _, a in actions(fault.journal)] == ["inject", "revert-failed", "revert"]


def test_registry_tracks_injected_faults_and_revert_all_goes_newest_first() -> None:
    registry = FaultRegistry()
    journal = FaultJournal()
    first = FakeFault("first", registry=registry, journal=journal)
    second = FakeFault("second", registry=registry, journal=journal)
    third = FakeFault("third", registry=registry, journal=journal)
    for fault in (first, second, third):
        fault.inject()
    second.revert()
    assert registry.active() == (first, third)
    report = registry.revert_all()
    assert report.reverted == ("third", "first")
    assert report.ok
    report.raise_if_failed()
    assert len(registry) == 0
    assert actions(journal)[-2:] == [("third", "revert"), ("first", "revert")]


def test_revert_all_collects_every_failure_and_reports_them_together() -> None:
    registry = FaultRegistry()
    bad_a = FakeFault("bad-a", registry=registry)
    good = FakeFault("good", registry=registry)
    bad_b = FakeFault("bad-b", registry=registry)
    for fault in (bad_a, good, bad_b):
        fault.inject()
    bad_a.fail_revert = bad_b.fail_revert = 1
    report = registry.revert_all()  # does not raise
    assert report.reverted == ("good",)
    assert [f.fault for f in report.failures] == ["bad-b", "bad-a"]
    assert all("boom on revert" in f.error for f in report.failures)
    with pytest.raises(FaultError, match=r"2 fault\(s\) could not be reverted: bad-b: .*bad-a"):
        report.raise_if_failed()
    assert registry.active() == (bad_a, bad_b)
    assert registry.revert_all().reverted == ("bad-b", "bad-a")


def test_failed_inject_is_undone_journaled_and_raised() -> None:
    registry = FaultRegistry()
    fault = FakeFault(registry=registry)
    fault.fail_inject = True
    with pytest.raises(FaultError, match="inject failed: boom on inject"):
        fault.inject()
    assert fault.calls == ["inject", "revert"]
    assert [a for _, a in actions(fault.journal)] == ["inject-failed", "revert"]
    assert "undo after failed inject" in fault.journal.events()[-1].detail
    assert not fault.is_injected
    assert len(registry) == 0


def test_refused_precheck_changes_nothing() -> None:
    registry = FaultRegistry()
    fault = FakeFault(registry=registry)
    fault.refuse = True
    with pytest.raises(FaultError, match="refused"):
        fault.inject()
    assert fault.calls == []
    assert len(fault.journal) == 0
    assert len(registry) == 0


def test_watchdog_reverts_a_fault_left_injected_past_its_max_duration() -> None:
    registry = FaultRegistry()
    fault = FakeFault(max_duration=0.2, registry=registry)
    fault.inject()
    eventually(lambda: not fault.is_injected, within=5, what="watchdog revert")
    assert fault.watchdog_fired
    assert len(registry) == 0
    last = fault.journal.events()[-1]
    assert last.action == "revert"
    assert "watchdog: still injected after 0.2s" in last.detail
    inject = fault.journal.events()[0]
    assert last.at_monotonic - inject.at_monotonic >= 0.2
    fault.revert()  # the caller's own revert afterwards is a no-op
    assert fault.calls == ["inject", "revert"]


def test_a_block_outliving_the_watchdog_fails_with_fault_error() -> None:
    fault = FakeFault(max_duration=0.1)
    with pytest.raises(FaultError, match=r"reverted by its watchdog after 0\.1s"), fault.injected():
        eventually(lambda: not fault.is_injected, within=5, what="watchdog revert")


def test_watchdog_of_a_reverted_injection_does_not_touch_the_next_one() -> None:
    fault = FakeFault(max_duration=0.3)
    fault.inject()
    fault.revert()
    fault.inject()  # a new watchdog; the first one was cancelled
    assert fault.is_injected
    eventually(lambda: not fault.is_injected, within=5, what="second watchdog")
    assert fault.calls == ["inject", "revert", "inject", "revert"]
    assert len(threading.enumerate()) < 50  # watchdogs end with their injection


def test_max_duration_must_be_positive_and_finite() -> None:
    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="max_duration"):
            FakeFault(max_duration=bad)


def test_journal_is_thread_safe() -> None:
    journal = FaultJournal()

    def write() -> None:
        for _ in range(500):
            journal.record("f", "inject")

    threads = [threading.Thread(target=write) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(journal) == 4000
    assert len(journal.events("f")) == 4000
    assert journal.events("other") == ()


# -- process faults on a fake component ---------------------------------------


class FakeComponent:
    def __init__(self, *, with_shutdown: bool = True) -> None:
        self.name = "db"
        self.running = True
        self.calls: list[str] = []
        if with_shutdown:
            self.shutdown = self._shutdown

    @property
    def pid(self) -> int | None:
        return 4242 if self.running else None

    def start(self) -> None:
        self.calls.append("start")
        self.running = True

    def stop(self) -> None:
        self.calls.append("stop")
        self.running = False

    def _shutdown(self) -> None:
        self.calls.append("shutdown")
        self.running = False

    def kill(self) -> None:
        self.calls.append("kill")
        self.running = False

    def pause(self) -> None:
        self.calls.append("pause")

    def resume(self) -> None:
        if not self.running:
            raise StackError("not running", component=self.name)
        self.calls.append("resume")

    def is_running(self) -> bool:
        return self.running

    def logs(self, tail: int = 50) -> str:
        return ""


@pytest.fixture
def component() -> FakeComponent:
    return FakeComponent()


def test_kill_then_start(component: FakeComponent) -> None:
    fault = KillProcess(component)  # type: ignore[arg-type]
    assert fault.name == "kill:db"
    with fault.injected():
        assert not component.running
    assert component.calls == ["kill", "start"]
    assert "SIGKILL pid 4242" in fault.journal.events()[0].detail


def test_stop_prefers_shutdown_and_falls_back_to_stop() -> None:
    keeps_data = FakeComponent()
    with StopProcess(keeps_data).injected():  # type: ignore[arg-type]
        pass
    assert keeps_data.calls == ["shutdown", "start"]
    plain = FakeComponent(with_shutdown=False)
    with StopProcess(plain).injected():  # type: ignore[arg-type]
        pass
    assert plain.calls == ["stop", "start"]


def test_process_fault_refuses_a_component_that_is_not_running(component: FakeComponent) -> None:
    component.running = False
    with pytest.raises(FaultError, match="kill:db: db is not running"):
        KillProcess(component).inject()  # type: ignore[arg-type]
    assert component.calls == []


def test_pause_revert_tolerates_a_component_that_died_meanwhile(component: FakeComponent) -> None:
    fault = PauseProcess(component)  # type: ignore[arg-type]
    fault.inject()
    component.kill()
    fault.revert()
    assert component.calls == ["pause", "kill"]
    assert "nothing to resume" in fault.journal.events()[-1].detail


# -- service fault request bodies ---------------------------------------------


def test_service_fault_bodies_match_the_admin_api() -> None:
    with ServiceClient("http://127.0.0.1:9", faults_token="t") as client:
        errors = ErrorRate(client, routes="/api/status", probability=0.5, seed=3)
        assert errors.kind == "error_rate"
        assert dict(errors.params) == {
            "routes": ["/api/status"],
            "probability": 0.5,
            "seed": 3,
        }
        latency = Latency(client, delay_ms=300, jitter_ms=50, max_duration=30)
        assert dict(latency.params) == {"routes": "*", "delay_ms": 300, "jitter_ms": 50}
        assert "for at most 30s" in latency.describe()
