"""Run a drill on a ``DrillSession``: steady state before → method (with the expectations
checked as it runs, and ``during`` probes watched) → rollbacks, always → steady state after;
every step journaled, and one verdict.

    result = run_drill(session, load_drill("chaos/drills/database-outage.yaml"))
    write_drill_report(session, result, Path("reports/database-outage.json"))

Order and timing:

* Before: each probe must hold within ``steady_state.within``. If one does not, the method
  does not run (the drill would measure an already broken stack); rollbacks still run.
* Stack policy: a step whose fault class the stack refuses (``faults.classes``: an external
  stack allows only what it was told) fails the drill before anything is injected.
* Method and expectations: the method runs in a thread (``method.py``); expectations are
  checked in file order here, each starting at its ``when`` (``during``: at once; ``with``/
  ``after <step>``: once the step is injected/reverted; ``after``: once the method ended).
  When the expectations before the first ``after`` one are done, steps held ``until:
  expectations`` are released. The first failure aborts: every hold ends and the remaining
  expectations are journaled as not checked.
* Rollbacks: every fault still injected is reverted (``session.revert_faults()``), then the
  drill's own rollbacks run — whatever happened before.
* After: the probes must hold again within ``steady_state.within``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from alertdrill.drills.checks import check_probe, hold_probe, run_check
from alertdrill.drills.journal import Journal, Phase, Progress, StepRecord
from alertdrill.drills.method import MethodRun, method_bound, refused_steps
from alertdrill.drills.model import AlertCheck, DrillSpec, Expectation, Probe, Rollback
from alertdrill.errors import AlertdrillError, ExpectationFailed
from alertdrill.faults.classes import FaultClass, fault_refusal
from alertdrill.report.timeline import JsonValue

if TYPE_CHECKING:
    from alertdrill.session import DrillSession

__all__ = ["DrillResult", "drill_extra", "firing_alerts", "run_drill", "write_drill_report"]

Verdict = Literal["passed", "failed"]
# How many consecutive failed checks make a ``during`` probe fail: one failed request on a
# busy 2-core machine is noise, two in a row (``every`` apart) is the service.
_DURING_FAILURES = 2
_LOG_TAIL = 40


@dataclass(frozen=True)
class DrillResult:
    spec: DrillSpec
    verdict: Verdict
    steps: tuple[StepRecord, ...]
    started_wall: float
    ended_wall: float

    @property
    def seconds(self) -> float:
        return self.ended_wall - self.started_wall

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"


def run_drill(session: DrillSession, spec: DrillSpec, *, progress: Progress = print) -> DrillResult:
    """Run ``spec`` on ``session`` (already ``begin()``-reset); never raises for a failing
    drill: the verdict and the journal say what happened."""
    journal = Journal(progress)
    journal.say(f"drill: {spec.title}  ({spec.file})")
    steady = _phase_probes(session, spec, journal, "steady-state-before")
    if steady:
        refused = refused_steps(session, spec.method)
        if refused:
            for step, reason in refused:
                journal.record(
                    step.name,
                    "method",
                    time.monotonic(),
                    passed=False,
                    error=f"refused by the stack ({step.fault_class} fault): {reason}",
                )
        else:
            _method_and_expectations(session, spec, journal)
    else:
        journal.say("  steady state does not hold: the method is not run")
    _rollbacks(session, spec.rollbacks, journal)
    if steady:
        _phase_probes(session, spec, journal, "steady-state-after")
    verdict: Verdict = "passed" if journal.passed() else "failed"
    journal.say(f"verdict: {verdict.upper()} ({time.monotonic() - journal.started:.1f}s)")
    return DrillResult(spec, verdict, journal.steps, journal.started_wall, time.time())


# -- steady state ------------------------------------------------------------------------


def _phase_probes(session: DrillSession, spec: DrillSpec, journal: Journal, phase: Phase) -> bool:
    probes = spec.steady_state.probes
    if not probes:
        return True
    journal.say(f"  {phase.replace('-', ' ')}")
    held = True
    for probe in probes:
        began = time.monotonic()
        try:
            seen = hold_probe(session, probe, spec.steady_state.within)
        except ExpectationFailed as error:
            held = False
            journal.record(probe.name, phase, began, passed=False, error=str(error))
        else:
            journal.record(probe.name, phase, began, passed=True, observation=seen)
    return held


class _DuringWatch:
    """Checks the ``during: true`` probes every ``every`` seconds while the method runs."""

    def __init__(
        self, session: DrillSession, spec: DrillSpec, journal: Journal, method: MethodRun
    ) -> None:
        self.session = session
        self.probes = tuple(p for p in spec.steady_state.probes if p.during)
        self.every = spec.steady_state.every
        self.journal = journal
        self.method = method
        self.began = time.monotonic()
        self._stop = threading.Event()
        self._checks = dict.fromkeys((p.name for p in self.probes), 0)
        self._failed: set[str] = set()
        self._thread = threading.Thread(target=self._loop, name="alertdrill-during", daemon=True)

    def start(self) -> None:
        if self.probes:
            self._thread.start()

    def _loop(self) -> None:
        misses = dict.fromkeys(self._checks, 0)
        while not self._stop.wait(self.every):
            for probe in self.probes:
                if probe.name in self._failed:
                    continue
                result = check_probe(self.session, probe)
                self._checks[probe.name] += 1
                misses[probe.name] = 0 if result else misses[probe.name] + 1
                if misses[probe.name] >= _DURING_FAILURES:
                    self._fail(probe, result.seen)

    def _fail(self, probe: Probe, seen: str) -> None:
        self._failed.add(probe.name)
        self.method.abort()
        self.journal.record(
            _during_name(probe),
            "method",
            self.began,
            passed=False,
            error=f"did not hold for {_DURING_FAILURES} checks in a row: {seen}",
        )

    def finish(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10.0)
        for probe in self.probes:
            if probe.name not in self._failed:
                self.journal.record(
                    _during_name(probe),
                    "method",
                    self.began,
                    passed=True,
                    observation=f"held in all {self._checks[probe.name]} checks",
                )


def _during_name(probe: Probe) -> str:
    return f"steady state during the method: {probe.name}"


# -- method and expectations --------------------------------------------------------------


def _method_and_expectations(session: DrillSession, spec: DrillSpec, journal: Journal) -> None:
    method = MethodRun(session, spec.method, journal)
    bound = method_bound(spec.method) + 30.0
    journal.say("  method")
    method.start()
    watch = _DuringWatch(session, spec, journal, method)
    watch.start()
    try:
        for expectation in spec.expectations:
            if method.aborted:
                journal.record(
                    expectation.name,
                    "expectation",
                    time.monotonic(),
                    passed=False,
                    error="not checked: the drill was aborted by an earlier failure",
                )
                continue
            _expectation(session, expectation, method, bound, journal)
        method.release()
        if not method.wait(bound):
            method.abort()
            journal.record(
                "method ends", "method", journal.started, passed=False, error="still running"
            )
    except BaseException:
        method.abort()  # Ctrl-C or a harness bug: end every hold, the rollbacks follow
        raise
    finally:
        method.wait(bound)
        watch.finish()


def _expectation(
    session: DrillSession,
    expectation: Expectation,
    method: MethodRun,
    bound: float,
    journal: Journal,
) -> None:
    start = expectation.start
    if start.when == "after" and start.step is None:
        method.release()  # everything checked during the method is done
        method.wait(bound)
    elif start.step is not None:
        event = method.started(start.step) if start.when == "during" else method.ended(start.step)
        event.wait(bound)
    began = time.monotonic()
    try:
        seen = run_check(session, expectation.check)
    except ExpectationFailed as error:
        method.abort()
        journal.record(
            expectation.name,
            "expectation",
            began,
            passed=False,
            error=f"{error}\n(drill file {expectation.where}, {start})",
        )
    except AlertdrillError as error:  # the harness could not check it (a refused API...)
        method.abort()
        journal.record(
            expectation.name,
            "expectation",
            began,
            passed=False,
            error=f"{type(error).__name__}: {error}\n(drill file {expectation.where})",
        )
    else:
        journal.record(expectation.name, "expectation", began, passed=True, observation=seen)


# -- rollbacks -------------------------------------------------------------------------------


def _rollbacks(session: DrillSession, rollbacks: tuple[Rollback, ...], journal: Journal) -> None:
    journal.say("  rollbacks")
    began = time.monotonic()
    try:
        report = session.revert_faults()
    except AlertdrillError as error:
        journal.record(
            "revert every fault still injected", "rollback", began, passed=False, error=str(error)
        )
    else:
        left = "; ".join(f"{f.fault}: {f.error}" for f in report.failures)
        journal.record(
            "revert every fault still injected",
            "rollback",
            began,
            passed=report.ok,
            observation=f"reverted {', '.join(report.reverted) or 'nothing left'}",
            error=f"still injected: {left}" if left else "",
        )
    for rollback in rollbacks:
        began = time.monotonic()
        try:
            seen = _rollback(session, rollback)
        except AlertdrillError as error:
            journal.record(rollback.name, "rollback", began, passed=False, error=str(error))
        else:
            journal.record(rollback.name, "rollback", began, passed=True, observation=seen)


def _rollback(session: DrillSession, rollback: Rollback) -> str:
    if rollback.action == "start":
        refusal = fault_refusal(session.stack, FaultClass.PROCESS)
        if refusal is not None:
            # No process access (an external stack): no process fault ran, none to undo.
            return f"nothing to do: this stack refuses process faults ({refusal.split(':')[0]})"
        component = session.stack.component(rollback.component)
        if component.is_running():
            return f"{rollback.component} already running (pid {component.pid})"
        component.start()
        return f"{rollback.component} started (pid {component.pid})"
    from alertdrill.drills.model import HttpProbe

    probe = HttpProbe(rollback.name, rollback.path, rollback.status, rollback.target)
    return hold_probe(session, probe, rollback.within)


# -- the report ----------------------------------------------------------------------------


def drill_extra(session: DrillSession, result: DrillResult) -> dict[str, JsonValue]:
    """The report's ``extra``: drill, verdict, steps, and the components' logs on failure.
    (``write_drill_report`` adds the metric series.)"""
    spec = result.spec
    extra: dict[str, JsonValue] = {
        "drill": {"title": spec.title, "description": spec.description, "file": spec.file},
        "verdict": result.verdict,
        "steps": [step.to_json() for step in result.steps],
    }
    if not result.passed:
        logs: Mapping[str, str] = {}
        try:
            logs = session.stack.logs(tail=_LOG_TAIL)
        except AlertdrillError as error:
            logs = {"(logs)": f"could not read the components' logs: {error}"}
        extra["logs"] = dict(logs)
    return extra


def firing_alerts(spec: DrillSpec) -> tuple[str, ...]:
    """The alerts the drill expects to fire, in order: whose rule metrics the report plots."""
    names = [
        e.check.alert
        for e in spec.expectations
        if isinstance(e.check, AlertCheck) and e.check.state in ("pending", "firing")
    ]
    return tuple(dict.fromkeys(names))


def write_drill_report(session: DrillSession, result: DrillResult, path: Path) -> Path:
    """The JSON journal (``alertdrill.report/v1``) at ``path`` with the key metric over the
    drill in ``extra.metric_series`` (the file's ``key_metric``, else the rule expressions
    of the alerts it expects to fire), and the HTML report beside it (``.html``). Returns
    the JSON path. Call it before the stack stops: the series come from its Prometheus."""
    from alertdrill.report.artifacts import KeyMetric, finish_drill_report

    target = session.write_report(path, outcome=result.verdict, extra=drill_extra(session, result))
    key = result.spec.key_metric
    metrics = (KeyMetric("key metric", key),) if key else ()
    finish_drill_report(
        target, session.stack, alerts=() if key else firing_alerts(result.spec), metrics=metrics
    )
    return target
