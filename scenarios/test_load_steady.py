"""Load drill — steady production-like traffic for a while raises no alert and notifies
nobody, and its latency and errors meet the SLO. The positive control: the very same check,
with credential-stuffing users added to the very same traffic, fails. Without it a broken
pipeline (rules not loaded, Alertmanager not routing) would pass the quiet check too."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from alertdrill.errors import ExpectationFailed
from alertdrill.load import AUTH_ATTACK, LOCUSTFILE, LoadPlan, LoadTarget, SloGate
from alertdrill.report.timeline import EXPECTATION, NOTE
from alertdrill.session import DrillSession
from alertdrill.timing import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.load]

# The whole production mix (tenant users, superuser dashboard, status-page visitors, health
# probes) at ~5 API req/s: under UnusualAPIActivity's 10 req/s floor, which is what "normal"
# means for a baseline this fresh Prometheus has not learnt (see the rule's comments).
USERS = 10
QUIET_FOR = 20.0  # 20 minutes in production time (the fast profile divides by 60)
SLO = SloGate(p95_ms=500, max_failure_ratio=0.0, min_rps=2.0)


@pytest.fixture(scope="module")
def load(drill_session: DrillSession, pytestconfig: pytest.Config) -> LoadTarget:
    reports = Path(pytestconfig.getoption("--alertdrill-reports")) / "load"
    target = LoadTarget.of_stack(drill_session.stack, artifacts=reports)
    target.provision()
    return target


def _plan(load: LoadTarget, *, attackers: int = 0) -> LoadPlan:
    if not attackers:
        return load.plan(users=USERS, duration=QUIET_FOR + 15, spawn_rate=5)
    return load.plan(
        users=USERS + attackers,
        duration=QUIET_FOR + 15,
        spawn_rate=5,
        locustfiles=(LOCUSTFILE, AUTH_ATTACK),
        options={
            "config-users": json.dumps(
                {"user_class_name": "AuthAttacker", "fixed_count": attackers}
            )
        },
    )


def assert_quiet(drill: DrillSession, *, during: float) -> None:
    """No notification and no alert firing in Prometheus for ``during`` seconds; every
    violation is reported (``last_observation={"notified": ..., "fired": [...]}``)."""
    timeline = drill.expect.timeline
    started = timeline.mark(NOTE, "quiet window begins", seconds=during).at
    notified: ExpectationFailed | None = None
    try:
        drill.expect.no_notification(during=during)
    except ExpectationFailed as failed:  # reported below, with the alerts
        notified = failed
    window_ms = math.ceil((timeline.now() - started) * 1000)
    # From Prometheus' own record of every evaluation: an alert that fired and resolved
    # between two looks still counts. Pending is allowed, as in not_firing.
    samples = drill.prometheus.query(
        f'max by (alertname) (max_over_time(ALERTS{{alertstate="firing"}}[{window_ms}ms]))'
    )
    fired = sorted(s.labels.get("alertname", "?") for s in samples)
    what = f"no alert firing in Prometheus for {window_ms / 1000:g}s"
    timeline.mark(EXPECTATION, what, outcome="failed" if fired else "passed")
    if notified is None and not fired:
        return
    problems = [f"alerts fired: {', '.join(fired)}"] if fired else []
    if notified is not None:
        problems.append(notified.message)
    raise ExpectationFailed(
        "load was not quiet: " + "; ".join(problems),
        last_observation={"notified": notified, "fired": fired},
        elapsed=round(timeline.now() - started, 3),
        timeline=timeline.render_text(drill.floors),
    )


def test_steady_production_load_raises_no_alert(drill: DrillSession, load: LoadTarget) -> None:
    with load.start(_plan(load), "steady") as run:
        eventually(
            lambda: (progress := run.poll()) is not None and progress.users == USERS,
            within=20,
            what=f"Locust to run {USERS} users",
        )
        assert_quiet(drill, during=QUIET_FOR)
        run.stop()
        result = run.wait()

    verdict = SLO.evaluate(result)
    assert verdict.passed, verdict.render()
    assert result.total.requests >= 2.0 * QUIET_FOR, result.total


def test_positive_control_the_quiet_check_fails_under_an_auth_storm(
    drill: DrillSession, load: LoadTarget
) -> None:
    with (
        load.start(_plan(load, attackers=2), "steady-control"),
        pytest.raises(ExpectationFailed) as failed,
    ):
        assert_quiet(drill, during=QUIET_FOR)

    seen = failed.value.last_observation
    assert isinstance(seen, dict), seen
    assert "HighAuthenticationFailures" in seen["fired"], failed.value
    assert isinstance(seen["notified"], ExpectationFailed), failed.value
    assert "HighAuthenticationFailures" in seen["notified"].message, failed.value
