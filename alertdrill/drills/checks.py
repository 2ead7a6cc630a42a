"""Running one steady-state probe or one expectation of a drill on a ``DrillSession``.

Each returns a short observation for the journal ("HighErrorRate firing, value 0.47") or
raises ``ExpectationFailed`` with the last thing seen. Waits go through the session's
``Expect`` (so they mark its timeline and count ``floor`` from the fault marks) or through
``eventually``/``receivers.wait_for``: every one is bounded.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx

from alertdrill.drills.model import (
    AlertCheck,
    Check,
    Comparison,
    Deadline,
    HttpCheck,
    HttpProbe,
    IncidentCheck,
    NotifiedCheck,
    PagerDutyCheck,
    Probe,
    PromqlCheck,
    PromqlProbe,
    QuietCheck,
    SentryCheck,
)
from alertdrill.errors import AlertdrillError, ExpectationFailed
from alertdrill.expect.budget import FLOOR, Phase, Within, resolve_budget
from alertdrill.receivers.records import Notification, SentryEvent
from alertdrill.timing import eventually

if TYPE_CHECKING:
    from alertdrill.session import DrillSession

__all__ = ["ProbeResult", "check_probe", "run_check"]

_OPERATORS: dict[Comparison, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">=": operator.ge,
    ">": operator.gt,
}


def compare(actual: float, how: Comparison, expected: float, tolerance: float) -> bool:
    if how == "==":
        return abs(actual - expected) <= tolerance
    if how == "!=":
        return abs(actual - expected) > tolerance
    return _OPERATORS[how](actual, expected)


def _endpoint(session: DrillSession, target: str) -> str:
    if target == "service":
        return session.stack.service.url
    try:
        return session.stack.endpoints[target]
    except KeyError:
        known = ", ".join(sorted(session.stack.endpoints))
        raise AlertdrillError(f"this stack has no endpoint {target!r} (known: {known})") from None


# -- steady-state probes ---------------------------------------------------------------


class ProbeResult:
    """One probe once: whether it held, and what was seen."""

    def __init__(self, held: bool, seen: str) -> None:
        self.held = held
        self.seen = seen

    def __bool__(self) -> bool:
        return self.held


def check_probe(session: DrillSession, probe: Probe) -> ProbeResult:
    """Evaluate ``probe`` once (a request error is "did not hold", with the error seen)."""
    if isinstance(probe, PromqlProbe):
        return _promql_once(
            session, probe.query, probe.compare, probe.value, probe.tolerance, probe.when_empty
        )
    return _http_once(session, probe)


def _promql_once(
    session: DrillSession,
    query: str,
    how: Comparison,
    expected: float,
    tolerance: float,
    when_empty: float | None,
) -> ProbeResult:
    try:
        value = session.prometheus.query_value(query)
    except (AlertdrillError, ValueError) as error:
        return ProbeResult(False, f"query failed: {error}")
    if value is None:
        if when_empty is None:
            return ProbeResult(False, "no series (empty result)")
        value = when_empty
    held = compare(value, how, expected, tolerance)
    within = f" ± {tolerance:g}" if tolerance and how in ("==", "!=") else ""
    return ProbeResult(held, f"value {value:g} (want {how} {expected:g}{within})")


def _http_once(session: DrillSession, probe: HttpProbe) -> ProbeResult:
    url = _endpoint(session, probe.target).rstrip("/") + "/" + probe.path.lstrip("/")
    try:
        response = httpx.get(url, timeout=probe.timeout, follow_redirects=False)
    except httpx.HTTPError as error:
        return ProbeResult(False, f"GET {url}: {type(error).__name__}: {error}")
    held = response.status_code == probe.status
    seen = f"GET {probe.path} → {response.status_code}"
    if probe.body_contains is not None:
        contained = probe.body_contains in response.text
        held = held and contained
        seen += f", body {'contains' if contained else 'lacks'} {probe.body_contains!r}"
    return ProbeResult(held, seen)


def hold_probe(session: DrillSession, probe: Probe, within: float) -> str:
    """Wait (at most ``within``) until the probe holds; its observation."""
    result = eventually(
        lambda: check_probe(session, probe), within=within, every=0.25, what=probe.name
    )
    return result.seen


# -- expectations ----------------------------------------------------------------------


def _phase(check: Check) -> Phase:
    match check:
        case AlertCheck(state="resolved") | NotifiedCheck(status="resolved"):
            return "resolve"
        case PagerDutyCheck(state="resolved") | IncidentCheck(state="resolved"):
            return "resolve"
    return "detect"


def within(session: DrillSession, deadline: Deadline, alert: str | None, phase: Phase) -> Within:
    """``Expect``'s ``within=``: "floor" as is (Expect explains its budget best), else
    seconds."""
    if deadline.floor and deadline.seconds == 0:
        return FLOOR
    return seconds(session, deadline, alert, phase)


def seconds(session: DrillSession, deadline: Deadline, alert: str | None, phase: Phase) -> float:
    """The deadline in seconds from now: "floor + 2s" is worked out from the floor and anchor
    ``Expect`` would use (the last fault injection, or revert), plus the extra seconds."""
    if not deadline.floor:
        return deadline.seconds
    budget = resolve_budget(
        FLOOR,
        alert=alert,
        phase=phase,
        floors=session.stack.rendered.floors(),
        slack=session.slack,
        timeline=session.expect.timeline,
    )
    return budget.seconds + deadline.seconds


def run_check(session: DrillSession, check: Check) -> str:
    """Run one expectation; its observation. ExpectationFailed when it does not hold."""
    match check:
        case AlertCheck():
            wait = within(session, check.within, check.alert, _phase(check))
            alert = session.expect.alert(check.alert, **dict(check.labels))
            if check.state == "pending":
                found = alert.pending(within=wait)
                return f"{found.name} {found.state}, value {found.value:g}"
            if check.state == "firing":
                found = alert.firing(within=wait)
                return f"{found.name} firing, value {found.value:g}"
            if check.state == "resolved":
                alert.resolved(within=wait)
                return f"{check.alert} neither pending nor firing"
            alert.not_firing(during=wait)
            return f"{check.alert} did not fire for {check.within}"
        case NotifiedCheck():
            return _notified(session, check)
        case PagerDutyCheck():
            wait = within(session, check.within, check.alert, _phase(check))
            pager = session.expect.pagerduty(check.alert)
            if check.state == "triggered":
                event = pager.triggered(within=wait)
                return f"trigger with dedup_key {event.dedup_key}"
            event = pager.resolved(within=wait, same_dedup_key=check.same_dedup_key)
            return f"resolve with dedup_key {event.dedup_key}"
        case IncidentCheck():
            wait = within(session, check.within, check.alert, _phase(check))
            incidents = session.expect.incident(check.alert)
            if check.state == "opened":
                incident = incidents.opened(within=wait)
                return f"incident #{incident.id} {incident.status}"
            if check.state == "resolved":
                incident = incidents.resolved(within=wait)
                return f"incident #{incident.id} {incident.status}"
            counted = incidents.count(check.count, status=check.status, within=wait)
            return f"{len(counted)} incident(s): " + (
                ", ".join(f"#{i.id} {i.status}" for i in counted) or "none"
            )
        case SentryCheck():
            return _sentry(session, check)
        case HttpCheck():
            seen = session.expect.http(_endpoint(session, check.target), check.path).status(
                check.status, within=check.within.seconds
            )
            return f"GET {check.path} → {seen.status_code}"
        case PromqlCheck():
            result = eventually(
                lambda: _promql_once(
                    session,
                    check.query,
                    check.compare,
                    check.value,
                    check.tolerance,
                    check.when_empty,
                ),
                within=check.within.seconds,
                every=0.25,
                what=f"{check.query} {check.compare} {check.value:g}",
            )
            return result.seen
        case QuietCheck():
            return _quiet(session, check)
    raise AssertionError(check)


def _matching(notes: tuple[Notification, ...], alert: str, status: str) -> set[str]:
    return {
        n.receiver
        for n in notes
        if n.status == status and (alert in n.alertnames or n.alertname == alert)
    }


def _notified(session: DrillSession, check: NotifiedCheck) -> str:
    wait = within(session, check.within, check.alert, _phase(check))
    if check.exactly:
        notes = session.expect.notified(
            check.receivers, alert=check.alert, status=check.status, within=wait
        )
        return "exactly " + ", ".join(sorted({n.receiver for n in notes}))
    # "At least": for a receiver whose delivery is not deterministic (see the drill file).
    reached = session.receivers.wait_for(
        lambda: (
            found
            if check.receivers
            <= (found := _matching(session.receivers.notifications(), check.alert, check.status))
            else None
        ),
        within=seconds(session, check.within, check.alert, _phase(check)),
        what=f"{check.alert} {check.status} notified to at least {sorted(check.receivers)}",
    )
    return "at least the expected; reached " + ", ".join(sorted(reached))


def _sentry_matches(events: tuple[SentryEvent, ...], check: SentryCheck) -> list[SentryEvent]:
    return [
        e
        for e in events
        if (check.exception_type is None or e.exception_type == check.exception_type)
        and (
            check.message_contains is None
            or check.message_contains in e.message
            or check.message_contains in e.exception_value
        )
    ]


def _sentry(session: DrillSession, check: SentryCheck) -> str:
    receivers = session.receivers

    def enough() -> list[SentryEvent] | None:
        events = _sentry_matches(receivers.sentry_events(), check)
        return events if len(events) >= check.min_count else None

    if check.min_count > 0:
        found = receivers.wait_for(
            enough,
            within=check.within.seconds,
            what=f"at least {check.min_count} matching Sentry event(s)",
        )
    else:
        found = _sentry_matches(receivers.sentry_events(), check)
    if check.max_count is not None and len(found) > check.max_count:
        raise ExpectationFailed(
            f"{len(found)} matching Sentry events, at most {check.max_count} expected",
            last_observation=[(e.exception_type, e.message or e.exception_value) for e in found],
            elapsed=0.0,
        )
    kinds = sorted({e.exception_type or e.message for e in found})
    return f"{len(found)} Sentry event(s): {', '.join(kinds) or 'none'}"


def _quiet(session: DrillSession, check: QuietCheck) -> str:
    """Wait for a violation; the wait timing out is the pass."""

    def offending() -> list[str] | None:
        bad = sorted(
            f"{n.alertname} → {n.receiver}"
            for n in session.receivers.notifications()
            # On a shared (external) stack, someone else's alerts keep notifying: not ours.
            if not (set(n.alertnames or (n.alertname,)) <= check.allowed)
            and not session.foreign_notification(n)
        )
        return bad or None

    try:
        bad = session.receivers.wait_for(
            offending, within=check.during, what="a notification beyond the expected"
        )
    except ExpectationFailed:
        allowed = len(session.receivers.notifications())
        which = "/".join(sorted(check.allowed)) or "none allowed"
        return f"no unexpected notification in {check.during:g}s ({allowed} allowed: {which})"
    raise ExpectationFailed(
        "paged beyond what the drill expects: " + "; ".join(bad),
        last_observation=bad,
        elapsed=0.0,
    )
