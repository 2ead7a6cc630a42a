"""verify's readers: YAML/JSON with line numbers, Alertmanager matchers and routing walk,
PromQL selectors, routing-test files. Every bad input is a ConfigError naming file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from alertdrill.errors import ConfigError
from alertdrill.verify.amconfig import LabelMatcher, load_alertmanager, parse_matchers
from alertdrill.verify.routing_tests import load_routing_tests
from alertdrill.verify.selectors import selectors
from alertdrill.verify.sources import line_of, load_json, load_yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
MONITORING_AM = ROOT / "monitoring" / "alertmanager" / "alertmanager.yml"
OTHER_AM = ROOT / "tests" / "fixtures" / "other-team" / "config" / "alertmanager.yml"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- sources


def test_yaml_keeps_the_line_of_every_key_and_item(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "r.yml", "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x\n"
    )
    data = load_yaml(path)
    rule = data["groups"][0]["rules"][0]
    assert line_of(data, "groups") == 1
    assert line_of(data["groups"], 0) == 2
    assert line_of(rule, "alert") == 4
    assert line_of(rule, "expr") == 5
    assert rule == {"alert": "A", "expr": "x"}  # still an ordinary dict


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "bad.yml", "groups:\n  - name: g\n    rules:\n      - alert: A\n     expr: x\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_yaml(path)
    assert caught.value.line == 5
    assert str(caught.value).startswith(f"{path}:5: invalid YAML")


def test_json_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "d.json", '{\n  "panels": [\n    {"id": 1,}\n  ]\n}\n')
    with pytest.raises(ConfigError) as caught:
        load_json(path)
    assert caught.value.line == 3


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_yaml(tmp_path / "missing.yml")


# ----------------------------------------------------------------------------- matchers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('severity="critical"', [LabelMatcher("severity", "=", "critical")]),
        ("team=ops", [LabelMatcher("team", "=", "ops")]),
        ('alertname=~"A|B"', [LabelMatcher("alertname", "=~", "A|B")]),
        (
            '{a="b", c!=d, e!~"x.*"}',
            [
                LabelMatcher("a", "=", "b"),
                LabelMatcher("c", "!=", "d"),
                LabelMatcher("e", "!~", "x.*"),
            ],
        ),
        (r'msg="say \"hi\""', [LabelMatcher("msg", "=", 'say "hi"')]),
    ],
)
def test_matchers_parse_like_alertmanager(text: str, expected: list[LabelMatcher]) -> None:
    assert list(parse_matchers(text)) == expected


def test_matcher_semantics_anchor_regexes_and_treat_missing_labels_as_empty() -> None:
    assert LabelMatcher("a", "=~", "b|c").matches({"a": "c"})
    assert not LabelMatcher("a", "=~", "b").matches({"a": "abc"})  # anchored
    assert LabelMatcher("a", "=", "").matches({})
    assert LabelMatcher("a", "!=", "x").matches({})
    assert not LabelMatcher("a", "=~", ".+").matches({})


def test_garbage_matcher_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cannot parse matcher"):
        parse_matchers("just words")


# ----------------------------------------------------------------------------- routing walk


def test_walk_of_the_seed_config_matches_the_documented_table() -> None:
    model = load_alertmanager(MONITORING_AM)
    assert [node.id for node in model.routes()] == [
        "route",
        *(f"route.routes[{i}]" for i in range(5)),
    ]
    assert model.receivers_for({"severity": "critical", "category": "database"}) == (
        "incident-webhook",
        "critical",
        "database-team",
    )
    assert model.receivers_for({"severity": "warning", "category": "application"}) == ("default",)
    assert model.route.line is not None and model.routes()[1].line == 88
    assert [r.name for r in model.receivers] == [
        "default",
        "critical",
        "incident-webhook",
        "database-team",
        "ops-team",
        "security-team",
    ]


def test_walk_handles_nesting_continue_and_parents_that_deliver_themselves() -> None:
    model = load_alertmanager(OTHER_AM)
    p1 = {"severity": "page", "owner": "payments", "priority": "P1"}
    assert model.receivers_for(p1) == ("audit-log", "payments-pager", "payments-chat")
    delivering, matched = model.route.match({"owner": "payments", "severity": "info"})
    assert [n.id for n in delivering] == ["route.routes[1]"]  # no child matched
    assert "route" in {n.id for n in matched}
    # A page nobody owns is archived only: the audit route matched, so no fallback.
    assert model.receivers_for({"severity": "page"}) == ("audit-log",)
    assert model.receivers_for({"alertname": "Watchdog"}) == ("platform-fallback",)
    payments = model.routes()[2]
    assert payments.receiver == "payments-tickets" and payments.can_deliver_itself
    assert model.routes()[5].time_intervals == ("weekends",)
    assert set(model.time_intervals) == {"weekends", "business-hours"}


def test_inhibit_rule_applies_only_with_equal_labels_and_never_to_itself() -> None:
    rule = load_alertmanager(MONITORING_AM).inhibit_rules[0]
    down = {"alertname": "ServiceDown", "service": "api", "cluster": "p"}
    errors = {"alertname": "HighErrorRate", "service": "api", "cluster": "p"}
    assert rule.applies(down, errors)
    assert not rule.applies(down, {**errors, "service": "web"})
    assert not rule.applies(errors, down)
    same = load_alertmanager(MONITORING_AM).inhibit_rules[2]
    critical = {"severity": "critical", "alertname": "X"}
    assert not same.applies(critical, critical)


def test_alertmanager_config_without_route_is_a_config_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "am.yml", "receivers: []\n")
    with pytest.raises(ConfigError, match="no `route:`"):
        load_alertmanager(path)


def test_bad_matcher_in_a_route_points_at_its_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "am.yml",
        "route:\n  receiver: a\n  routes:\n    - receiver: a\n      matchers: ['oops']\n"
        "receivers: [{name: a}]\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_alertmanager(path)
    assert caught.value.line == 5


# ----------------------------------------------------------------------------- selectors


def test_selectors_keep_each_metric_with_its_own_matchers() -> None:
    expr = (
        'max by (service) (up{job="backend"} == 0) or '
        'sum(rate(errors_total{status_code=~"5.."}[5m])) by (le) > on (service) x offset 5m'
    )
    assert [str(s) for s in selectors(expr)] == [
        'up{job="backend"}',
        'errors_total{status_code=~"5.."}',
        "x",
    ]


def test_selectors_see_through_names_in_braces_and_skip_functions() -> None:
    found = selectors('histogram_quantile(0.9, {__name__="a_bucket", le!=""}) + topk(3, b)')
    assert [(s.name, [m.name for m in s.matchers]) for s in found] == [
        ("a_bucket", ["le"]),
        ("b", []),
    ]


# ----------------------------------------------------------------------------- routing tests


def test_routing_tests_merge_defaults_and_keep_lines(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "routing.yml",
        "defaults: {cluster: prod}\n"
        "routes:\n"
        "  - name: one\n"
        "    labels: {alertname: A, replicas: 3}\n"
        "    receivers: [x, y]\n"
        "live:\n"
        "  - name: two\n"
        "    alerts:\n"
        "      a: {alertname: A}\n"
        "      b: {alertname: B}\n"
        "    inhibited: [b]\n"
        "    notifications: {x: [[a]]}\n",
    )
    tests = load_routing_tests(path)
    route = tests.routes[0]
    assert dict(route.labels) == {"cluster": "prod", "alertname": "A", "replicas": "3"}
    assert route.receivers == ("x", "y") and route.line == 3 and route.receivers_line == 5
    live = tests.live[0]
    assert live.inhibited == {"b"}
    assert live.notifications == {"x": frozenset({frozenset({"a"})})}
    assert dict(live.labels_of("b")) == {"cluster": "prod", "alertname": "B"}


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            "routes:\n  - name: x\n    labels: {a: b}\n    receiver: [x]\n",
            4,
            "unknown field 'receiver'",
        ),
        ("routes:\n  - name: x\n    labels: {a: b}\n", 2, "at least one receiver"),
        ("routes:\n  - labels: {a: {b: c}}\n    receivers: [x]\n", 2, "string value"),
        ("live:\n  - alerts: {a: {x: y}}\n    inhibited: [c]\n", 3, "unknown alert id"),
        ("live:\n  - alerts: {a: {x: y}, b: {x: y}}\n", 2, "same labels"),
        ("wat: 1\n", 1, "unknown field 'wat'"),
    ],
)
def test_malformed_routing_tests_point_at_file_and_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = _write(tmp_path, "routing.yml", text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_routing_tests(path)
    assert caught.value.line == line
