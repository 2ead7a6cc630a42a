"""The live routing check on a real Alertmanager (prometheus-alertmanager 0.25, receivers at
the harness's sinks): inhibition and grouping of our config and of another team's, and a
wrong expectation reported at its file:line within seconds, not at the timeout."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from alertdrill.verify.amconfig import load_alertmanager
from alertdrill.verify.live_am import check_live
from alertdrill.verify.routing_tests import load_routing_tests

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SEED_AM = ROOT / "monitoring" / "alertmanager" / "alertmanager.yml"
SEED_TESTS = ROOT / "monitoring" / "alertmanager" / "tests" / "routing.yml"
OTHER = ROOT / "tests" / "fixtures" / "other-team"


def test_seed_inhibition_and_grouping_hold_on_a_real_alertmanager() -> None:
    tests = load_routing_tests(SEED_TESTS)
    result, outcome = check_live(SEED_AM, load_alertmanager(SEED_AM), tests.live, tests.routes)
    assert result.status == "passed", [f.message for f in result.findings]
    assert len(result.cases) == len(tests.live)
    assert outcome.inhibit_rules_observed == {
        "inhibit_rules[0]",
        "inhibit_rules[1]",
        "inhibit_rules[2]",
    }
    assert outcome.receivers_notified == {
        "default", "critical", "incident-webhook", "database-team", "ops-team", "security-team"
    }  # fmt: skip
    assert result.seconds < 15


def test_another_teams_config_runs_live_without_its_integrations_or_clock() -> None:
    config = OTHER / "config" / "alertmanager.yml"
    tests = load_routing_tests(OTHER / "tests" / "routing.yml")
    result, outcome = check_live(config, load_alertmanager(config), tests.live, tests.routes)
    assert result.status == "passed", [f.message for f in result.findings]
    # Opsgenie has no sink: dropped (the probe still sees the receiver); time-based muting is
    # ignored so that the result does not depend on the day of the week.
    assert "payments-pager/opsgenie_configs" in result.note
    assert "time-based muting ignored" in result.note
    assert "payments-pager" in outcome.receivers_notified
    assert outcome.inhibit_rules_observed == {"inhibit_rules[0]", "inhibit_rules[1]"}


def test_a_wrong_expectation_fails_fast_at_its_line(tmp_path: Path) -> None:
    routing = tmp_path / "routing.yml"
    routing.write_text(
        "defaults: {cluster: production, service: backend}\n"
        "routes:\n"
        "  - name: wrong receivers\n"
        "    labels: {alertname: HighErrorRate, severity: critical}\n"
        "    receivers: [default]\n"
        "live:\n"
        "  - name: believes ServiceDown mutes nothing\n"
        "    alerts:\n"
        "      down: {alertname: ServiceDown, severity: critical}\n"
        "      errors: {alertname: HighErrorRate, severity: critical}\n"
        "    inhibited: []\n"
        "    notifications:\n"
        "      critical: [[down, errors]]\n",
        encoding="utf-8",
    )
    tests = load_routing_tests(routing)
    started = time.monotonic()
    result, _ = check_live(SEED_AM, load_alertmanager(SEED_AM), tests.live, tests.routes)
    assert time.monotonic() - started < 12  # settles, does not sit out LIVE_TIMEOUT
    assert result.status == "failed"
    live = [f for f in result.findings if f.id == "live/failed"]
    assert {(f.line, f.path.endswith("routing.yml") if f.path else False) for f in live} == {
        (7, True)
    }
    messages = "\n".join(f.message for f in live)
    assert "inhibited ['errors'], expected nothing" in messages
    assert "critical got groups [down], expected [down, errors]" in messages
    assert "incident-webhook got groups [down], expected none" in messages
    [mismatch] = [f for f in result.findings if f.id == "live/route-mismatch"]
    assert mismatch.line == 3
    assert "['critical', 'incident-webhook']" in mismatch.message
