"""The drill runner on a fake session: phases in order, holds released by the expectations,
abort on the first failure (faults reverted at once, the rest not checked), rollbacks
always, steady state before gating the method, a stack's fault policy respected, the
journal's ``extra`` in the shape the HTML report reads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar, cast

import pytest

from alertdrill.drills.loader import parse_drill
from alertdrill.drills.method import method_bound
from alertdrill.drills.runner import DrillResult, drill_extra, run_drill
from alertdrill.faults import BaseFault, FaultRegistry, RevertReport
from alertdrill.faults.classes import FaultClass
from alertdrill.receivers.records import Notification
from alertdrill.session import DrillSession
from alertdrill.timing import eventually

pytestmark = pytest.mark.unit

T = TypeVar("T")


class _Fault(BaseFault):
    def __init__(self, world: _World, name: str, registry: FaultRegistry) -> None:
        super().__init__(name, registry=registry)
        self.world = world

    def describe(self) -> str:
        return f"fake {self.name}"

    def _inject(self) -> str:
        self.world.events.append(("inject", self.name, time.monotonic()))
        self.world.broken.add(self.name)
        return ""

    def _revert(self) -> str:
        self.world.events.append(("revert", self.name, time.monotonic()))
        self.world.broken.discard(self.name)
        return ""


class _World:
    """What the fake Prometheus and receivers report: the faults now injected."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, float]] = []
        self.broken: set[str] = set()
        self.notes: list[Notification] = []
        self.healthy = True


class _Prometheus:
    def __init__(self, world: _World) -> None:
        self.world = world

    def query_value(self, query: str) -> float | None:
        if query == "broken":
            return float(len(self.world.broken))
        if query == "healthy":
            return 1.0 if self.world.healthy else 0.0
        return None


class _Receivers:
    def __init__(self, world: _World) -> None:
        self.world = world

    def notifications(self) -> tuple[Notification, ...]:
        return tuple(self.world.notes)

    def wait_for(self, predicate: Callable[[], T | None], *, within: float | str, what: str) -> T:
        return eventually(predicate, within=within, every=0.01, what=what)


class _Stack:
    def logs(self, tail: int = 40) -> dict[str, str]:
        return {"service": "last line"}


class _RefusingStack(_Stack):
    def allows(self, fault_class: FaultClass) -> bool:
        return fault_class is not FaultClass.SERVICE

    def refusal(self, fault_class: FaultClass) -> str:
        return "" if self.allows(fault_class) else "service faults are refused here"


class _Session:
    def __init__(self, stack: _Stack | None = None) -> None:
        self.world = _World()
        self.stack = stack or _Stack()
        self.prometheus = _Prometheus(self.world)
        self.receivers = _Receivers(self.world)
        self.registry = FaultRegistry()
        self.reverts = 0

    def error_rate(self, *, routes: str | tuple[str, ...], probability: float) -> _Fault:
        return _Fault(self.world, f"errors {routes}", self.registry)

    @contextmanager
    def traffic(self, *, rate: float, duration: float, paths: tuple[str, ...]) -> Iterator[None]:
        self.world.events.append(("traffic", "start", time.monotonic()))
        yield
        self.world.events.append(("traffic", "stop", time.monotonic()))

    def revert_faults(self) -> RevertReport:
        self.reverts += 1
        return self.registry.revert_all()

    def foreign_notification(self, note: Notification) -> bool:
        return False  # an owned stack: every notification is the drill's


def _run(text: str, session: _Session) -> DrillResult:
    spec = parse_drill(text, "fake.yaml")
    return run_drill(cast(DrillSession, session), spec, progress=lambda _line: None)


HEADER = """\
title: Fake
description: A drill on a fake session.
steady_state:
  within: 1s
  every: 50ms
  probes:
    - name: healthy
      promql: healthy
      value: 1
      during: true
"""

HAPPY = (
    HEADER
    + """\
method:
  - parallel:
      - name: traffic
        load: traffic
        duration: 20s
        until: expectations
      - name: errors
        fault: error_rate
        offset: 100ms
        duration: 20s
        until: expectations
expectations:
  - name: the fault shows
    promql: broken
    value: 1
    when: with errors
    within: 2s
  - name: the fault is gone
    promql: broken
    value: 0
    within: 2s
    when: after
"""
)


def test_a_passing_drill_releases_its_holds_and_journals_every_phase() -> None:
    session = _Session()
    began = time.monotonic()
    result = _run(HAPPY, session)
    assert result.passed, result.steps
    # Released once "the fault shows" passed, long before the 20 s hold.
    assert time.monotonic() - began < 5
    actions = [(a, n) for a, n, _ in session.world.events]
    assert actions == [
        ("traffic", "start"),
        ("inject", "errors *"),
        ("revert", "errors *"),
        ("traffic", "stop"),
    ] or actions == [
        ("traffic", "start"),
        ("inject", "errors *"),
        ("traffic", "stop"),
        ("revert", "errors *"),
    ]
    inject = next(t for a, _, t in session.world.events if a == "inject")
    assert inject - began >= 0.1  # its offset
    phases = [s.phase for s in result.steps]
    assert phases[:1] == ["steady-state-before"] and phases[-1] == "steady-state-after"
    names = {s.name: s for s in result.steps}
    assert "released once the expectations were checked" in names["errors"].observation
    assert names["steady state during the method: healthy"].passed
    assert names["the fault is gone"].passed and session.reverts == 1
    offsets = [s.offset for s in result.steps]
    assert all(o >= 0 for o in offsets)

    extra = drill_extra(cast(DrillSession, session), result)
    assert extra["drill"] == {
        "title": "Fake",
        "description": "A drill on a fake session.",
        "file": "fake.yaml",
    }
    assert extra["verdict"] == "passed" and "logs" not in extra
    steps = extra["steps"]
    assert isinstance(steps, list) and len(steps) == len(result.steps)
    assert isinstance(steps[0], dict)
    assert set(steps[0]) == {"name", "phase", "offset", "seconds", "passed", "observation", "error"}


