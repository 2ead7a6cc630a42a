"""`alertdrill verify` end to end on static inputs (promtool/amtool, no servers): our
monitoring/ and a different team's config pass with full coverage; bad input of every kind is
a finding at file:line with exit code 1, never a traceback; JSON and JUnit outputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from alertdrill.cli import main
from alertdrill.verify.report import render_text, to_json, write_junit
from alertdrill.verify.runner import Report, VerifyOptions, run_verify

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
OTHER_TEAM = ROOT / "tests" / "fixtures" / "other-team"
NO_E2E = Path("/nonexistent/coverage.json")  # never read the repository's drill coverage


@pytest.fixture(autouse=True)
def _tools() -> None:
    for tool in ("promtool", "amtool"):
        if shutil.which(tool) is None and not Path(f"/usr/bin/{tool}").exists():
            pytest.skip(f"{tool} not installed")


@pytest.fixture(scope="module")
def seed_report() -> Report:
    return run_verify(VerifyOptions(paths=(MONITORING,), live=False, coverage_file=NO_E2E))


def test_monitoring_passes_with_full_rule_and_route_coverage(seed_report: Report) -> None:
    assert seed_report.passed, render_text(seed_report)
    assert [f for f in seed_report.findings if f.severity != "info"] == []
    for kind in ("rule", "route", "receiver", "inhibit_rule"):
        assert seed_report.coverage.percent(kind) == 100.0, kind  # type: ignore[arg-type]
    assert seed_report.coverage.counts("rule") == (11, 11)
    names = {check.name: check for check in seed_report.checks}
    assert names["promtool test rules"].note.startswith("4 file(s)")
    assert names["routing tests (amtool)"].status == "passed"
    assert names["inhibition and grouping (live Alertmanager)"].status == "skipped"


def test_every_seed_alert_is_tested_firing_and_silent(seed_report: Report) -> None:
    rules = seed_report.coverage.of("rule")
    assert {r.id for r in rules} == {
        "HighErrorRate", "HighResponseTime", "ServiceDown", "DatabaseDown",
        "DatabaseConnectionIssues", "SlowDatabaseQueries", "HighMemoryUsage", "HighCPUUsage",
        "LowDiskSpace", "HighAuthenticationFailures", "UnusualAPIActivity",
    }  # fmt: skip
    assert all(r.fires_tested and r.silent_tested for r in rules)


def test_another_teams_config_runs_clean(tmp_path: Path) -> None:
    report = run_verify(VerifyOptions(paths=(OTHER_TEAM,), live=False, coverage_file=NO_E2E))
    assert report.passed, render_text(report)
    assert [f for f in report.findings if f.severity != "info"] == []
    assert report.inputs.prometheus_config == OTHER_TEAM / "config" / "prometheus.yml"
    assert len(report.inputs.rule_files) == 3
    assert report.coverage.counts("route") == (9, 9)
    assert report.coverage.counts("inhibit_rule") == (2, 2)


def test_json_and_junit_describe_the_same_run(seed_report: Report, tmp_path: Path) -> None:
    body = to_json(seed_report)
    assert json.loads(json.dumps(body))["passed"] is True
    assert body["coverage"]["summary"]["rule"]["tested_percent"] == 100.0  # type: ignore[index]
    junit = tmp_path / "verify.xml"
    write_junit(seed_report, junit)
    root = ET.parse(junit).getroot()  # noqa: S314  # our own output
    assert root.tag == "testsuites"
    suites = {suite.get("name"): suite for suite in root}
    assert suites["promtool test rules"].get("tests") == "4"
    assert suites["promtool test rules"].get("failures") == "0"
    assert (
        suites["inhibition and grouping (live Alertmanager)"].find("testcase/skipped") is not None
    )


# ----------------------------------------------------------------------------- failures


def test_a_failing_unit_test_points_at_its_assertion(tmp_path: Path) -> None:
    copy = tmp_path / "monitoring"
    shutil.copytree(MONITORING / "prometheus", copy / "prometheus")
    tests = copy / "prometheus" / "tests" / "database.test.yml"
    text = tests.read_text(encoding="utf-8")
    tests.write_text(text.replace("PostgreSQL has 81 connections", "PostgreSQL has 80 connections"))
    rows = tests.read_text(encoding="utf-8").splitlines()
    # The `- eval_time: 10m15s` entry whose next line names DatabaseConnectionIssues (1-based).
    line = next(
        i + 1
        for i, row in enumerate(rows)
        if "eval_time: 10m15s" in row and "DatabaseConnectionIssues" in rows[i + 1]
    )
    report = run_verify(
        VerifyOptions(
            paths=(copy / "prometheus" / "alerts.yml",),
            unit_tests=(tests,),
            live=False,
            coverage_file=NO_E2E,
        )
    )
    assert not report.passed and report.exit_code == 1
    [failed] = [f for f in report.findings if f.id == "unit-test/failed"]
    assert failed.line == line and failed.subject == "DatabaseConnectionIssues"
    assert "80 connections" in failed.message and "81 connections" in failed.message


BAD = {
    "prometheus.yml": "global:\n  evaluation_interval: 15s\nrule_files: [rules.yml, broken.yml]\n",
    "rules.yml": (
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n"
        "        for: 1m\n        labels: {severity: page}\n"
        "        annotations: {summary: s, description: d, runbook_url: u}\n        bogus: 1\n"
    ),
    "broken.yml": "groups:\n  - name: g\n    rules:\n      - alert: B\n       expr: x\n",
    "unit.yml": (
        "rule_files: [rules.yml]\ntests:\n  - interval: 1m\n    input_series: []\n"
        "    alert_rule_test:\n      - eval_time: 1m\n        alertname: NotARule\n"
        "        exp_alerts: []\n"
    ),
    "alertmanager.yml": (
        "route:\n  receiver: pager\n  routes:\n    - receiver: nobody\n"
        '      matchers: [team="x"]\nreceivers:\n  - name: pager\n'
    ),
    "routing.yml": (
        "routes:\n  - name: x\n    labels: {team: x}\n    receivers: [pager]\n    typo: 1\n"
    ),
    "dash.json": '{"panels": [\n  {"id": 1,}\n]}',
}


def test_bad_input_of_every_kind_is_a_finding_at_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, text in BAD.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    code = main(["verify", str(tmp_path), "--static", "--coverage-file", str(NO_E2E)])
    out, err = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in out + err
    expected = {
        "promtool/check-rules": "rules.yml:9",  # unknown field
        "rules/unreadable": "broken.yml:5",  # malformed rules file
        "unit-test/unknown-alert": "unit.yml:7",  # a test referencing a missing rule
        "amtool/check-config": "alertmanager.yml:4",  # an Alertmanager config that fails to load
        "routing-test/invalid": "routing.yml:5",
        "input/unreadable": "dash.json:2",
    }
    for lint_id, where in expected.items():
        assert any(
            lint_id in line and f"{tmp_path}/{where}:" in line for line in out.splitlines()
        ), (
            lint_id,
            out,
        )


def test_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(tmp_path)]) == 2  # nothing to verify
    assert "nothing to verify" in capsys.readouterr().err
    assert main(["verify", str(tmp_path / "missing")]) == 2
    assert main(["verify", str(OTHER_TEAM), "--require-data"]) == 2  # without --prometheus
    assert main(["verify", str(OTHER_TEAM), "--static", "--disable", "no/such-lint"]) == 2
    assert "unknown lint id" in capsys.readouterr().err
    args = ["verify", str(OTHER_TEAM), "--static", "--coverage-file", str(NO_E2E), "-q"]
    assert main(args) == 0
    assert main([*args, "--fail-under", "100"]) == 0
    assert main([*args, "--fail-under-e2e", "1"]) == 1  # no drill coverage for this config
    assert "verdict: FAILED (coverage)" in capsys.readouterr().out
