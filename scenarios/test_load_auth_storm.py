"""Load drill — an authentication storm hidden in normal traffic: credential-stuffing users
send wrong passwords at ~4 attempts/s while tenant users work normally.
HighAuthenticationFailures fires and reaches the security team on Slack and by email,
and nobody else; it resolves once the storm stops."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alertdrill.load import AUTH_ATTACK, LOCUSTFILE, LoadTarget
from alertdrill.session import DrillSession

pytestmark = [pytest.mark.e2e, pytest.mark.load]

ALERT = "HighAuthenticationFailures"
# security-team in monitoring/alertmanager/alertmanager.yml
SECURITY = frozenset({"slack:#security", "email:security@example.com"})
# The rule's threshold is 0.5 failed logins/s (monitoring/prometheus/alerts.yml): two
# attackers at 2 attempts/s each are 8x over it. Total API traffic stays under
# UnusualAPIActivity's 10 req/s floor, so this drill is about one alert only.
ATTACKERS = 2
ATTACK_RATE = 2.0
TENANT_USERS = 4
LOCUST_STARTUP = 3.0


@pytest.fixture(scope="module")
def load(drill_session: DrillSession, pytestconfig: pytest.Config) -> LoadTarget:
    reports = Path(pytestconfig.getoption("--alertdrill-reports")) / "load"
    target = LoadTarget.of_stack(drill_session.stack, artifacts=reports)
    target.provision()
    return target


def test_auth_storm_alerts_the_security_team(drill: DrillSession, load: LoadTarget) -> None:
    expect = drill.expect
    budget = drill.floors[ALERT] + LOCUST_STARTUP + drill.slack
    plan = load.plan(
        users=TENANT_USERS + ATTACKERS,
        duration=40,
        locustfiles=(LOCUSTFILE, AUTH_ATTACK),
        user_classes=("TenantUser", "AuthAttacker"),
        options={
            "attack-rate": f"{ATTACK_RATE:g}",
            # Exactly this many attackers whatever the weights; the rest are tenant users.
            "config-users": json.dumps(
                {"user_class_name": "AuthAttacker", "fixed_count": ATTACKERS}
            ),
        },
    )

    with load.start(plan, "auth-storm") as run:
        alert = expect.alert(ALERT).firing(within=budget)
        expect.notified(SECURITY, alert=ALERT, within=budget)
        run.stop()
        result = run.wait()

    expect.alert(ALERT).resolved(within="floor")
    expect.notified(SECURITY, alert=ALERT, status="resolved", within="floor")

    assert alert.value > 0.5, alert
    # Every wrong password got the expected 401 (a success for the attacker's flow), and
    # the tenant users kept working: no failure at all.
    assert result.total.failures == 0, result.failures
    logins = result.endpoint("POST", "/api/auth/login")
    assert logins.requests >= ATTACKERS * ATTACK_RATE * 3, logins
    assert result.endpoint("GET", "/api/tenants/{tenant_id}/items").requests > 0
