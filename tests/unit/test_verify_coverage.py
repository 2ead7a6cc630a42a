"""Coverage: per rule (tested firing / not firing / fired in a drill) and per route, receiver
and inhibit rule; the e2e coverage file (merge, digest, bad input); --fail-under gates."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from alertdrill.errors import ConfigError
from alertdrill.receivers.records import FrozenMap, Notification
from alertdrill.verify.amconfig import load_alertmanager
from alertdrill.verify.coverage import Coverage, compute_coverage, gate
from alertdrill.verify.coverage_file import (
    DrillObservations,
    ObservedAlert,
    ObservedInhibition,
    config_digest,
    read_coverage,
    record_observations,
)
from alertdrill.verify.recorder import _receivers_of, destinations
from alertdrill.verify.routing_tests import load_routing_tests
from alertdrill.verify.rules import load_rules
from alertdrill.verify.unit_tests import load_unit_tests

pytestmark = pytest.mark.unit

RULES = """\
groups:
  - name: g
    rules:
      - {alert: Both, expr: x > 1, labels: {team: a}}
      - {alert: OnlyFires, expr: x > 2, labels: {team: b}}
      - {alert: Untested, expr: x > 3}
"""
UNIT = """\
rule_files: [rules.yml]
tests:
  - interval: 1m
    input_series: [{series: x, values: '5x5'}]
    alert_rule_test:
      - {eval_time: 1m, alertname: Both, exp_alerts: [{exp_labels: {team: a}}]}
      - {eval_time: 1m, alertname: Both, exp_alerts: []}
      - {eval_time: 1m, alertname: OnlyFires, exp_alerts: [{exp_labels: {team: b}}]}
"""
AM = """\
route:
  receiver: fallback
  routes:
    - receiver: a
      matchers: [team="a"]
      routes:
        - {receiver: a-pager, matchers: [severity="page"]}
        - {receiver: a, matchers: []}
    - {receiver: b, matchers: [team="b"]}
inhibit_rules:
  - {source_matchers: [alertname="Both"], target_matchers: [alertname="OnlyFires"], equal: []}
  - {source_matchers: [alertname="Nope"], target_matchers: [alertname="Both"], equal: []}
receivers: [{name: fallback}, {name: a}, {name: a-pager}, {name: b}]
"""
ROUTING = """\
routes:
  - {labels: {team: a}, receivers: [a]}
  - {labels: {team: b}, receivers: [b]}
live:
  - alerts: {src: {alertname: Both, team: a}, dst: {alertname: OnlyFires, team: b}}
    inhibited: [dst]
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    for name, text in (
        ("rules.yml", RULES),
        ("unit.yml", UNIT),
        ("am.yml", AM),
        ("r.yml", ROUTING),
    ):
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def _coverage(config: Path, observations: list[DrillObservations] | None = None) -> Coverage:
    e2e = None
    if observations is not None:
        path = config / "coverage.json"
        for item in observations:
            record_observations(path, item, "sha256:x")
        e2e = read_coverage(path)
    routing = load_routing_tests(config / "r.yml")
    return compute_coverage(
        load_rules([config / "rules.yml"]),
        [load_unit_tests(config / "unit.yml")],
        load_alertmanager(config / "am.yml"),
        routing.routes,
        routing.live,
        e2e,
    )


def test_rules_need_both_a_firing_and_a_silent_test(config: Path) -> None:
    coverage = _coverage(config)
    rules = {
        item.id: (item.fires_tested, item.silent_tested, item.tested)
        for item in coverage.of("rule")
    }
    assert rules == {
        "Both": (True, True, True),
        "OnlyFires": (True, False, False),
        "Untested": (False, False, False),
    }
    assert coverage.counts("rule") == (1, 3)
    assert coverage.percent("rule", e2e=True) is None


def test_routes_receivers_and_inhibit_rules_exercised_by_routing_tests(config: Path) -> None:
    coverage = _coverage(config)
    routes = {item.id: item.tested for item in coverage.of("route")}
    # route.routes[0] has a child without matchers: it can never deliver itself, so being
    # matched is what counts. The root and the pager child were never reached.
    assert routes == {
        "route": False,
        "route.routes[0]": True,
        "route.routes[0].routes[0]": False,
        "route.routes[0].routes[1]": True,
        "route.routes[1]": True,
    }
    receivers = {item.id: item.tested for item in coverage.of("receiver")}
    assert receivers == {"fallback": False, "a": True, "a-pager": False, "b": True}
    inhibit = {item.id: item.tested for item in coverage.of("inhibit_rule")}
    assert inhibit == {"inhibit_rules[0]": True, "inhibit_rules[1]": False}


