"""Load drill — a traffic spike: production-like users at a normal level, then five times as
many for a while (Locust's spike shape). UnusualAPIActivity stays quiet during the normal
level (a built-in negative control), fires on the spike and reaches the security team on
Slack and by email; it resolves once the traffic is gone."""

from __future__ import annotations

from pathlib import Path

import pytest

from alertdrill.load import LoadTarget
from alertdrill.session import DrillSession
from alertdrill.timing import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.load]

ALERT = "UnusualAPIActivity"
SECURITY = frozenset({"slack:#security", "email:security@example.com"})
# The rule (monitoring/prometheus/alerts.yml): API rate over 5m above 3x its average over the
# hour before (offset 5m) AND above 10 req/s. Peak 40 users at half the think time send
# ~30-40 API req/s; the spike shape's base is 20 % of the peak, ~7 req/s, under the floor.
PEAK_USERS = 40
DURATION = 45.0  # spike from 30 % to 70 % of the run: 13.5 s of base, then 18 s of spike
SPIKE_START = 0.3 * DURATION
# The spike must be over 3x the baseline: wait until the previous drills' traffic weighs
# little in the baseline window (its average well under a third of the spike's rate).
QUIET_BASELINE = 7.0
LOCUST_STARTUP = 3.0


@pytest.fixture(scope="module")
def load(drill_session: DrillSession, pytestconfig: pytest.Config) -> LoadTarget:
    reports = Path(pytestconfig.getoption("--alertdrill-reports")) / "load"
    target = LoadTarget.of_stack(drill_session.stack, artifacts=reports)
    target.provision()
    return target


def _baseline_window(drill: DrillSession) -> float:
    """Seconds of history the rule's baseline reads ([1h] offset 5m, scaled by the profile)."""
    return (3600 + 300) * drill.stack.rendered.profile.duration_scale


def test_spike_fires_unusual_api_activity_to_security(
    drill: DrillSession, load: LoadTarget
) -> None:
    expect = drill.expect
    window = _baseline_window(drill)
    lookback = f"{round(window * 1000)}ms"
    eventually(
        lambda: (
            (
                drill.prometheus.query_value(
                    f"max(avg_over_time(service:http_requests:rate5m[{lookback}]))"
                )
                or 0.0
            )
            < QUIET_BASELINE
        ),
        within=window + 30,
        every=1.0,
        what=f"the average API rate of the last {window:g}s to be under {QUIET_BASELINE} req/s",
    )
    plan = load.plan(
        users=PEAK_USERS,
        duration=DURATION,
        profile="spike",
        spawn_rate=PEAK_USERS,  # a sharp edge: the whole spike within a second
        think_time=0.5,
        user_classes=("TenantUser", "Visitor"),
    )

    with load.start(plan, "spike") as run:
        # The normal level is not unusual, however fresh the baseline.
        expect.alert(ALERT).not_firing(during=SPIKE_START - 1.0)
        budget = drill.floors[ALERT] + LOCUST_STARTUP + drill.slack
        alert = expect.alert(ALERT).firing(within=budget)
        expect.notified(SECURITY, alert=ALERT, within=budget)
        run.stop()
        result = run.wait()

    expect.alert(ALERT).resolved(within="floor")
    expect.notified(SECURITY, alert=ALERT, status="resolved", within="floor")

    assert alert.value > 10, alert  # the rule's absolute floor
    assert result.peak_users() == PEAK_USERS, result.history[-3:]
    assert result.total.failures == 0, result.failures
