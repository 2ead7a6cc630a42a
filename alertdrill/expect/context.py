"""What every expectation shares: the clients, the timeline, the floors, and the two waits.

``until`` (wait for something to become true) and ``never`` (watch a window for
something that must not happen) are the only loops, both built on
``alertdrill.timing.eventually``; waits on the receivers go through
``Receivers.wait_for``, which is woken by each delivery. Every failure is an
``ExpectationFailed`` carrying the last observation, the elapsed time and the
timeline so far, and every outcome is marked on the timeline as an
``expectation`` event.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, NoReturn, TypeVar

from alertdrill.errors import ExpectationFailed
from alertdrill.expect.budget import Budget, Phase, Within, resolve_budget, resolve_window
from alertdrill.expect.protocols import (
    AlertmanagerLike,
    DetectionFloorLike,
    PrometheusLike,
    ReceiversLike,
    ServiceLike,
)
from alertdrill.receivers.records import Notification
from alertdrill.report.timeline import (
    EXPECTATION,
    Detail,
    FaultEventLike,
    Timeline,
    TimelineEvent,
)
from alertdrill.timing import eventually

__all__ = ["Context", "HttpGet", "HttpObservation", "Seen"]

T = TypeVar("T")


@dataclass(frozen=True)
class Seen(Generic[T]):
    """One poll's outcome: ``value`` (truthy = the wait is over) and what was observed."""

    value: T | None
    observed: object


@dataclass(frozen=True)
class HttpObservation:
    status_code: int
    body: str  # the start of the body, for failure messages


HttpGet = Callable[[str, float], HttpObservation]  # (url, timeout seconds) -> observation


@dataclass
class Context:
    prometheus: PrometheusLike
    alertmanager: AlertmanagerLike
    receivers: ReceiversLike
    service: ServiceLike
    timeline: Timeline
    floors: Mapping[str, DetectionFloorLike] | None
    slack: float
    settle: float
    poll: float
    http_get: HttpGet
    # The faults' journal, read before every budget and failure so fault marks are current.
    fault_events: Callable[[], Iterable[FaultEventLike]] | None = None
    # Incidents created before this instant belong to earlier drills on the same stack.
    incidents_since: datetime | None = None
    # Notifications about someone else's alerts on a shared stack (alertdrill.session_scope):
    # not counted by no_notification() without an alert name.
    foreign: Callable[[Notification], bool] | None = None

    def sync_faults(self) -> None:
        if self.fault_events is not None:
            self.timeline.sync_faults(self.fault_events())

    # -- budgets -------------------------------------------------------------

    def budget(self, within: Within, *, alert: str | None, phase: Phase = "detect") -> Budget:
        self.sync_faults()
        return resolve_budget(
            within,
            alert=alert,
            phase=phase,
            floors=self.floors,
            slack=self.slack,
            timeline=self.timeline,
        )

    def window(self, during: Within, *, alert: str | None) -> Budget:
        return resolve_window(during, alert=alert, floors=self.floors, slack=self.slack)

    # -- outcomes ------------------------------------------------------------

    def passed(self, what: str, elapsed: float) -> None:
        self.timeline.mark(EXPECTATION, what, outcome="passed", elapsed=round(elapsed, 3))

    def fail(self, message: str, *, what: str, observed: object, elapsed: float) -> NoReturn:
        self.sync_faults()
        self.timeline.mark(EXPECTATION, what, outcome="failed", elapsed=round(elapsed, 3))
        raise ExpectationFailed(
            message,
            last_observation=observed,
            elapsed=elapsed,
            timeline=self.timeline.render_text(),
        )

    def mark_once(
        self, kind: str, what: str, *, at: float, **details: Detail
    ) -> TimelineEvent | None:
        """Mark unless the same event (kind, what, time, details) is already there.

        Two expectations may see the same delivery (``notified`` and
        ``pagerduty().triggered``): the timeline should show it once.
        """
        for event in self.timeline.events:
            if (
                event.kind == kind
                and event.what == what
                and event.at == at
                and all(event.details.get(k) == v for k, v in details.items() if k != "floor")
            ):
                return None
        return self.timeline.record(kind, what, details, at=at)

    # -- the two waits -------------------------------------------------------

    def until(self, probe: Callable[[], Seen[T]], *, budget: Budget, what: str) -> T:
        """Poll ``probe`` until its value is truthy; fail at the budget with what it last saw."""
        started = time.monotonic()
        last: list[object] = [None]  # the last successful observation

        def check() -> T | None:
            seen = probe()
            last[0] = seen.observed
            return seen.value

        try:
            value = eventually(check, within=budget.seconds, every=self.poll, what=what)
        except ExpectationFailed as error:
            self.fail(
                f"{what}: not within {budget.text}",
                what=what,
                observed=_observation(error, last[0]),
                elapsed=time.monotonic() - started,
            )
        self.passed(what, time.monotonic() - started)
        return value

    def never(self, probe: Callable[[], Seen[T]], *, window: Budget, what: str) -> None:
        """Watch ``probe`` for the whole window; fail as soon as its value is truthy.

        An exception from the probe is "could not look", and a window in which
        not one look succeeded fails too: a negative assertion must not pass
        because the thing it watches was unreachable.
        """
        started = time.monotonic()
        looks = 0
        last: list[object] = [None]

        def check() -> Seen[T] | None:
            nonlocal looks
            seen = probe()
            looks += 1
            last[0] = seen.observed
            return seen if seen.value else None

        try:
            violation = eventually(check, within=window.seconds, every=self.poll, what=what)
        except ExpectationFailed as error:
            if looks == 0:
                self.fail(
                    f"{what}: could not observe once during {window.text}",
                    what=what,
                    observed=error.last_observation,
                    elapsed=time.monotonic() - started,
                )
            self.passed(what, time.monotonic() - started)
            return
        elapsed = time.monotonic() - started
        self.fail(
            f"{what}: violated {elapsed:.3f}s into a {window.text} window",
            what=what,
            observed=violation.observed,
            elapsed=elapsed,
        )

    def on_receivers(
        self,
        predicate: Callable[[], T | None],
        *,
        budget: Budget,
        what: str,
        mark_passed: bool = True,
    ) -> T:
        """``until`` for the receivers: woken by each delivery instead of polling.

        ``mark_passed=False`` when the caller checks more afterwards and marks the outcome.
        """
        started = time.monotonic()
        try:
            value = self.receivers.wait_for(predicate, within=budget.seconds, what=what)
        except ExpectationFailed as error:
            self.fail(
                f"{what}: not within {budget.text}",
                what=what,
                observed=error.last_observation,
                elapsed=time.monotonic() - started,
            )
        if mark_passed:
            self.passed(what, time.monotonic() - started)
        return value


def _observation(error: ExpectationFailed, last_success: object) -> object:
    """The last thing seen; when the last poll raised, say so and keep the last good view."""
    if isinstance(error.last_observation, BaseException):
        return f"{error.last_observation!r} (last successful observation: {last_success!r})"
    return last_success
