"""Drill files: every shipped drill validates; a broken one fails with every problem at once,
each as ``file:line:col: message`` pointing at the offending key or value."""

from __future__ import annotations

import pickle
import textwrap
from pathlib import Path

import pytest

from alertdrill.drills.catalog import DrillCatalog, load_catalog
from alertdrill.drills.loader import DEFAULT_MONITORING, load_drill, parse_drill
from alertdrill.drills.model import (
    AlertCheck,
    Deadline,
    FaultStep,
    Group,
    HttpProbe,
    IncidentCheck,
    NotifiedCheck,
    PromqlProbe,
    QuietCheck,
    Start,
)
from alertdrill.drills.nodes import DrillFileError
from alertdrill.errors import ConfigError
from alertdrill.stack.local import PAGERDUTY_ROUTING_KEY

pytestmark = pytest.mark.unit

DRILLS = Path(__file__).resolve().parents[2] / "chaos" / "drills"
SHIPPED = sorted(DRILLS.glob("*.yaml"))
EXPECTED = {
    "auth-attack",
    "database-outage",
    "incident-response",
    "monitoring-of-monitoring",
    "rolling-restart",
    "slow-dependency",
    "traffic-spike",
}

GOOD = """\
title: A drill
description: Errors page on-call.
steady_state:
  within: 5s
  probes:
    - name: ready
      http: /health/ready
    - name: nothing firing
      promql: 'count(ALERTS{alertstate="firing"})'
      value: 0
      when_empty: 0
      during: true
method:
  - name: both
    parallel:
      - name: traffic
        load: traffic
        with: {rate: 5, paths: [/api/status]}
        duration: 30s
        until: expectations
      - name: errors
        fault: error_rate
        with: {routes: /api/status}
        offset: 500ms
        duration: 30s
        until: expectations
  - fault: restart
    with: {component: service}
expectations:
  - alert: HighErrorRate
    state: firing
    within: floor + 2s
    when: with errors
  - notified: [slack:#alerts-critical, pagerduty, webhook:incident]
    alert: HighErrorRate
  - quiet: 2s
    except: [HighErrorRate]
  - alert: HighErrorRate
    state: resolved
  - incident: HighErrorRate
    count: 1
rollbacks:
  - start: service
  - wait_http: /health/ready
"""


@pytest.fixture(scope="module")
def catalog() -> DrillCatalog:
    return load_catalog(DEFAULT_MONITORING)


def _problems(text: str, catalog: DrillCatalog) -> list[str]:
    with pytest.raises(DrillFileError) as caught:
        parse_drill(textwrap.dedent(text), "drill.yaml", catalog)
    return str(caught.value).splitlines()


def test_the_seven_drills_are_shipped() -> None:
    assert {p.stem for p in SHIPPED} == EXPECTED


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_drill_validates(path: Path, catalog: DrillCatalog) -> None:
    spec = load_drill(path, catalog)
    assert spec.slug == path.stem
    assert spec.title and spec.description
    assert spec.method.fault_steps(), "a drill without a fault or load drills nothing"
    assert spec.expectations


