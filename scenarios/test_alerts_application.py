"""Application alerts, each fired by a real fault (seed alerts; HighErrorRate and ServiceDown
have drills of their own: test_high_error_rate.py, test_service_down.py, and the routing and
incident drills here check their labels).

HighResponseTime: the service's own latency fault on its public status page; warning,
application → the default receiver, Slack #alerts.
"""

from __future__ import annotations

import pytest

from alertdrill.session import DrillSession
from alertdrill.stack.floors import SignalDelay
from alertdrill.timing import eventually
from alertdrill.traffic import TrafficDriver
from scenarios.alert_checks import DEFAULT, drill_alert

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

ROUTE = "/api/status"
# Above the 2 s p95 threshold for real (not an interpolation artefact): every request takes
# just over 2.05 s, so it lands in the (2, 2.5] bucket and p95 reads 2.475 s. Barely over:
# a request is observed when it completes, so the delay is time the alert cannot save.
DELAY_MS = 2050
# One sequential client at 4 requests/s: the first request after the injection starts within
# 1/4 s. When it completes (DELAY_MS later) the 5 s window holds it and the ~4 x (5 - 2.05)
# fast requests from before the fault: 1 in 12.8 = 7.8 % slow, over the 5 % that moves p95
# into the slow bucket, so the first slow request is enough (faster traffic would dilute it
# under 5 % and the alert would wait for the second, DELAY_MS later still).
RATE = 4.0
WINDOW = 5.0  # the rule's 5m range at the fast profile
assert 1 / (1 + RATE * (WINDOW - DELAY_MS / 1000)) > 0.05


def test_high_response_time_notifies_default_receiver(drill: DrillSession) -> None:
    stack = drill.stack
    # One sequential client; slow requests are not abandoned (timeout above the delay), so
    # each is observed by the service when it completes.
    traffic = TrafficDriver(
        stack.service.url, rate_per_second=RATE, max_duration=60, paths=(ROUTE,), timeout=10
    )
    with traffic:
        # The route's latency series must already exist in Prometheus: a series that first
        # appears with the first slow request has no increase to take a rate of until the
        # second one completes, another 2 s later.
        eventually(
            lambda: drill.prometheus.query(
                f'http_request_duration_seconds_count{{route="{ROUTE}"}}'
            ),
            within=10,
            what=f"Prometheus has scraped latencies of {ROUTE}",
        )
        drill_alert(
            drill,
            "HighResponseTime",
            drill.latency(routes=ROUTE, delay_ms=DELAY_MS),
            receivers=DEFAULT,
            labels={
                "severity": "warning",
                "category": "application",
                "team": "backend",
                "service": "backend",
            },
            # A slow request is observed when it completes: the first one DELAY_MS after it
            # starts (within 1/RATE of the fault), the last one up to DELAY_MS after the revert.
            signal=SignalDelay.completion(DELAY_MS / 1000, arrival=1 / RATE),
        )
