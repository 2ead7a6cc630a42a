"""promtool/amtool output turned into findings at file:line; promtool unit-test files read for
coverage and their failures mapped back to the assertion; dashboards checked statically."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from alertdrill.verify.amrender import static_copy
from alertdrill.verify.dashboards import check_queries_parse, load_dashboard
from alertdrill.verify.rules import load_rules
from alertdrill.verify.tools import ToolRun, failures, run_tool
from alertdrill.verify.unit_tests import load_unit_tests, map_test_failures

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
RULE = (
    "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x > 1\n        for: 1m\n"
    "        labels: {severity: warning}\n"
    "        annotations: {summary: 'x is {{ $value }}'}\n"
)


@pytest.fixture(autouse=True)
def _tools() -> None:
    for tool in ("promtool", "amtool"):
        if shutil.which(tool) is None and not Path(f"/usr/bin/{tool}").exists():
            pytest.skip(f"{tool} not installed")


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def _failures(tool: str, args: list[str], checked: str) -> list[tuple[str | None, int | None, str]]:
    run = run_tool(tool, args)
    return [(f.path, f.line, f.message) for f in failures(run, checked=checked, id_="t", hint="")]


# ----------------------------------------------------------------------------- tool output


def test_unknown_field_in_a_rule_file_is_reported_at_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "r.yml", RULE + "        bogus: 1\n")
    found = _failures("promtool", ["check", "rules", str(path)], str(path))
    assert found == [(str(path), 9, "field bogus not found in type rulefmt.RuleNode")]


def test_bad_promql_is_reported_at_the_rule(tmp_path: Path) -> None:
    path = _write(tmp_path, "r.yml", RULE.replace("x > 1", "x > ("))
    [(where, line, message)] = _failures("promtool", ["check", "rules", str(path)], str(path))
    assert (where, line) == (str(path), 5)
    assert "unclosed left parenthesis" in message


def test_unknown_field_in_prometheus_yml_is_reported_at_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "p.yml", "global:\n  scrape_interval: 15s\n  scrape_intervall: 1m\n")
    found = _failures("promtool", ["check", "config", "--syntax-only", str(path)], str(path))
    assert found == [(str(path), 3, "field scrape_intervall not found in type config.plain")]


def test_alertmanager_config_that_fails_to_load_names_file_and_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "am.yml", "route:\n  receiver: a\n  reciever: b\nreceivers: [{name: a}]\n"
    )
    found = _failures("amtool", ["check-config", str(path)], str(path))
    assert found == [(str(path), 3, "field reciever not found in type config.plain")]
    path = _write(tmp_path, "am2.yml", "route:\n  receiver: nobody\nreceivers: [{name: a}]\n")
    found = _failures("amtool", ["check-config", str(path)], str(path))
    assert found == [(str(path), None, 'undefined receiver "nobody" used in route')]


def test_a_timeout_or_unparsable_output_still_gives_one_finding() -> None:
    run = ToolRun(("promtool", "x"), 124, "FAILED: timed out after 60s", 60.0)
    [finding] = failures(run, checked="f.yml", id_="t", hint="h")
    assert (finding.path, finding.message) == ("f.yml", "timed out after 60s")
    run = ToolRun(("amtool", "x"), 1, "", 0.1)
    assert failures(run, checked="f.yml", id_="t", hint="h")[0].message == "amtool x exited with 1"
    assert failures(ToolRun(("x",), 0, "FAILED: no", 0.0), checked="f", id_="t", hint="") == []


def test_static_copy_fills_placeholders_line_for_line(tmp_path: Path) -> None:
    source = ROOT / "monitoring" / "alertmanager" / "alertmanager.yml"
    copy, filled = static_copy(source, tmp_path / "am")
    assert "SLACK_WEBHOOK_URL" in filled and "INCIDENT_WEBHOOK_TOKEN" in filled
    original, rendered = source.read_text().splitlines(), copy.read_text().splitlines()
    assert len(original) == len(rendered)
    assert "${" not in "".join(line for line in rendered if not line.lstrip().startswith("#"))
    assert run_tool("amtool", ["check-config", str(copy)]).ok  # templates resolve too
    plain = _write(tmp_path, "plain.yml", "route: {receiver: a}\nreceivers: [{name: a}]\n")
    assert static_copy(plain, tmp_path / "unused") == (plain, ())


# ----------------------------------------------------------------------------- unit-test files


UNIT = """\
rule_files: [r.yml, missing-*.yml]
evaluation_interval: 15s
tests:
  - name: fires
    interval: 15s
    input_series:
      - series: 'x{a="b"}'
        values: '2x10'
    alert_rule_test:
      - eval_time: 2m
        alertname: A
        exp_alerts:
          - exp_labels: {a: b, severity: warning}
            exp_annotations: {summary: 'x is 3'}
      - eval_time: 30s
        alertname: A
        exp_alerts: []
      - eval_time: 2m
        alertname: Typo
        exp_alerts: []