def test_a_good_drill_parses_into_the_model(catalog: DrillCatalog) -> None:
    spec = parse_drill(GOOD, "good.yaml", catalog)
    assert spec.steady_state.within == 5.0
    ready, firing = spec.steady_state.probes
    assert isinstance(ready, HttpProbe) and ready.status == 200 and ready.target == "service"
    assert isinstance(firing, PromqlProbe) and firing.during and firing.when_empty == 0
    both, restart = spec.method.steps
    assert isinstance(both, Group) and both.mode == "parallel"
    traffic, errors = both.steps
    assert isinstance(traffic, FaultStep) and traffic.fault_class is None
    assert traffic.param("paths") == ("/api/status",)
    assert isinstance(errors, FaultStep)
    assert (errors.kind, errors.fault_class, errors.offset) == ("error_rate", "service", 0.5)
    assert errors.param("probability") == 1.0  # the kind's default
    assert errors.until_expectations and errors.where.line == 21
    assert isinstance(restart, FaultStep) and restart.name == "restart service"
    assert restart.duration == 0.0  # instant: no duration needed

    firing_check, notified, quiet, resolved, count = spec.expectations
    assert firing_check.check == AlertCheck("HighErrorRate", "firing", Deadline(2.0, floor=True))
    assert firing_check.start == Start("during", "errors")
    assert isinstance(notified.check, NotifiedCheck)
    assert f"pagerduty:{PAGERDUTY_ROUTING_KEY}" in notified.check.receivers
    assert notified.check.exactly and notified.start == Start("during")
    assert quiet.check == QuietCheck(2.0, frozenset({"HighErrorRate"}))
    # The resolve side waits for the method to end unless told otherwise.
    assert resolved.start == Start("after") and count.start == Start("after")
    assert count.check == IncidentCheck("HighErrorRate", "count", Deadline(0.0), 1)
    assert [r.action for r in spec.rollbacks] == ["start", "wait_http"]


def test_every_problem_is_reported_at_its_line(catalog: DrillCatalog) -> None:
    lines = _problems(
        """\
        title: Broken
        description: Everything wrong at once.
        steady_state:
          probes:
            - name: odd
              promql: up
              value: one
        method:
          - fault: eror_rate
            duration: 10s
          - fault: stop
            with: {component: postgress}
            duration: forever
          - load: error_rate
            duration: 5s
        expectations:
          - alert: HighErorRate
            state: firing
          - notified: [slack:#nobody]
            alert: HighErrorRate
            within: soon
          - http: /health
            status: 200
            colour: red
        """,
        catalog,
    )
    assert lines == [
        "drill.yaml:7:14: steady_state.probes[0].value must be a number, got str 'one'",
        "drill.yaml:9:12: method[0].fault: 'eror_rate' is not one of "
        + ", ".join(sorted(_kinds()))
        + " (did you mean 'error_rate'?)",
        "drill.yaml:12:23: method[1].with.component: 'postgress' is not one of "
        + ", ".join(sorted(catalog.components))
        + " (did you mean 'postgres'?)",
        "drill.yaml:13:15: method[1].duration: not a duration: 'forever' (use e.g. 250ms, 1.5s, "
        "2m, 1h)",
        "drill.yaml:14:11: method[2]: 'error_rate' is a fault, write `fault: error_rate`",
        "drill.yaml:17:12: expectations[0].alert: 'HighErorRate' is not one of "
        + ", ".join(sorted(catalog.alerts))
        + " (did you mean 'HighErrorRate'?)",
        "drill.yaml:19:16: expectations[1].notified[0]: 'slack:#nobody' is not one of "
        + ", ".join(catalog.known_receivers())
        + " (did you mean 'slack:#ops'?)",
        "drill.yaml:21:13: expectations[1].within: not a duration: 'soon' (use e.g. 250ms, "
        "1.5s, 2m, 1h)",
        "drill.yaml:24:5: expectations[2]: unknown key 'colour'",
    ]


