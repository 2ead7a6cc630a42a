"""verify's lints: each id fires on exactly the problem it names, at its file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from alertdrill.verify.amconfig import load_alertmanager
from alertdrill.verify.lints import LINT_IDS, LintSettings, lint
from alertdrill.verify.routing_tests import load_routing_tests
from alertdrill.verify.rules import load_rules

pytestmark = pytest.mark.unit

RULES = """\
groups:
  - name: g
    rules:
      - alert: Good
        expr: up == 0
        for: 5m
        labels: {severity: critical, team: ops}
        annotations: {summary: s, description: d, runbook_url: https://r}
      - alert: Bare
        expr: up == 0
      - alert: Slow
        expr: up == 0
        for: 3h
        labels: {severity: warning, team: ops, value: "{{ $value }}"}
        annotations: {summary: s, description: d, runbook_url: https://r}
      - alert: Orphan
        expr: up == 0
        for: 5m
        labels: {severity: warning}
        annotations: {summary: s, description: d, runbook_url: https://r}
"""

ALERTMANAGER = """\
route:
  receiver: fallback
  routes:
    - receiver: ops
      matchers: [team="ops"]
    - receiver: ghost
      matchers: [team="ghosts"]
      mute_time_intervals: [never-defined]
inhibit_rules:
  - source_matchers: [alertname="Good"]
    target_matchers: [alertname="Slow"]
    equal: [service]
  - source_matchers: [alertname="Renamed"]
    target_matchers: [severity="warning"]
receivers:
  - name: fallback
  - name: ops
  - name: unused
"""


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES, encoding="utf-8")
    alertmanager = tmp_path / "alertmanager.yml"
    alertmanager.write_text(ALERTMANAGER, encoding="utf-8")
    return rules, alertmanager


def _lint(files: tuple[Path, Path], settings: LintSettings | None = None) -> dict[str, list[str]]:
    rules, alertmanager = files
    findings, cases = lint(
        load_rules([rules]), load_alertmanager(alertmanager), (), settings or LintSettings()
    )
    assert [case.name for case in cases] == list(LINT_IDS)
    found: dict[str, list[str]] = {}
    for finding in findings:
        found.setdefault(finding.id, []).append(f"{finding.subject}@{finding.line}")
    return found


def test_each_lint_fires_on_its_problem_with_a_line(files: tuple[Path, Path]) -> None:
    found = _lint(files)
    assert found["rule/severity-label"] == ["Bare@9"]
    assert found["rule/summary"] == ["Bare@9"]
    assert found["rule/description"] == ["Bare@9"]
    assert found["rule/runbook-url"] == ["Bare@9"]
    assert sorted(found["rule/for-bounds"]) == ["Bare@9", "Slow@13"]
    assert found["rule/value-in-label"] == ["Slow@14"]
    assert sorted(found["route/default-only"]) == ["Bare@9", "Orphan@19"]
    assert found["receiver/undefined"] == ["route.routes[1]@6"]
    assert found["route/undefined-interval"] == ["route.routes[1]@6"]
    assert found["receiver/unreachable"] == ["unused@18"]
    assert found["inhibit/dead-source"] == ["inhibit_rules[1]@13"]
    assert "inhibit/dead-target" not in found  # Slow can be a target


def test_findings_carry_severity_and_a_fix_hint(files: tuple[Path, Path]) -> None:
    rules, alertmanager = files
    findings, _ = lint(load_rules([rules]), load_alertmanager(alertmanager), (), LintSettings())
    by_id = {f.id: f for f in findings}
    assert by_id["rule/runbook-url"].severity == "warning"
    assert by_id["rule/summary"].severity == "error"
    assert by_id["receiver/undefined"].severity == "error"
    assert all(f.hint for f in findings)
    assert by_id["rule/summary"].path == str(rules)


def test_default_route_is_fine_when_allowed_or_expected_by_a_routing_test(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    rules, alertmanager = files
    assert "route/default-only" not in _lint(
        files, LintSettings(allow_default_route=frozenset({"Bare", "Orphan"}))
    )
    routing = tmp_path / "routing.yml"
    routing.write_text(
        "routes:\n  - labels: {alertname: Orphan, severity: warning}\n    receivers: [fallback]\n",
        encoding="utf-8",
    )
    findings, _ = lint(
        load_rules([rules]),
        load_alertmanager(alertmanager),
        load_routing_tests(routing).routes,
        LintSettings(),
    )
    assert [f.subject for f in findings if f.id == "route/default-only"] == ["Bare"]


def test_for_bounds_and_disabled_lints_are_configurable(files: tuple[Path, Path]) -> None:
    found = _lint(files, LintSettings(for_min=0.0, for_max=24 * 3600.0))
    assert "rule/for-bounds" not in found
    found = _lint(files, LintSettings(disabled=frozenset({"rule/runbook-url", "rule/summary"})))
    assert "rule/runbook-url" not in found and "rule/summary" not in found


def test_external_labels_take_part_in_routing(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x\n        for: 5m\n"
        "        labels: {severity: warning}\n"
        "        annotations: {summary: s, description: d, runbook_url: u}\n",
        encoding="utf-8",
    )
    alertmanager = tmp_path / "am.yml"
    alertmanager.write_text(
        'route:\n  receiver: d\n  routes: [{receiver: prod, matchers: [cluster="prod"]}]\n'
        "receivers: [{name: d}, {name: prod}]\n",
        encoding="utf-8",
    )
    settings = LintSettings(external_labels={"cluster": "prod"})
    findings, _ = lint(load_rules([rules]), load_alertmanager(alertmanager), (), settings)
    assert not [f for f in findings if f.id == "route/default-only"]


def test_the_seed_config_and_the_other_teams_config_lint_clean() -> None:
    root = Path(__file__).resolve().parents[2]
    seed_rules = load_rules([root / "monitoring/prometheus/alerts.yml"])
    seed_am = load_alertmanager(root / "monitoring/alertmanager/alertmanager.yml")
    seed_routes = load_routing_tests(root / "monitoring/alertmanager/tests/routing.yml").routes
    settings = LintSettings(external_labels={"cluster": "production"})
    findings, _ = lint(seed_rules, seed_am, seed_routes, settings)
    assert findings == []
    other = root / "tests/fixtures/other-team"
    findings, _ = lint(
        load_rules(sorted((other / "config/rules").glob("*.yml"))),
        load_alertmanager(other / "config/alertmanager.yml"),
        load_routing_tests(other / "tests/routing.yml").routes,
        LintSettings(),
    )
    assert findings == []