def test_the_first_failure_aborts_reverts_and_skips_the_rest() -> None:
    session = _Session()
    text = HAPPY.replace(
        "  - name: the fault is gone",
        "  - name: nothing pages\n    quiet: 2s\n  - name: the fault is gone",
    )
    session.world.notes.append(
        Notification("slack", "slack:#alerts", "HighResponseTime", "firing", time.monotonic())
    )
    result = _run(text, session)
    assert not result.passed
    names = {s.name: s for s in result.steps}
    assert "HighResponseTime → slack:#alerts" in names["nothing pages"].error
    assert "fake.yaml:" in names["nothing pages"].error  # points at the drill file's line
    assert names["the fault is gone"].error.startswith("not checked")
    assert "aborted" in names["errors"].observation
    assert not session.world.broken  # reverted by the abort
    assert [s.phase for s in result.steps][-1] == "steady-state-after"  # rollbacks and after ran
    extra = drill_extra(cast(DrillSession, session), result)
    assert extra["verdict"] == "failed" and extra["logs"] == {"service": "last line"}


def test_a_broken_steady_state_does_not_run_the_method() -> None:
    session = _Session()
    session.world.healthy = False
    result = _run(HAPPY, session)
    assert not result.passed
    assert session.world.events == []  # nothing injected, no traffic
    assert [s.phase for s in result.steps] == ["steady-state-before", "rollback"]
    assert "healthy: not true within 1s" in result.steps[0].error


def test_a_steady_state_broken_during_the_method_aborts_it() -> None:
    session = _Session()
    flip = threading.Timer(0.3, lambda: setattr(session.world, "healthy", False))
    text = HAPPY.replace(
        "    value: 1\n    when: with errors\n    within: 2s",
        "    value: 5\n    when: with errors\n    within: 3s",
    )
    flip.start()
    try:
        result = _run(text, session)
    finally:
        flip.cancel()
    names = {s.name: s for s in result.steps}
    during = names["steady state during the method: healthy"]
    assert not during.passed and "2 checks in a row" in during.error
    assert not session.world.broken


def test_a_refused_fault_class_fails_before_anything_is_injected() -> None:
    session = _Session(_RefusingStack())
    result = _run(HAPPY, session)
    assert not result.passed
    refused = [s for s in result.steps if not s.passed]
    assert [s.name for s in refused] == ["errors"]
    assert (
        "refused by the stack (service fault): service faults are refused here" in refused[0].error
    )
    assert session.world.events == []  # not even the traffic started


def test_a_sequence_waits_for_each_step_and_its_offset() -> None:
    session = _Session()
    text = (
        HEADER
        + """\
method:
  - name: first
    fault: error_rate
    with: {routes: /a}
    duration: 200ms
  - name: second
    fault: error_rate
    with: {routes: /b}
    offset: 300ms
    duration: 200ms
expectations:
  - name: second injected
    promql: broken
    value: 1
    when: with second
    within: 1s
"""
    )
    result = _run(text, session)
    assert result.passed, result.steps
    times = {(a, n): t for a, n, t in session.world.events}
    assert times[("revert", "errors /a")] - times[("inject", "errors /a")] >= 0.2
    assert times[("inject", "errors /b")] - times[("revert", "errors /a")] >= 0.3
    spec = parse_drill(text, "fake.yaml")
    assert method_bound(spec.method) == pytest.approx(0.2 + 60 + 0.3 + 0.2 + 60)


def test_steps_an_abort_kept_from_running_are_journaled() -> None:
    session = _Session()
    session.world.notes.append(
        Notification("slack", "slack:#ops", "HighCPUUsage", "firing", time.monotonic())
    )
    text = (
        HEADER
        + """\
method:
  - name: first
    fault: error_rate
    with: {routes: /a}
    duration: 5s
  - name: second
    fault: error_rate
    with: {routes: /b}
    duration: 5s
expectations:
  - name: nothing pages
    quiet: 1s
    when: with first
"""
    )
    began = time.monotonic()
    result = _run(text, session)
    assert time.monotonic() - began < 4  # the 5 s hold ended at the failure
    names = {s.name: s for s in result.steps}
    assert not names["nothing pages"].passed
    assert names["second"].error == "not run: the drill was aborted before this step"
    assert [n for _, n, _ in session.world.events] == ["errors /a", "errors /a"]