def test_e2e_columns_come_from_the_coverage_file(config: Path) -> None:
    fired = DrillObservations(
        "t1",
        "now",
        alerts=(
            ObservedAlert(FrozenMap({"alertname": "OnlyFires", "team": "b"}), ("b",)),
            ObservedAlert(FrozenMap({"alertname": "Other", "severity": "page", "team": "a"}), ()),
        ),
        notified=("b",),
        inhibitions=(
            ObservedInhibition(
                FrozenMap({"alertname": "Both", "team": "a"}),
                FrozenMap({"alertname": "OnlyFires", "team": "b"}),
            ),
        ),
    )
    coverage = _coverage(config, [fired, DrillObservations("t2", "now", notified=("fallback",))])
    assert {i.id: i.e2e for i in coverage.of("rule")} == {
        "Both": False,
        "OnlyFires": True,
        "Untested": False,
    }
    assert {i.id for i in coverage.of("route") if i.e2e} == {
        "route.routes[0]",
        "route.routes[0].routes[0]",
        "route.routes[1]",
    }
    assert {i.id for i in coverage.of("receiver") if i.e2e} == {"b", "fallback"}
    assert {i.id for i in coverage.of("inhibit_rule") if i.e2e} == {"inhibit_rules[0]"}


def test_fail_under_gates_each_category(config: Path) -> None:
    coverage = _coverage(config)
    assert gate(coverage, None, None) == []
    # rules 1/3, routes 3/5, receivers 2/4, inhibit rules 1/2
    assert {f.subject for f in gate(coverage, 50.0, None)} == {"rule"}
    findings = gate(coverage, 70.0, None)
    assert {f.subject for f in findings} == {"rule", "route", "receiver", "inhibit_rule"}
    assert all(f.severity == "error" and f.id == "coverage/under-threshold" for f in findings)
    assert "Untested" in next(f.message for f in findings if f.subject == "rule")
    [missing] = gate(coverage, None, 10.0)
    assert missing.id == "coverage/no-e2e-data"


# ----------------------------------------------------------------------------- the file


def test_coverage_file_merges_tests_and_restarts_for_another_config(tmp_path: Path) -> None:
    path = tmp_path / "reports" / "coverage.json"
    record_observations(path, DrillObservations("a", "t", notified=("x",)), "sha256:1")
    record_observations(path, DrillObservations("b", "t", notified=("y",)), "sha256:1")
    record_observations(path, DrillObservations("a", "t", notified=("z",)), "sha256:1")
    loaded = read_coverage(path)
    assert {t.test: t.notified for t in loaded.tests} == {"a": ("z",), "b": ("y",)}
    record_observations(path, DrillObservations("c", "t"), "sha256:2")
    assert [t.test for t in read_coverage(path).tests] == ["c"]


def test_parallel_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "coverage.json"
    threads = [
        threading.Thread(
            target=record_observations, args=(path, DrillObservations(f"t{i}", "t"), "sha256:1")
        )
        for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(read_coverage(path).tests) == 8


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "invalid JSON"),
        ('{"format": "other"}', "not an alertdrill coverage file"),
        ('{"format": "alertdrill-coverage/1", "tests": []}', "`tests` must be an object"),
        (
            '{"format": "alertdrill-coverage/1", "tests": {"t": {"alerts": [{"labels": 3}]}}}',
            "malformed test entry",
        ),
    ],
)
def test_bad_coverage_file_is_a_config_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "coverage.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        read_coverage(path)


def test_digest_covers_names_and_contents_not_locations(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for directory in ("a", "b"):
        (tmp_path / directory / "rules.yml").write_text("x", encoding="utf-8")
    assert config_digest([tmp_path / "a/rules.yml"]) == config_digest([tmp_path / "b/rules.yml"])
    (tmp_path / "b/rules.yml").write_text("y", encoding="utf-8")
    assert config_digest([tmp_path / "a/rules.yml"]) != config_digest([tmp_path / "b/rules.yml"])


def test_notifications_map_back_to_alertmanager_receivers() -> None:
    rendered = {
        "receivers": [
            {"name": "critical", "slack_configs": [{"channel": "#crit"}],
             "pagerduty_configs": [{"routing_key": "k"}]},
            {"name": "db", "slack_configs": [{"channel": "#shared"}],
             "email_configs": [{"to": "DB@x.org, ops@x.org"}]},
            {"name": "ops", "slack_configs": [{"channel": "#shared"}]},
        ]
    }  # fmt: skip
    by = destinations(rendered)
    assert by["pagerduty:k"] == {"critical"}
    assert by["email:db@x.org"] == {"db"} and by["email:ops@x.org"] == {"db"}

    def note(receiver: str, alertname: str = "A") -> Notification:
        return Notification("slack", receiver, alertname, "firing", 0.0)

    assert _receivers_of(note("slack:#crit"), by, {}) == {"critical"}
    # A channel shared by two receivers: the one the alert was routed to.
    assert _receivers_of(note("slack:#shared"), by, {"A": {"ops"}}) == {"ops"}
    assert _receivers_of(note("slack:#shared"), by, {}) == {"db", "ops"}
    assert _receivers_of(note("slack:#unknown"), by, {}) == set()


def test_file_format_is_plain_json(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    record_observations(
        path,
        DrillObservations("t", "now", (ObservedAlert(FrozenMap({"alertname": "A"}), ("r",)),)),
        "sha256:1",
    )
    body = json.loads(path.read_text())
    assert body["format"] == "alertdrill-coverage/1"
    assert body["tests"]["t"]["alerts"] == [{"labels": {"alertname": "A"}, "receivers": ["r"]}]
