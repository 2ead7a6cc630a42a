"""Coverage: which rules, routes, receivers and inhibit rules the tests exercise.

Per alerting rule: a promtool test asserts it fires; a promtool test asserts it does not
fire; it fired in an e2e drill (from the coverage file the pytest plugin writes).
Per route, receiver and inhibit rule: exercised by the routing tests; exercised in a drill.

A route is exercised when a test alert is *delivered* by it; a route that can never deliver
itself (a child without matchers always takes the alert first) is exercised when matched.
A receiver is exercised when a route delivers to it; an inhibit rule when a live routing
test expects an alert muted by it (and the live Alertmanager confirms it, in its own check).

Percentages are per category; ``--fail-under`` applies to each (rules count as covered only
with both a firing and a not-firing test), ``--fail-under-e2e`` to the drill columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from alertdrill.verify.amconfig import AlertmanagerModel, RouteNode
from alertdrill.verify.coverage_file import CoverageFile
from alertdrill.verify.findings import Finding
from alertdrill.verify.routing_tests import LiveCase, RouteCase
from alertdrill.verify.rules import RuleSet
from alertdrill.verify.unit_tests import UnitTestFile

__all__ = ["KINDS", "Coverage", "Item", "Kind", "compute_coverage", "gate"]

Kind = Literal["rule", "route", "receiver", "inhibit_rule"]
KINDS: tuple[Kind, ...] = ("rule", "route", "receiver", "inhibit_rule")
_TITLES = {
    "rule": "rules",
    "route": "routes",
    "receiver": "receivers",
    "inhibit_rule": "inhibit rules",
}


@dataclass(frozen=True)
class Item:
    kind: Kind
    id: str
    label: str
    path: str | None
    line: int | None
    tested: bool
    e2e: bool | None
    """None when no coverage file was read."""
    fires_tested: bool | None = None
    silent_tested: bool | None = None


@dataclass(frozen=True)
class Coverage:
    items: tuple[Item, ...]
    e2e_source: str | None
    notes: tuple[str, ...] = ()

    def of(self, kind: Kind) -> tuple[Item, ...]:
        return tuple(item for item in self.items if item.kind == kind)

    def percent(self, kind: Kind, *, e2e: bool = False) -> float | None:
        items = self.of(kind)
        if not items or (e2e and self.e2e_source is None):
            return None
        hit = sum(1 for item in items if (item.e2e if e2e else item.tested))
        return 100.0 * hit / len(items)

    def counts(self, kind: Kind, *, e2e: bool = False) -> tuple[int, int]:
        items = self.of(kind)
        return sum(1 for i in items if (i.e2e if e2e else i.tested)), len(items)

    @staticmethod
    def title(kind: Kind) -> str:
        return _TITLES[kind]


def _exercised(
    model: AlertmanagerModel, labels: Iterable[Mapping[str, str]]
) -> tuple[set[str], set[str], set[str]]:
    """(routes delivering, routes matched, receivers) for these alerts."""
    delivering: set[str] = set()
    matched: set[str] = set()
    receivers: set[str] = set()
    for alert in labels:
        hit, seen = model.route.match(alert)
        delivering |= {node.id for node in hit}
        matched |= {node.id for node in seen}
        receivers |= {node.receiver for node in hit}
    return delivering, matched, receivers


def _route_covered(node: RouteNode, delivering: set[str], matched: set[str]) -> bool:
    return node.id in (delivering if node.can_deliver_itself else matched)


def compute_coverage(
    rules: RuleSet,
    unit_tests: Iterable[UnitTestFile],
    model: AlertmanagerModel | None,
    route_cases: Iterable[RouteCase],
    live_cases: Iterable[LiveCase],
    e2e: CoverageFile | None,
    *,
    digest: str | None = None,
) -> Coverage:
    assertions = [a for file in unit_tests for a in file.assertions]
    fires = {a.alertname for a in assertions if a.fires}
    silent = {a.alertname for a in assertions if not a.fires}
    live = tuple(live_cases)
    test_labels = [case.labels for case in route_cases]
    test_labels += [labels for case in live for _, labels in case.alerts]
    observed = [alert for test in (e2e.tests if e2e else ()) for alert in test.alerts]
    fired = {alert.labels.get("alertname", "") for alert in observed}
    items: list[Item] = []
    for name in rules.alertnames:
        rule = rules.alert(name)
        assert rule is not None
        items.append(
            Item(
                "rule",
                name,
                name,
                rule.path,
                rule.line,
                name in fires and name in silent,
                (name in fired) if e2e else None,
                name in fires,
                name in silent,
            )
        )
    notes: list[str] = []
    if e2e is not None and digest is not None and e2e.digest and e2e.digest != digest:
        notes.append(
            f"{e2e.path} was recorded against a different configuration; e2e coverage may be stale"
        )
    if model is not None:
        t_deliver, t_match, t_receivers = _exercised(model, test_labels)
        e_deliver, e_match, _ = _exercised(model, [a.labels for a in observed])
        notified = {name for test in (e2e.tests if e2e else ()) for name in test.notified}
        for node in model.routes():
            items.append(
                Item(
                    "route",
                    node.id,
                    node.describe(),
                    model.path,
                    node.line,
                    _route_covered(node, t_deliver, t_match),
                    _route_covered(node, e_deliver, e_match) if e2e else None,
                )
            )
        for receiver in model.receivers:
            items.append(
                Item(
                    "receiver",
                    receiver.name,
                    receiver.name,
                    model.path,
                    receiver.line,
                    receiver.name in t_receivers,
                    (receiver.name in notified) if e2e else None,
                )
            )
        declared = {
            rule.id
            for case in live
            for target in case.inhibited
            for source_id, source in case.alerts
            if source_id != target
            for rule in model.inhibit_rules
            if rule.applies(source, case.labels_of(target))
        }
        seen_inhibit = {
            rule.id
            for test in (e2e.tests if e2e else ())
            for pair in test.inhibitions
            for rule in model.inhibit_rules
            if rule.applies(pair.source, pair.target)
        }
        for inhibit in model.inhibit_rules:
            items.append(
                Item(
                    "inhibit_rule",
                    inhibit.id,
                    inhibit.describe(),
                    model.path,
                    inhibit.line,
                    inhibit.id in declared,
                    (inhibit.id in seen_inhibit) if e2e else None,
                )
            )
    return Coverage(tuple(items), str(e2e.path) if e2e else None, tuple(notes))


def gate(
    coverage: Coverage, fail_under: float | None, fail_under_e2e: float | None
) -> list[Finding]:
    """Error findings for every category under its threshold."""
    findings: list[Finding] = []
    for threshold, e2e, what in (
        (fail_under, False, "tested"),
        (fail_under_e2e, True, "exercised in drills"),
    ):
        if threshold is None:
            continue
        if e2e and coverage.e2e_source is None:
            findings.append(
                Finding(
                    "coverage/no-e2e-data",
                    "error",
                    "--fail-under-e2e needs a coverage file (run the drills with the "
                    "pytest plugin, or pass --coverage-file)",
                )
            )
            continue
        for kind in KINDS:
            percent = coverage.percent(kind, e2e=e2e)
            if percent is None or percent + 1e-9 >= threshold:
                continue
            missing = [i.id for i in coverage.of(kind) if not (i.e2e if e2e else i.tested)]
            findings.append(
                Finding(
                    "coverage/under-threshold",
                    "error",
                    f"{Coverage.title(kind)} {what}: {percent:.1f}% < {threshold:g}% "
                    f"(not covered: {', '.join(missing)})",
                    hint="add promtool tests (firing and not firing) or routing tests"
                    if not e2e
                    else "add a drill scenario that exercises them",
                    subject=kind,
                )
            )
    return findings
