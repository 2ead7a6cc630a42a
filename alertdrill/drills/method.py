"""Running a drill's method: fault and load steps at their offsets, held for their durations,
in sequence or in parallel, each journaled with its timing.

The method runs in a background thread while the expectations are checked in the calling
one. Every step injects with ``with fault.injected()`` (so it is reverted whatever happens),
and every wait is on an ``Event`` with a monotonic deadline, so ``abort()`` (an expectation
failed, Ctrl-C) ends every hold at once. ``release()`` ends the holds of steps marked
``until: expectations``. Each step's ``started``/``ended`` events let an expectation start
``with`` or ``after`` it; both are set for every step, even one that never ran, so nothing
waits on a step forever.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from alertdrill.drills.journal import Journal
from alertdrill.drills.kinds import KINDS
from alertdrill.drills.model import FaultStep, Group, Step
from alertdrill.faults.classes import FaultClass, fault_refusal
from alertdrill.timing import Deadline

if TYPE_CHECKING:
    from alertdrill.session import DrillSession

__all__ = ["MAX_PARALLEL", "MethodRun", "method_bound", "refused_steps"]

#: Steps of one parallel group (threads); the loader refuses more.
MAX_PARALLEL = 8
# Allowance for one step's injection and revert (a component restart, a slow API), on top
# of its offset and hold, when bounding how long anything may wait for the method.
_STEP_OVERHEAD = 60.0


def method_bound(step: Step) -> float:
    """The longest the method (or one step of it) can take, for bounding waits on it."""
    if isinstance(step, FaultStep):
        return step.offset + step.duration + _STEP_OVERHEAD
    bounds = [method_bound(s) for s in step.steps]
    inner = sum(bounds) if step.mode == "sequence" else max(bounds, default=0.0)
    return step.offset + inner


def refused_steps(session: DrillSession, method: Group) -> list[tuple[FaultStep, str]]:
    """Steps whose fault class the stack refuses, with its reason (checked before running)."""
    refused: list[tuple[FaultStep, str]] = []
    for step in method.fault_steps():
        if step.fault_class is None:
            continue
        reason = fault_refusal(session.stack, FaultClass(step.fault_class))
        if reason is not None:
            refused.append((step, reason))
    return refused


class MethodRun:
    def __init__(self, session: DrillSession, method: Group, journal: Journal) -> None:
        self.session = session
        self.method = method
        self.journal = journal
        self._abort = threading.Event()
        # Set by release() and by abort(): what an ``until: expectations`` hold waits on.
        self._release = threading.Event()
        self.done = threading.Event()
        self.failed = False
        names = [s.name for s in method.fault_steps()] + _group_names(method)
        self._started = {name: threading.Event() for name in names}
        self._ended = {name: threading.Event() for name in names}
        self._thread = threading.Thread(target=self._run, name="alertdrill-method", daemon=True)

    # -- control ---------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def abort(self) -> None:
        self._abort.set()
        self._release.set()

    def release(self) -> None:
        self._release.set()

    @property
    def aborted(self) -> bool:
        return self._abort.is_set()

    def started(self, step: str) -> threading.Event:
        return self._started[step]

    def ended(self, step: str) -> threading.Event:
        return self._ended[step]

    def wait(self, timeout: float) -> bool:
        """Wait until the method has ended (True) or ``timeout`` passed (False)."""
        return self.done.wait(timeout)

    # -- running ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._group(self.method)
        finally:
            for event in (*self._started.values(), *self._ended.values()):
                event.set()
            self.done.set()

    def _pause(self, seconds: float) -> bool:
        """Wait ``seconds`` (an offset); False when aborted meanwhile."""
        if seconds <= 0:
            return not self._abort.is_set()
        return not self._abort.wait(seconds)

    def _group(self, group: Group) -> None:
        if group.name in self._started:
            self._started[group.name].set()
        try:
            if group.mode == "sequence":
                for i, step in enumerate(group.steps):
                    if not self._pause(step.offset):
                        self._skip(group.steps[i:])
                        break
                    self._step(step)
            else:
                self._parallel(group)
        finally:
            if group.name in self._ended:
                self._ended[group.name].set()

    def _parallel(self, group: Group) -> None:
        def run(step: Step) -> None:
            if self._pause(step.offset):
                self._step(step)
            else:
                self._skip((step,))

        threads = [
            threading.Thread(target=run, args=(step,), name=f"alertdrill-step-{i}", daemon=True)
            for i, step in enumerate(group.steps[:MAX_PARALLEL])
        ]
        for thread in threads:
            thread.start()
        deadline = Deadline.after(method_bound(group))
        for thread in threads:
            thread.join(deadline.remaining())
        if any(t.is_alive() for t in threads):
            self.failed = True
            self.abort()
            self.journal.say(f"  ✗ {group.name}: steps still running after {deadline.seconds:g}s")

    def _step(self, step: Step) -> None:
        if isinstance(step, Group):
            self._group(step)
            return
        try:
            self._fault(step)
        finally:
            self._started[step.name].set()
            self._ended[step.name].set()

    def _skip(self, steps: tuple[Step, ...]) -> None:
        """Journal steps an abort kept from running (the journal shows what never ran)."""
        for step in steps:
            for fault in step.fault_steps() if isinstance(step, Group) else (step,):
                self.journal.record(
                    fault.name,
                    "method",
                    time.monotonic(),
                    passed=False,
                    error="not run: the drill was aborted before this step",
                )

    def _fail(self, step: FaultStep, began: float, error: str, observation: str = "") -> None:
        self.failed = True
        self.abort()
        self.journal.record(
            step.name, "method", began, passed=False, observation=observation, error=error
        )

    def _fault(self, step: FaultStep) -> None:
        began = time.monotonic()
        if self._abort.is_set():
            self._fail(step, began, "not run: the drill was aborted before this step")
            return
        refusal = refused_steps_for(self.session, step)
        if refusal is not None:
            self._fail(step, began, f"refused by the stack: {refusal}")
            return
        try:
            built = KINDS[step.kind].build(self.session, dict(step.params), step.duration)
        except Exception as error:  # a fault that cannot be built fails its step, not the run
            self._fail(step, began, f"{type(error).__name__}: {error}")
            return
        self.journal.say(f"  ⚡ {step.name}: {built.description}")
        held = 0.0
        how = ""
        try:
            with built.context:
                self._started[step.name].set()
                hold_began = time.monotonic()
                how = self._hold(step)
                held = time.monotonic() - hold_began
        except Exception as error:  # inject or revert failed: the journal says which
            self._fail(step, began, f"{type(error).__name__}: {error}", built.description)
            return
        self.journal.say(f"  ↺ {step.name} reverted after {held:.2f}s ({how})")
        did = f"; {built.outcome()}" if built.outcome is not None else ""
        self.journal.record(
            step.name,
            "method",
            began,
            passed=True,
            observation=f"{built.description}; held {held:.2f}s ({how}){did}",
        )

    def _hold(self, step: FaultStep) -> str:
        if step.duration <= 0:
            return "instant"
        deadline = Deadline.after(step.duration)
        event = self._release if step.until_expectations else self._abort
        event.wait(deadline.remaining())
        if self._abort.is_set():
            return "aborted"
        if step.until_expectations and self._release.is_set():
            return "released once the expectations were checked"
        return "full duration"


def refused_steps_for(session: DrillSession, step: FaultStep) -> str | None:
    if step.fault_class is None:
        return None
    return fault_refusal(session.stack, FaultClass(step.fault_class))


def _group_names(group: Group) -> list[str]:
    names = [group.name]
    for step in group.steps:
        if isinstance(step, Group):
            names.extend(_group_names(step))
    return names
