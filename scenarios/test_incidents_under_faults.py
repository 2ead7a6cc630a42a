"""Incidents under faults: exactly one incident per critical alert group, resolved exactly
once, with its timeline — for a long-firing alert (which also pages exactly once: no
duplicate pages, as repeat_interval says), when PostgreSQL restarts while the first
notification is in flight (Alertmanager retries, the service is idempotent), and when the
service itself restarts under a firing alert.

The critical alert is HighErrorRate (errors on the public status page under light traffic).
A restart may add a critical alert of its own (DatabaseDown, ServiceDown) when a scrape
happens to land in its short window; the same rule is checked for it: an incident exists
exactly when the service accepted one of its firing notifications, and then it is resolved
exactly once.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from functools import partial

import pytest
import yaml

from alertdrill.clients.service import IncidentDetail
from alertdrill.receivers.records import WebhookDelivery
from alertdrill.report.timeline import FAULT_INJECT, FAULT_REVERT
from alertdrill.session import DrillSession
from alertdrill.timing import eventually, parse_duration
from scenarios.alert_checks import assert_labels
from scenarios.conftest import CRITICAL

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

ALERT = "HighErrorRate"
ROUTE = "/api/status"
LABELS = {
    "severity": "critical",
    "category": "application",
    "team": "backend",
    "service": "backend",
}
# Kept firing this long after its first notification: hundreds of 100 ms group flushes, any
# of which would re-notify if Alertmanager's deduplication or repeat_interval were wrong.
HOLD = 3.0
# Alertmanager abandons one flush of a group (retries included) after max(group_interval,
# notify.MinTimeout = 10 s); the next flush then sends the group's current state.
FLUSH_TIMEOUT = 10.0
# How long before HighErrorRate turns firing PostgreSQL goes down: long enough for the stop
# to be complete when the notification arrives, short enough that postgres_exporter (scraped
# every 2 s) rarely sees it and DatabaseDown stays out of the picture.
STOP_AHEAD = 0.3


def test_long_firing_alert_pages_once_and_opens_one_incident(drill: DrillSession) -> None:
    expect = drill.expect
    with drill.traffic(rate=10, duration=90), drill.error_rate(routes=ROUTE).injected():
        assert_labels(expect.alert(ALERT).firing(within="floor"), LABELS)
        expect.notified(CRITICAL, alert=ALERT, within="floor")
        expect.pagerduty(ALERT).triggered()
        expect.incident(ALERT).opened(within="floor")
        # Still firing, and nobody hears of it again.
        expect.no_notification(during=HOLD, alert=ALERT)
        assert [a.state for a in drill.prometheus.alerts() if a.name == ALERT] == ["firing"]

    expect.alert(ALERT).resolved(within="floor")
    expect.notified(CRITICAL, alert=ALERT, status="resolved", within="floor")
    expect.pagerduty(ALERT).resolved(same_dedup_key=True)
    expect.incident(ALERT).resolved(within="floor")

    # One page, one message and one webhook each way, for the whole life of the alert.
    for status in ("firing", "resolved"):
        told = sorted(
            n.receiver
            for n in drill.receivers.notifications()
            if n.status == status and ALERT in (n.alertname, *n.alertnames)
        )
        assert told == sorted(CRITICAL), f"{status}: {told}"
    actions = [e.event_action for e in drill.receivers.pagerduty() if e.alertname == ALERT]
    assert actions == ["trigger", "resolve"], actions
    assert_one_incident(drill, ALERT)

    # The repeat interval Alertmanager runs with is the rendered one; nothing repeated within
    # it (the HOLD above is far shorter, so a repeat would have been a bug, not the config).
    loaded = yaml.safe_load(drill.alertmanager.status().config_yaml)
    repeat = parse_duration(loaded["route"]["repeat_interval"])
    assert repeat == drill.stack.rendered.profile.repeat_interval > HOLD


def test_one_incident_when_postgres_restarts_under_the_notification(drill: DrillSession) -> None:
    expect = drill.expect
    floor = drill.stack.rendered.floors()[ALERT]
    restart = drill.stop("postgres")
    with drill.traffic(rate=10, duration=90), drill.error_rate(routes=ROUTE).injected():
        pending = expect.alert(ALERT).pending(within="floor")
        assert pending.active_at is not None
        # Prometheus turns it firing at the first evaluation `for` after it went pending.
        fires_at = pending.active_at.timestamp() + floor.for_
        eventually(
            lambda: time.time() >= fires_at - STOP_AHEAD,
            within=max(0.0, fires_at - time.time()) + drill.slack,
            what="the moment to stop PostgreSQL",
        )
        with restart.injected():
            # The first firing notification reaches the service while its database is down.
            first = drill.receivers.wait_for(
                lambda: _first_firing(drill, ALERT),
                within=floor.total + drill.slack,
                what=f"the first {ALERT} incident webhook",
            )
        # PostgreSQL is back (the revert started it and waited until it accepts connections).
        stopped, started = _marks(drill, restart.name)
        assert stopped <= first.arrived_at <= started, (stopped, first.arrived_at, started)

        expect.notified(CRITICAL, alert=ALERT, within="floor")
        # Alertmanager retries the webhook within its flush; the service's pool reconnects
        # within about a second of PostgreSQL coming back (first retry after 1 s).
        expect.incident(ALERT).opened(within=FLUSH_TIMEOUT + drill.slack)
        attempts = _webhooks(drill, ALERT, "firing")
        assert any(_accepted(d) for d in attempts), attempts

    expect.alert(ALERT).resolved(within="floor")
    expect.notified(CRITICAL, alert=ALERT, status="resolved", within=_after_flush(drill))
    expect.pagerduty(ALERT).resolved(same_dedup_key=True)
    assert [e.event_action for e in drill.receivers.pagerduty() if e.alertname == ALERT] == [
        "trigger",
        "resolve",
    ]
    expect.incident(ALERT).resolved(within=_after_flush(drill))
    assert_one_incident(drill, ALERT)
    assert_other_critical_incidents(drill, besides=ALERT)


def test_one_incident_when_the_service_restarts_under_the_alert(drill: DrillSession) -> None:
    expect = drill.expect
    with ExitStack() as running:
        running.enter_context(drill.traffic(rate=10, duration=90))
        running.enter_context(drill.error_rate(routes=ROUTE).injected())
        expect.alert(ALERT).firing(within="floor")
        expect.notified(CRITICAL, alert=ALERT, within="floor")
        (before,) = expect.incident(ALERT).count(1, within=drill.slack)

        # A deploy: stop, start, ready again. Its faults live in memory, so the errors are
        # injected again at once (the alert stays active: its 5 s window spans the restart).
        with drill.restart("service").injected():
            pass
        running.enter_context(drill.error_rate(routes=ROUTE).injected())
        # Still one incident, the same one, and no second page, while errors go on.
        expect.no_notification(during=HOLD, alert=ALERT)
        (after,) = expect.incident(ALERT).count(1)
        assert after.id == before.id and after.status == "open", (before, after)

    expect.alert(ALERT).resolved(within="floor")
    expect.notified(CRITICAL, alert=ALERT, status="resolved", within=_after_flush(drill))
    expect.pagerduty(ALERT).resolved(same_dedup_key=True)
    actions = [e.event_action for e in drill.receivers.pagerduty() if e.alertname == ALERT]
    assert actions == ["trigger", "resolve"], actions
    expect.incident(ALERT).resolved(within=_after_flush(drill))
    assert_one_incident(drill, ALERT)
    assert_other_critical_incidents(drill, besides=ALERT)


# -- checks ------------------------------------------------------------------------------


def assert_one_incident(drill: DrillSession, alert: str) -> IncidentDetail:
    """Exactly one incident for the alert in this drill, resolved exactly once, and its
    timeline tells the story in order: created, alert firing, alert resolved, resolved."""
    (incident,) = drill.expect.incident(alert).count(1)
    detail = drill.service.incident(incident.id)
    kinds = [
        k for k in detail.kinds if k in ("created", "alert_firing", "alert_resolved", "resolved")
    ]
    assert detail.incident.status == "resolved", detail.incident
    assert kinds.count("created") == 1 and kinds[0] == "created", detail.kinds
    assert kinds.count("resolved") == 1 and kinds[-1] == "resolved", detail.kinds
    assert kinds.count("alert_firing") == 1 and kinds.count("alert_resolved") == 1, detail.kinds
    return detail


def assert_other_critical_incidents(drill: DrillSession, *, besides: str) -> None:
    """Critical alerts a restart raised on its own (a scrape landing in its window): an
    incident exactly when the service accepted one of their firing webhooks, and then it is
    resolved exactly once. Waits for each to resolve and its webhooks to be answered."""
    others = {
        name
        for d in drill.receivers.webhooks()
        if d.name == "incident"
        for name in d.alertnames
        if name != besides
    }
    for alert in sorted(others):
        drill.expect.alert(alert).resolved(within=_after_flush(drill))
        drill.receivers.wait_for(
            partial(_settled, drill, alert),
            within=_after_flush(drill),
            what=f"every {alert} incident webhook answered",
        )
        if any(_accepted(d) for d in _webhooks(drill, alert, "firing")):
            drill.expect.incident(alert).resolved(within=_after_flush(drill))
            assert_one_incident(drill, alert)
        else:
            drill.expect.incident(alert).count(0)


def _settled(drill: DrillSession, alert: str) -> bool:
    """Every delivery answered; a resolved one accepted if a firing one was."""
    deliveries = _webhooks(drill, alert, "firing") + _webhooks(drill, alert, "resolved")
    if any(d.forwarded_status is None for d in deliveries):
        return False
    if any(_accepted(d) for d in _webhooks(drill, alert, "firing")):
        return any(_accepted(d) for d in _webhooks(drill, alert, "resolved"))
    return True


def _webhooks(drill: DrillSession, alert: str, status: str) -> list[WebhookDelivery]:
    return [
        d
        for d in drill.receivers.webhooks()
        if d.name == "incident" and d.status == status and alert in d.alertnames
    ]


def _first_firing(drill: DrillSession, alert: str) -> WebhookDelivery | None:
    found = _webhooks(drill, alert, "firing")
    return found[0] if found else None


def _accepted(delivery: WebhookDelivery) -> bool:
    return delivery.forwarded_status is not None and 200 <= delivery.forwarded_status < 300


def _marks(drill: DrillSession, fault: str) -> tuple[float, float]:
    timeline = drill.expect.timeline
    injected, reverted = timeline.last(FAULT_INJECT, fault), timeline.last(FAULT_REVERT, fault)
    assert injected is not None and reverted is not None
    return injected.at, reverted.at


def _after_flush(drill: DrillSession) -> float:
    """A budget covering one whole Alertmanager flush still retrying, then the next."""
    return FLUSH_TIMEOUT + drill.stack.rendered.floors()[ALERT].resolve_total + drill.slack