def _kinds() -> list[str]:
    from alertdrill.drills.kinds import KINDS

    return list(KINDS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "drill.yaml:1:1: the drill file is empty"),
        ("title: [unclosed\n", "drill.yaml:2:1: not valid YAML"),
        ("- a list\n", "drill.yaml:1:1: drill must be a mapping, got a list"),
        (
            "title: t\ndescription: d\nmethod: []\nexpectations: []\n",
            "drill.yaml:3:9: method must have at least one step",
        ),
        (
            "title: t\ndescription: d\nmethod:\n  - fault: kill\n    with: {component: redis}\n"
            "expectations:\n  - alert: ServiceDown\n    state: firing\n",
            "drill.yaml:4:5: method[0]: missing required key 'duration' (how long to hold it)",
        ),
        (
            "title: t\ndescription: d\nmethod:\n  - fault: kill\n    duration: 5s\n"
            "expectations:\n  - alert: ServiceDown\n    state: firing\n",
            "drill.yaml:4:5: method[0]: kill needs `with: {component: ...}`",
        ),
        (
            "title: t\ndescription: d\nmethod:\n  - fault: kill\n    with: {component: redis}\n"
            "    duration: 5s\nexpectations:\n  - http: /\n    status: 200\n    within: floor\n",
            "drill.yaml:10:13: expectations[0].within: floor needs an alert to take the floor "
            "of; give seconds",
        ),
        (
            "title: t\ndescription: d\nmethod:\n  - fault: kill\n    with: {component: redis}\n"
            "    duration: 5s\nexpectations:\n  - alert: ServiceDown\n    state: firing\n"
            "    when: after nothing\n",
            "drill.yaml:10:11: expectations[0].when: no step named 'nothing' in the method "
            "(steps: kill redis)",
        ),
        (
            "title: t\ndescription: d\nmethod:\n  - fault: kill\n    with: {component: redis}\n"
            "    duration: 5s\nexpectations:\n  - alert: ServiceDown\n    state: resolved\n"
            "  - alert: ServiceDown\n    state: firing\n",
            "drill.yaml:10:5: expectations run in order: this one starts during, but it follows "
            "one that waits until the method has ended (line 8); move it up",
        ),
        (
            "title: t\ndescription: d\nmethod:\n  - fault: kill\n    with: {component: redis}\n"
            "    duration: 5s\n  - fault: kill\n    with: {component: redis}\n    duration: 5s\n"
            "expectations:\n  - alert: ServiceDown\n    state: firing\n",
            "drill.yaml:7:5: method[1]: step name 'kill redis' is already used (line 4); "
            "give it a name:",
        ),
        (
            "title: t\ndescription: d\nmethod:\n  - load: locust\n"
            "    with: {users: 5, profile: spikey}\n    duration: 5s\n"
            "expectations:\n  - http: /\n    status: 200\n",
            "drill.yaml:5:31: method[0].with.profile: 'spikey' is not one of steady, ramp, "
            "spike, soak (did you mean 'spike'?)",
        ),
    ],
    ids=[
        "empty",
        "not-yaml",
        "not-a-mapping",
        "empty-method",
        "no-duration",
        "missing-param",
        "floor-without-alert",
        "unknown-step",
        "out-of-order",
        "duplicate-step",
        "locust-profile",
    ],
)
def test_broken_files_say_what_and_where(text: str, expected: str, catalog: DrillCatalog) -> None:
    lines = _problems(text, catalog)
    assert any(line.startswith(expected) for line in lines), lines


def test_missing_required_keys_are_all_named(catalog: DrillCatalog) -> None:
    lines = _problems("title: only a title\n", catalog)
    assert lines == [
        "drill.yaml:1:1: drill: missing required key 'description'",
        "drill.yaml:1:1: drill: missing required key 'method'",
        "drill.yaml:1:1: drill: missing required key 'expectations' (what must happen)",
    ]


def test_the_error_is_a_config_error_that_survives_pickling(
    tmp_path: Path, catalog: DrillCatalog
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("title: 1\n")
    with pytest.raises(ConfigError) as caught:
        load_drill(path, catalog)
    error = caught.value
    assert isinstance(error, DrillFileError)
    assert error.path == str(path) and error.line == 1
    assert f"{path}:1:8: title must be a string, got int 1" in str(error).splitlines()
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert str(copy) == str(error) and copy.problems == error.problems


def test_an_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the drill file"):
        load_drill(tmp_path / "missing.yaml")


def test_the_catalog_knows_the_seed_routing(catalog: DrillCatalog) -> None:
    assert {"HighErrorRate", "DatabaseDown", "UnusualAPIActivity"} <= catalog.alerts
    assert {
        "slack:#alerts-critical",
        "webhook:incident",
        "email:db-team@example.com",
        f"pagerduty:{PAGERDUTY_ROUTING_KEY}",
    } <= catalog.receivers
    assert catalog.receiver("pagerduty") == f"pagerduty:{PAGERDUTY_ROUTING_KEY}"
    assert catalog.receiver("slack:#ops") == "slack:#ops"
