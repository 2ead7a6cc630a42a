"""Drill 3 — PostgreSQL goes away: DatabaseDown pages on-call and the database team (Slack and
a real email), the service reports not-ready but stays alive, and everything resolves once
PostgreSQL is back."""

from __future__ import annotations

import time

import pytest

from alertdrill.errors import ExpectationFailed
from alertdrill.receivers.records import WebhookDelivery
from alertdrill.report.timeline import NOTE
from alertdrill.session import DrillSession
from scenarios.conftest import CRITICAL, DATABASE_TEAM

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

ALERT = "DatabaseDown"
RECEIVERS = CRITICAL | DATABASE_TEAM

# Alertmanager gives one notification of a group, retries included, max(group_interval,
# notify.MinTimeout = 10 s) before abandoning it; the group's next flush then sends the
# group's current state.
ALERTMANAGER_MIN_FLUSH_TIMEOUT = 10.0
# The service's connection pool (psycopg_pool) retries a lost connection after 1 s, doubling
# each time, +/-10 %: once PostgreSQL is back, the next attempt comes within about
# 1.22 x (how long it was away) + 1.1 s.
POOL_BACKOFF_FACTOR = 1.25
POOL_FIRST_DELAY = 1.1


def test_database_down_pages_critical_and_database_team(drill: DrillSession) -> None:
    expect = drill.expect
    service = drill.stack.service
    floor = drill.stack.rendered.floors()[ALERT]
    outage = drill.stop("postgres")

    with outage.injected():
        expect.alert(ALERT).firing(within="floor")
        # On-call (Slack #alerts-critical, PagerDuty, incident webhook) and the database team
        # (Slack #db-team, email), exactly.
        expect.notified(RECEIVERS, alert=ALERT, within="floor")
        expect.pagerduty(ALERT).triggered()
        (email,) = [e for e in drill.receivers.emails() if e.alertname == ALERT]
        assert email.rcpt_tos == ("db-team@example.com",), email
        assert email.status == "firing", email
        assert ALERT in email.subject, email

        # Meanwhile: not ready (take it out of the load balancer), but alive (don't restart
        # it: a restart cannot bring the database back). Checked now, no waiting: PostgreSQL
        # has been down for at least the detection floor.
        expect.http(service, "/health/ready").status(503, within=0)
        expect.http(service, "/health/live").status(200, within=0)

        # The service cannot store an incident without its database: every incident webhook
        # so far is refused with a retryable 5xx, or still held by the service waiting for a
        # pool connection (no verdict yet). Alertmanager keeps retrying it.
        attempts = _incident_webhooks(drill)
        assert attempts, "the incident webhook was not notified"
        assert all(d.forwarded_status is None or d.forwarded_status >= 500 for d in attempts), [
            (d.status, d.forwarded_status) for d in attempts
        ]

    # PostgreSQL is back (the revert started it and waited until it accepts connections).
    expect.alert(ALERT).resolved(within="floor")
    # On-call gets the all-clear on the floor; PagerDuty closes the page it opened.
    expect.pagerduty(ALERT).resolved(same_dedup_key=True)

    # Alertmanager tells a receiver that an alert resolved only if it got the firing
    # notification through to it: a group it never notified gets no all-clear. For the
    # incident webhook that is a race (see "Incidents" below), so wait until the flush
    # Alertmanager may still be retrying has ended (delivered or abandoned at its timeout;
    # the resolved notification follows at once) and read which way it went.
    flush = max(floor.group_interval, ALERTMANAGER_MIN_FLUSH_TIMEOUT)
    webhook_flushed = time.monotonic() + floor.send + flush + floor.group_interval
    told = _arrives(drill, "resolved", by=webhook_flushed)
    expect.notified(
        RECEIVERS if told else RECEIVERS - {"webhook:incident"},
        alert=ALERT,
        status="resolved",
        within=_until(drill, webhook_flushed),
    )

    # Ready again once the service's pool has reconnected.
    injected, reverted = _fault_times(drill, outage.name)
    pool_back = reverted + POOL_BACKOFF_FACTOR * (reverted - injected) + POOL_FIRST_DELAY
    expect.http(service, "/health/ready").status(200, within=_until(drill, pool_back))

    # From then on the service answers every webhook at once: within one more flush the
    # all-clear (if any) is accepted, and no delivery the service held during the outage
    # is still waiting for its verdict (the relay's forward timeout is shorter than a flush).
    settled_by = time.monotonic() + flush + floor.group_interval
    drill.receivers.wait_for(
        lambda: _webhooks_settled(drill, told=told),
        within=_until(drill, settled_by),
        what=f"every {ALERT} incident webhook answered"
        + (", the resolved one accepted" if told else ""),
    )

    # Incidents. Whether one is opened is NOT deterministic: the service can only store it
    # once its pool has reconnected (1-2-4-8 s backoff), and only while Alertmanager still
    # retries the firing notification (until the alert resolves and the flush in progress
    # ends); a webhook the service held while PostgreSQL came back may also commit. What is
    # deterministic, given the service's verdicts on every delivery (recorded by the relay):
    # - an incident exists exactly when the service accepted a firing delivery;
    # - if Alertmanager got that firing notification through, it sent the all-clear too and
    #   the incident is resolved;
    # - if it did not (the accepted delivery was one Alertmanager had already given up on,
    #   its flush timed out while the service held it), nobody ever resolves that incident:
    #   it stays open. A real gap of the chain, not of the drill; noted on the timeline.
    stored = any(_accepted(d) for d in _incident_webhooks(drill, "firing"))
    left_open = stored and not told
    verdicts = " ".join(f"{d.status}:{d.forwarded_status}" for d in _incident_webhooks(drill))
    expect.timeline.mark(
        NOTE, "incident webhook verdicts", verdicts=verdicts, told=told, left_open=left_open
    )
    expect.incident(ALERT).count(1 if stored else 0)
    expect.incident(ALERT).count(1 if left_open else 0, status="open")


def _incident_webhooks(drill: DrillSession, status: str | None = None) -> list[WebhookDelivery]:
    return [
        d
        for d in drill.receivers.webhooks()
        if d.name == "incident" and ALERT in d.alertnames and (status is None or d.status == status)
    ]


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


def _webhooks_settled(drill: DrillSession, *, told: bool) -> bool:
    attempts = _incident_webhooks(drill)
    answered = all(d.forwarded_status is not None for d in attempts)
    resolved = [d for d in attempts if d.status == "resolved"]
    return answered and (not told or any(_accepted(d) for d in resolved))


def _accepted(delivery: WebhookDelivery) -> bool:
    return delivery.forwarded_status is not None and 200 <= delivery.forwarded_status < 300


def _fault_times(drill: DrillSession, fault: str) -> tuple[float, float]:
    (inject,) = [e for e in drill.journal.events(fault) if e.action == "inject"]
    (revert,) = [e for e in drill.journal.events(fault) if e.action == "revert"]
    return inject.at_monotonic, revert.at_monotonic


def _until(drill: DrillSession, deadline: float) -> float:
    """Seconds from now to a deadline on the receivers' (monotonic) clock, plus the slack."""
    return max(0.0, deadline - time.monotonic()) + drill.slack
