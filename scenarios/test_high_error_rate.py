"""Drill 1 — the seed's incident-response flow: errors under light traffic page the critical
receivers and open exactly one incident; reverting resolves everything."""

from __future__ import annotations

import pytest

from alertdrill.session import DrillSession
from scenarios.conftest import CRITICAL

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]


def test_high_error_rate_pages_critical_and_opens_one_incident(drill: DrillSession) -> None:
    expect = drill.expect
    with drill.traffic(rate=10, duration=90), drill.error_rate(routes="/api/status").injected():
        expect.alert("HighErrorRate").firing(within="floor")
        expect.notified(CRITICAL, alert="HighErrorRate", within="floor")
        expect.pagerduty("HighErrorRate").triggered()
        expect.incident("HighErrorRate").opened(within="floor")

    expect.alert("HighErrorRate").resolved(within="floor")
    expect.notified(CRITICAL, alert="HighErrorRate", status="resolved", within="floor")
    expect.pagerduty("HighErrorRate").resolved(same_dedup_key=True)
    expect.incident("HighErrorRate").resolved(within="floor")
    expect.incident("HighErrorRate").count(1)