"""


def test_unit_test_file_assertions_and_what_promtool_misses(tmp_path: Path) -> None:
    _write(tmp_path, "r.yml", RULE)
    tests = load_unit_tests(_write(tmp_path, "t.yml", UNIT))
    assert [(a.alertname, a.eval_seconds, a.fires, a.line) for a in tests.assertions] == [
        ("A", 120.0, True, 10),
        ("A", 30.0, False, 15),
        ("Typo", 120.0, False, 18),
    ]
    ids = {(f.id, f.line) for f in tests.findings}
    assert ids == {("unit-test/missing-rule-file", 1), ("unit-test/unknown-alert", 19)}


def test_a_failing_assertion_is_mapped_to_its_line(tmp_path: Path) -> None:
    _write(tmp_path, "r.yml", RULE)
    path = _write(tmp_path, "t.yml", UNIT.replace(", missing-*.yml", ""))
    tests = load_unit_tests(path)
    run = run_tool("promtool", ["test", "rules", path.name], cwd=tmp_path)
    assert not run.ok
    [finding] = map_test_failures(tests, run.output, load_rules([tmp_path / "r.yml"]))
    assert (finding.id, finding.line, finding.subject) == ("unit-test/failed", 10, "A")
    assert 'summary="x is 2"' in finding.message  # got, after template expansion


def test_unreadable_unit_test_file_is_a_finding(tmp_path: Path) -> None:
    tests = load_unit_tests(_write(tmp_path, "t.yml", "rule_files: [\n"))
    [finding] = tests.findings
    assert finding.id == "unit-test/unreadable" and finding.line is not None


# ----------------------------------------------------------------------------- dashboards


DASHBOARD = """\
{
  "title": "D",
  "templating": {"list": [{"name": "svc", "current": {"value": "api"}},
                          {"name": "all", "current": {"value": "$__all"}}]},
  "panels": [
    {"id": 1, "type": "timeseries", "title": "Rate",
     "targets": [{"refId": "A",
                  "expr": "rate(x{s=\\"$svc\\", t=~\\"${all}\\"}[$__rate_interval])"}]},
    {"id": 1, "type": "stat", "title": "Dup",
     "targets": [{"refId": "A", "expr": "sum(y{z=\\"$nope\\"}) by ("}]},
    {"id": 3, "type": "row", "title": "R", "panels": [
      {"id": 4, "title": "Hidden", "targets": [{"refId": "A", "expr": ""}]}]}
  ]
}
"""


def test_dashboard_structure_variables_and_queries(tmp_path: Path) -> None:
    dashboard = load_dashboard(_write(tmp_path, "d.json", DASHBOARD))
    assert dashboard.queries[0].promql == 'rate(x{s="api", t=~".*"}[1m])'
    ids = sorted((f.id, f.line) for f in dashboard.findings)
    assert ids == [
        ("dashboard/duplicate-panel-id", 9),
        ("dashboard/empty-query", 12),
        ("dashboard/invalid", 12),
        ("dashboard/undefined-variable", 9),
    ]
    [invalid] = check_queries_parse([dashboard])
    assert invalid.id == "dashboard/query-invalid" and invalid.line == 9
    assert '"Dup" (id 1)' in invalid.message


def test_dashboard_that_is_not_json_or_not_a_dashboard(tmp_path: Path) -> None:
    [broken] = load_dashboard(_write(tmp_path, "a.json", '{"panels": [}')).findings
    assert (broken.id, broken.line) == ("dashboard/invalid-json", 1)
    [other] = load_dashboard(_write(tmp_path, "b.json", '{"title": "x"}')).findings
    assert other.id == "dashboard/invalid"


def test_the_seed_dashboard_parses() -> None:
    dashboard = load_dashboard(ROOT / "monitoring/grafana/dashboards/backend-overview.json")
    assert dashboard.findings == ()
    assert len(dashboard.queries) == 23
    assert check_queries_parse([dashboard]) == []
