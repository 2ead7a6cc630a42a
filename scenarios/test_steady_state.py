"""Drill 4 — steady state: normal light traffic raises no alert and notifies nobody. And the
positive control: the very same check, with an error-rate fault injected, fails. Without the
control a broken pipeline (rules not loaded, Alertmanager not routing) would pass it too."""

from __future__ import annotations

import math

import pytest

from alertdrill.errors import ExpectationFailed
from alertdrill.report.timeline import EXPECTATION, NOTE
from alertdrill.session import DrillSession

pytestmark = [pytest.mark.e2e]

# Below UnusualAPIActivity's absolute floor of 10 req/s (monitoring/prometheus/alerts.yml):
# normal traffic for a service whose baseline this fresh Prometheus has not learnt yet.
NORMAL_RATE = 5.0


def _window(drill: DrillSession) -> float:
    """Long enough for any alert of the rendered config to have fired and notified: the
    longest detection floor, plus the slack every floor gets."""
    return max(drill.floors.values()) + drill.slack


def assert_steady_state(drill: DrillSession, *, during: float) -> None:
    """Nobody is notified and no alert fires in Prometheus for ``during`` seconds.

    Both halves cover the same window and every violation is reported (``ExpectationFailed``
    with ``last_observation={"notified": ..., "fired": [...]}``): notifications as they
    arrive, alerts from Prometheus' own record of every rule evaluation
    (``ALERTS{alertstate="firing"}`` over the window), so an alert that fired and resolved
    between two looks still counts. Pending is allowed, as in ``not_firing``.
    """
    timeline = drill.expect.timeline
    started = timeline.mark(NOTE, "steady-state window begins", seconds=round(during, 3)).at
    notified: ExpectationFailed | None = None
    try:
        drill.expect.no_notification(during=during)
    except ExpectationFailed as failed:  # reported below, together with the alerts
        notified = failed

    window_ms = math.ceil((timeline.now() - started) * 1000)
    what = f"no alert firing in Prometheus for {window_ms / 1000:g}s"
    samples = drill.prometheus.query(
        f'max by (alertname) (max_over_time(ALERTS{{alertstate="firing"}}[{window_ms}ms]))'
    )
    fired = sorted(s.labels.get("alertname", "?") for s in samples)
    elapsed = round(timeline.now() - started, 3)
    timeline.mark(EXPECTATION, what, outcome="failed" if fired else "passed", elapsed=elapsed)

    if notified is None and not fired:
        return
    problems = [f"alerts fired: {', '.join(fired)}"] if fired else []
    if notified is not None:
        problems.append(notified.message)
    raise ExpectationFailed(
        "steady state violated: " + "; ".join(problems),
        last_observation={"notified": notified, "fired": fired},
        elapsed=elapsed,
        timeline=timeline.render_text(drill.floors),
    )


def test_normal_traffic_raises_no_alert_and_notifies_nobody(drill: DrillSession) -> None:
    window = _window(drill)
    with drill.traffic(rate=NORMAL_RATE, duration=2 * window) as traffic:
        assert_steady_state(drill, during=window)
    stats = traffic.stats()

    # Not vacuous: the service really served normal traffic all along, without a 5xx.
    assert stats.count(lambda s: 200 <= s < 300) >= NORMAL_RATE * window * 0.8, stats
    assert stats.count(lambda s: s >= 500) == 0, stats
    assert stats.errors == 0, stats


def test_positive_control_the_steady_state_check_fails_under_a_fault(
    drill: DrillSession,
) -> None:
    window = _window(drill)
    with (
        drill.traffic(rate=NORMAL_RATE, duration=2 * window),
        drill.error_rate(routes="/api/status").injected(),
        pytest.raises(ExpectationFailed) as failed,
    ):
        assert_steady_state(drill, during=window)

    # Both halves of the check caught it: the alert fired and somebody was notified of it.
    seen = failed.value.last_observation
    assert isinstance(seen, dict), seen
    assert "HighErrorRate" in seen["fired"], failed.value
    assert isinstance(seen["notified"], ExpectationFailed), failed.value
    assert "HighErrorRate" in seen["notified"].message, failed.value
