"""Drill 2 — the service crashes: ServiceDown pages the critical receivers; once it is
restarted everything resolves, and the incident the dead service could not open is opened
(and resolved) by Alertmanager's retry of the webhook."""

from __future__ import annotations

import time

import pytest

from alertdrill.errors import ExpectationFailed
from alertdrill.receivers.records import WebhookDelivery
from alertdrill.report.timeline import NOTE
from alertdrill.session import DrillSession
from scenarios.conftest import CRITICAL

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

ALERT = "ServiceDown"

# Alertmanager gives one notification of a group, retries included, max(group_interval,
# notify.MinTimeout = 10 s) before abandoning it; the group's next flush then sends the
# group's current state. Retries inside that flush follow Alertmanager's backoff: the
# first attempt at once, then gaps of 0.5 s x 1.5^n, each randomised by +/-50 %.
ALERTMANAGER_MIN_FLUSH_TIMEOUT = 10.0
# The latest a restarted receiver may come back (after the first failed attempt) and still
# be certain to get a retry inside the same flush: the 6th attempt falls within 3.3-9.9 s,
# and the 7th comes at most 5.7 s after the 6th, so a receiver back by 4.3 s always gets
# one before 10 s (worked out from the backoff above).
RETRY_GUARANTEED_WITHIN = 4.3


def test_service_down_pages_critical_and_recovers(drill: DrillSession) -> None:
    expect = drill.expect
    floor = drill.stack.rendered.floors()[ALERT]
    crash = drill.kill("service")

    with crash.injected():
        expect.alert(ALERT).firing(within="floor")
        # Critical routing, exactly: Slack #alerts-critical, PagerDuty and the incident
        # webhook. The webhook is recorded by the receivers' relay although the service
        # behind it is dead: the relay forwards it, gets "connection refused" and answers
        # Alertmanager 502, so Alertmanager keeps retrying it.
        expect.notified(CRITICAL, alert=ALERT, within="floor")
        expect.pagerduty(ALERT).triggered()
        first_attempt = _incident_webhooks(drill, "firing")[0]
        assert first_attempt.forwarded_status == 502, first_attempt

    # The revert restarted the service and waited until it is ready.
    back_after = _reverted_at(drill, crash.name) - first_attempt.arrived_at
    expect.timeline.mark(NOTE, "service ready again", after_first_webhook=round(back_after, 3))
    expect.alert(ALERT).resolved(within="floor")
    # On-call gets the all-clear on the floor; PagerDuty closes the page it opened.
    expect.pagerduty(ALERT).resolved(same_dedup_key=True)

    # Alertmanager tells a receiver that an alert resolved only if it got the firing
    # notification through to it. For the incident webhook that takes a retry reaching the
    # restarted service before Alertmanager abandons the flush (see below), so wait until
    # that flush has ended (delivered or abandoned at its timeout; the resolved notification
    # follows at once) and read which way it went.
    flush = max(floor.group_interval, ALERTMANAGER_MIN_FLUSH_TIMEOUT)
    webhook_flushed = time.monotonic() + floor.send + flush + floor.group_interval
    told = _arrives(drill, "resolved", by=webhook_flushed)
    expect.notified(
        CRITICAL if told else CRITICAL - {"webhook:incident"},
        alert=ALERT,
        status="resolved",
        within=_until(drill, webhook_flushed),
    )

    # The incident. A retry of the firing notification that reaches the restarted service
    # opens it; the resolved notification, sent only after that flush, resolves it: exactly
    # one. That retry is certain when the service was back within RETRY_GUARANTEED_WITHIN of
    # the first failed attempt (it takes ~1-3 s here). Back later, it is a race: without
    # it, Alertmanager gives up the firing notification and sends no all-clear to a receiver
    # it never reached, and the service has stored nothing, unless the very last retry
    # reached it just as Alertmanager gave up on it: that incident would stay open. So
    # beyond the guarantee the relay's record of the service's verdicts decides.
    if back_after <= RETRY_GUARANTEED_WITHIN:
        assert told, (
            f"the service was ready {back_after:.2f}s after the first failed webhook, yet "
            "Alertmanager never got the firing notification through"
        )
    if told:
        expect.incident(ALERT).opened(within=_until(drill, webhook_flushed))
        expect.incident(ALERT).resolved(within=_until(drill, webhook_flushed))
        expect.incident(ALERT).count(1)
    else:
        stored = any(_accepted(d) for d in _incident_webhooks(drill, "firing"))
        expect.incident(ALERT).count(1 if stored else 0)
        expect.incident(ALERT).count(1 if stored else 0, status="open")


def _incident_webhooks(drill: DrillSession, status: str) -> list[WebhookDelivery]:
    return [
        d
        for d in drill.receivers.webhooks()
        if d.name == "incident" and d.status == status and ALERT in d.alertnames
    ]


def _accepted(delivery: WebhookDelivery) -> bool:
    return delivery.forwarded_status is not None and 200 <= delivery.forwarded_status < 300


def _arrives(drill: DrillSession, status: str, *, by: float) -> bool:
    """Whether an incident webhook with ``status`` arrives by ``by`` (plus the slack)."""
    try:
        drill.receivers.wait_for(
            lambda: _incident_webhooks(drill, status),
            within=_until(drill, by),
            what=f"a {status} {ALERT} incident webhook",
        )
    except ExpectationFailed:
        return False
    return True


def _reverted_at(drill: DrillSession, fault: str) -> float:
    (revert,) = [e for e in drill.journal.events(fault) if e.action == "revert"]
    return revert.at_monotonic


def _until(drill: DrillSession, deadline: float) -> float:
    """Seconds from now to a deadline on the receivers' (monotonic) clock, plus the slack."""
    return max(0.0, deadline - time.monotonic()) + drill.slack
