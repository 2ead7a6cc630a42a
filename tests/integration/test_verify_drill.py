"""verify against the running local stack: every metric the rules and the dashboard select
exists on the live targets, every panel returns data under a drill, a missing metric or label
is explained; and the coverage recorder sees alerts, receivers and inhibitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alertdrill.clients.alertmanager import PostableAlert
from alertdrill.session import DrillSession
from alertdrill.timing import eventually
from alertdrill.verify.coverage_file import read_coverage
from alertdrill.verify.dashboards import load_dashboard
from alertdrill.verify.findings import CheckResult
from alertdrill.verify.live_prom import check_dashboards_live, check_metrics
from alertdrill.verify.recorder import CoverageRecorder
from alertdrill.verify.rules import load_rules

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
RULES = load_rules([ROOT / "monitoring" / "prometheus" / "alerts.yml"])
DASHBOARD = load_dashboard(ROOT / "monitoring" / "grafana" / "dashboards" / "backend-overview.json")


def test_every_metric_exists_and_every_panel_has_data_under_a_drill(drill: DrillSession) -> None:
    creds = drill.stack.credentials
    url = drill.stack.prometheus.url
    with (
        drill.traffic(rate=10, duration=60),
        drill.error_rate(routes="/api/status", probability=0.5).injected(),
    ):
        drill.service.login(creds.superuser_email, creds.superuser_password)
        drill.service.post("/api/auth/login", {"email": creds.superuser_email, "password": "wrong"})

        def clean() -> tuple[CheckResult, CheckResult] | None:
            metrics = check_metrics(url, RULES, [DASHBOARD])
            panels = check_dashboards_live(url, [DASHBOARD], require_data=True)
            if metrics.status == "passed" and panels.status == "passed":
                return metrics, panels
            return None

        metrics, panels = eventually(
            clean, within=30, every=0.5, what="every selector and panel to have data"
        )
    assert not [f for f in metrics.findings if f.severity != "info"]
    assert len(panels.cases) == 15 and all(case.ok for case in panels.cases)


def test_missing_metrics_and_labels_are_explained(
    drill_session: DrillSession, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(
        "groups:\n  - name: g\n    rules:\n"
        "      - alert: Renamed\n        expr: http_requests_totl > 0\n"
        '      - alert: Relabelled\n        expr: up{jobname="backend"} == 0\n'
        '      - alert: NotYet\n        expr: errors_total{status_code="599"} > 0\n'
        '      - alert: Fine\n        expr: up{job="backend"} == 0\n',
        encoding="utf-8",
    )
    result = check_metrics(drill_session.stack.prometheus.url, load_rules([rules]), [])
    by_subject = {f.subject: f for f in result.findings}
    assert set(by_subject) == {"Renamed", "Relabelled", "NotYet"}
    assert by_subject["Renamed"].id == "metric/missing" and by_subject["Renamed"].line == 5
    assert "never existed" in by_subject["Renamed"].message
    assert by_subject["Relabelled"].id == "metric/label-missing"
    assert "no label 'jobname'" in by_subject["Relabelled"].message
    assert "job" in by_subject["Relabelled"].message  # lists the labels it does have
    assert by_subject["NotYet"].id == "metric/no-match" and by_subject["NotYet"].severity == "info"
    assert result.status == "failed"


def test_unreachable_prometheus_is_a_finding_not_a_crash() -> None:
    result = check_metrics("http://127.0.0.1:9", RULES, [])
    [finding] = result.findings
    assert finding.id == "live/prometheus-unreachable" and result.status == "failed"


def test_recorder_sees_alerts_receivers_and_inhibitions(
    drill_session: DrillSession, tmp_path: Path
) -> None:
    # Not the `drill` fixture: these alerts are posted by hand, they must not land in the
    # repository's drill coverage (reports/coverage.json).
    drill_session.begin("verify coverage recorder")
    path = tmp_path / "coverage.json"
    recorder = CoverageRecorder(drill_session, path).start()
    now = datetime.now(UTC)
    common = {
        "severity": "critical",
        "category": "application",
        "service": "checkout",
        "cluster": "drill",
    }
    drill_session.alertmanager.post_alerts(
        [
            PostableAlert(
                labels={**common, "alertname": name},
                starts_at=now,
                ends_at=now + timedelta(seconds=4),
            )
            for name in ("ServiceDown", "HighErrorRate")
        ]
    )
    drill_session.receivers.wait_for(
        lambda: (
            {"webhook:incident", "slack:#alerts-critical"}
            <= {
                n.receiver
                for n in drill_session.receivers.notifications()
                if n.alertname == "ServiceDown"
            }
        ),
        within=10,
        what="ServiceDown notifications",
    )
    recorder.finish("verify-recorder")
    [test] = read_coverage(path).tests
    names = {alert.labels["alertname"]: alert.receivers for alert in test.alerts}
    assert names["ServiceDown"] == ("incident-webhook", "critical")
    assert "HighErrorRate" in names
    assert [(i.source["alertname"], i.target["alertname"]) for i in test.inhibitions] == [
        ("ServiceDown", "HighErrorRate")
    ]
    assert {"incident-webhook", "critical"} <= set(test.notified)
