"""Inhibition, live: while ServiceDown fires, HighErrorRate of the same service reaches no
receiver (Alertmanager shows it suppressed, inhibited by ServiceDown), and once ServiceDown
clears, the still-active HighErrorRate is delivered — to exactly the critical receivers.

ServiceDown here is its second leg: blackbox_exporter cannot reach the service's
/health/live (the prober's path to the service is cut: ``outage("probe")`` on the stack's
fault proxy), while the service itself keeps serving — and failing — real requests, and
Prometheus keeps scraping their errors. That is the situation the seed's rule is for: a
service that is down for its users also fails requests; page for the cause only.
"""

from __future__ import annotations

import pytest

from alertdrill.report.timeline import FAULT_REVERT
from alertdrill.session import DrillSession
from scenarios.alert_checks import assert_labels, floor_budget
from scenarios.conftest import CRITICAL

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

APPLICATION_CRITICAL = {
    "severity": "critical",
    "category": "application",
    "team": "backend",
    "service": "backend",
}
# How long to watch the suppressed alert for a delivery that must not happen: many of the
# fast profile's 100 ms group flushes.
MUTED_WATCH = 1.5


def test_service_down_inhibits_high_error_rate_until_it_clears(drill: DrillSession) -> None:
    expect = drill.expect
    path_down = drill.outage("probe")
    errors = drill.error_rate(routes="/api/status")
    with drill.traffic(rate=10, duration=90):
        with path_down.injected():
            down = expect.alert("ServiceDown").firing(within="floor")
            assert_labels(down, APPLICATION_CRITICAL)
            expect.notified(CRITICAL, alert="ServiceDown", within="floor")
            expect.incident("ServiceDown").opened(within="floor")

            # Only now the errors: ServiceDown is already active in Alertmanager when
            # HighErrorRate reaches it, so the inhibition is certain, not a race.
            errors.inject()
            try:
                failing = expect.alert("HighErrorRate").firing(within="floor")
                assert_labels(failing, APPLICATION_CRITICAL)
                muted = expect.alertmanager("HighErrorRate").inhibited(by="ServiceDown")
                assert muted.state == "suppressed", muted
                expect.no_notification(during=MUTED_WATCH, alert="HighErrorRate")
            except BaseException:
                errors.revert()
                raise
        # The path is back: ServiceDown resolves, and HighErrorRate, still firing, is told.
        try:
            expect.alert("ServiceDown").resolved(within="floor")
            expect.notified(CRITICAL, alert="ServiceDown", status="resolved", within="floor")
            expect.notified(
                CRITICAL,
                alert="HighErrorRate",
                # Counted from the path coming back: ServiceDown's all-clear, then the group's
                # next flush delivers what the inhibition held back.
                within=floor_budget(drill, "ServiceDown", resolve=True),
            )
            expect.incident("HighErrorRate").opened(within=drill.slack)
        finally:
            errors.revert()

    # Held back means never sent while muted: nothing about HighErrorRate arrived before the
    # path came back.
    restored = expect.timeline.last(FAULT_REVERT, path_down.name)
    assert restored is not None
    early = [
        n
        for n in drill.receivers.notifications()
        if "HighErrorRate" in (n.alertname, *n.alertnames) and n.arrived_at < restored.at
    ]
    assert not early, f"delivered while inhibited: {early}"

    expect.alert("HighErrorRate").resolved(within="floor")
    expect.notified(CRITICAL, alert="HighErrorRate", status="resolved", within="floor")
    expect.pagerduty("HighErrorRate").resolved(same_dedup_key=True)
    expect.pagerduty("ServiceDown").resolved(same_dedup_key=True)
    for alert in ("ServiceDown", "HighErrorRate"):
        expect.incident(alert).resolved(within="floor")
        expect.incident(alert).count(1)
