"""Security alerts, each fired by real traffic; warning, security → the security team (Slack
#security and an email to security@example.com).

- HighAuthenticationFailures: a credential-stuffing storm, real failed logins for a real
  account at 5/s (threshold 0.5/s) — and below UnusualAPIActivity's 10 req/s floor, so the
  storm is not also an API-traffic anomaly.
- UnusualAPIActivity: a request spike well above the unusual-activity threshold (3x the
  baseline Prometheus holds, and at least 10 req/s).
"""

from __future__ import annotations

import pytest

from alertdrill.faults import spike_rate
from alertdrill.faults.traffic import MAX_SPIKE_RATE, SPIKE_PATHS, UNUSUAL_ACTIVITY_FLOOR
from alertdrill.session import DrillSession
from alertdrill.stack.floors import SignalDelay
from alertdrill.timing import eventually
from scenarios.alert_checks import SECURITY_TEAM, drill_alert

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

SECURITY_LABELS = {
    "severity": "warning",
    "category": "security",
    "team": "security",
    "service": "backend",
}
# Rates are over 5 s windows at the fast profile (5m in production).
WINDOW = 5.0
STORM_RATE = 5.0
AUTH_THRESHOLD = 0.5
# Fast enough that the recorded 5 s rate clears the 10 req/s floor about a second into the
# spike; one sequential client sustains it on 2 cores.
SPIKE_RATE = 50.0
# Above this baseline, a spike the rate cap allows (100 req/s) is not 1.5x unusual.
MAX_BASELINE = 20.0
BASELINE_WINDOW = 65.0  # 1h offset 5m, at 1/60


def _scraped(drill: DrillSession, series: str) -> None:
    """Wait until Prometheus holds ``series``. A counter series born with the fault would lose
    its first sample to the rate's start (the signal bound assumes it exists already)."""
    eventually(
        lambda: drill.prometheus.query(series),
        within=10,
        what=f"Prometheus has scraped {series}",
    )


def test_high_authentication_failures_notify_security(drill: DrillSession) -> None:
    # One failed login of the storm's kind first (bad password for the same account): the
    # failure series exists before the storm; one failure is far under 0.5/s over 5 s.
    email = drill.stack.credentials.superuser_email
    warmup = drill.service.post("/api/auth/login", {"email": email, "password": "wrong-warm-up"})
    assert warmup.status_code == 401, warmup.text
    _scraped(drill, 'auth_attempts_total{result="failure"}')
    storm = drill.auth_storm(rate=STORM_RATE)
    drill_alert(
        drill,
        "HighAuthenticationFailures",
        storm,
        receivers=SECURITY_TEAM,
        labels=SECURITY_LABELS,
        # The failure rate over the window passes 0.5/s with the 3rd failure (2.5 fit in 5 s
        # at 0.5/s), due 2/5 s into the storm, plus its response: 0.6 s.
        signal=SignalDelay.event_ramp(window=WINDOW, threshold=AUTH_THRESHOLD, rate=STORM_RATE),
    )
    stats = storm.stats
    assert stats is not None and stats.count(lambda status: status == 401) == stats.sent, stats


def test_unusual_api_activity_notifies_security(drill: DrillSession) -> None:
    # A heavy drill just before (a load test on the same stack) raises the baseline; a spike
    # the driver can send must still be unusual, so wait for the baseline to come down (its
    # window is the last minute, at the fast profile's scale).
    def low_baseline() -> tuple[float] | None:
        baseline = drill.api_baseline()  # a tuple: a baseline of 0 is a fine answer
        return (baseline,) if baseline <= MAX_BASELINE else None

    # The spike's routes have been requested before (the counter series exist), as for auth.
    for path in SPIKE_PATHS:
        assert drill.service.get(path).status_code == 200, path
        _scraped(drill, f'http_requests_total{{route="{path}"}}')
    (baseline,) = eventually(
        low_baseline,
        within=BASELINE_WINDOW + drill.slack,
        what=f"the API baseline to be at most {MAX_BASELINE:g} req/s",
    )
    # The threshold right now: 3x the baseline this Prometheus has learnt, at least 10 req/s.
    threshold = max(UNUSUAL_ACTIVITY_FLOOR, 3 * baseline)
    rate = min(MAX_SPIKE_RATE, max(SPIKE_RATE, spike_rate(baseline)))
    assert rate >= 1.5 * threshold, f"baseline {baseline:.1f} req/s is too high for a spike"
    drill_alert(
        drill,
        "UnusualAPIActivity",
        drill.request_spike(rate=rate),
        receivers=SECURITY_TEAM,
        labels=SECURITY_LABELS,
        # The recorded 5 s rate passes the threshold with request floor(threshold x 5) + 1 of
        # the spike (51 at 10 req/s), due at 50 req/s about a second in.
        signal=SignalDelay.event_ramp(window=WINDOW, threshold=threshold, rate=rate),
    )
