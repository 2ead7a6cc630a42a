"""Static lints of rules and routing, each with an id, a severity and a fix hint.

    rule/severity-label      error    alert has no `severity` label
    rule/summary             error    alert has no `summary` annotation
    rule/description         error    alert has no `description` annotation
    rule/runbook-url         warning  alert has no `runbook_url` annotation
    rule/for-bounds          warning  `for` under --for-min (a missing `for` is 0) or over --for-max
    rule/value-in-label      error    a label is computed from $value: every new value is a new
                                      alert, so it flaps, re-notifies and breaks grouping
    route/default-only       warning  the alert's labels reach no route but the root's default
                                      (allowed per alert with --allow-default-route, or when a
                                      routing test expects exactly the default receiver for it)
    route/undefined-interval error    a route names a time interval that is not defined
    receiver/undefined       error    a route names a receiver that is not defined
    receiver/unreachable     warning  a receiver no route delivers to
    inhibit/dead-source      warning  no alert rule can be an inhibit rule's source
    inhibit/dead-target      warning  no alert rule can be an inhibit rule's target

An alert's labels for routing are its static labels, ``alertname`` and Prometheus'
``external_labels``. Labels the expression produces (``service``, ``instance``) are unknown
statically: a matcher on such a label is taken as possibly matching.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from alertdrill.verify.amconfig import AlertmanagerModel, LabelMatcher
from alertdrill.verify.findings import Case, Finding
from alertdrill.verify.routing_tests import RouteCase
from alertdrill.verify.rules import AlertRule, RuleSet

__all__ = ["LINT_IDS", "LintSettings", "lint"]

LINT_IDS = (
    "rule/severity-label",
    "rule/summary",
    "rule/description",
    "rule/runbook-url",
    "rule/for-bounds",
    "rule/value-in-label",
    "route/default-only",
    "route/undefined-interval",
    "receiver/undefined",
    "receiver/unreachable",
    "inhibit/dead-source",
    "inhibit/dead-target",
)
_VALUE = re.compile(r"\$value\b|\.Value\b")


@dataclass(frozen=True)
class LintSettings:
    for_min: float = 60.0
    for_max: float = 3600.0
    allow_default_route: frozenset[str] = frozenset()
    disabled: frozenset[str] = frozenset()
    external_labels: Mapping[str, str] = field(default_factory=dict, hash=False)


def lint(
    rules: RuleSet,
    alertmanager: AlertmanagerModel | None,
    route_cases: Iterable[RouteCase],
    settings: LintSettings,
) -> tuple[list[Finding], list[Case]]:
    findings: list[Finding] = []
    for rule in rules.alerts:
        findings += _rule_lints(rule, settings)
    if alertmanager is not None:
        findings += _routing_lints(rules, alertmanager, tuple(route_cases), settings)
    findings = [f for f in findings if f.id not in settings.disabled]
    cases = [
        Case(
            lint_id,
            ok=not any(f.id == lint_id and f.severity == "error" for f in findings),
            message="; ".join(f.message for f in findings if f.id == lint_id)[:2000],
            skipped=lint_id in settings.disabled,
        )
        for lint_id in LINT_IDS
    ]
    return findings, cases


def _rule_lints(rule: AlertRule, settings: LintSettings) -> list[Finding]:
    found: list[Finding] = []

    def add(id_: str, severity: str, message: str, key: str, hint: str) -> None:
        found.append(
            Finding(
                id_,
                severity,  # type: ignore[arg-type]  # one of the literals above
                f"{rule.name}: {message}",
                rule.path,
                rule.line_of(key),
                hint,
                subject=rule.name,
            )
        )

    if not rule.labels.get("severity"):
        add(
            "rule/severity-label",
            "error",
            "no `severity` label",
            "labels",
            "add labels: {severity: critical|warning}; routing and paging depend on it",
        )
    for annotation, why in (
        ("summary", "the one line a notification title shows"),
        ("description", "what was measured and what to check first"),
    ):
        if not rule.annotations.get(annotation, "").strip():
            add(
                f"rule/{annotation}",
                "error",
                f"no `{annotation}` annotation",
                "annotations",
                f"add annotations.{annotation}: {why}",
            )
    if not rule.annotations.get("runbook_url", "").strip():
        add(
            "rule/runbook-url",
            "warning",
            "no `runbook_url` annotation",
            "annotations",
            "link the runbook the person paged at 3 a.m. should open",
        )
    seconds = rule.for_seconds
    if seconds < settings.for_min:
        shown = rule.for_text or "missing (0s)"
        add(
            "rule/for-bounds",
            "warning",
            f"`for` is {shown}, under the minimum {settings.for_min:g}s: one bad evaluation pages",
            "for" if rule.for_text else "alert",
            f"set for: to at least {settings.for_min:g}s (or lower --for-min)",
        )
    elif seconds > settings.for_max:
        add(
            "rule/for-bounds",
            "warning",
            f"`for` is {rule.for_text}, over the maximum {settings.for_max:g}s: the alert is "
            "late by that much",
            "for",
            f"shorten for: to at most {settings.for_max:g}s (or raise --for-max)",
        )
    for name, value in rule.labels.items():
        if _VALUE.search(value):
            add(
                "rule/value-in-label",
                "error",
                f"label {name!r} is computed from $value ({value!r})",
                f"labels.{name}",
                "labels identify the alert: every new value makes a new alert (flapping, "
                "re-notification); put the value in an annotation",
            )
    return found


def _static_labels(rule: AlertRule, settings: LintSettings) -> dict[str, str]:
    return {**settings.external_labels, **rule.labels, "alertname": rule.name}


def _possibly(matchers: tuple[LabelMatcher, ...], labels: Mapping[str, str]) -> bool:
    """Could an alert with these static labels (plus unknown others) satisfy the matchers?"""
    return all(m.matches(labels) for m in matchers if m.name in labels)


def _routing_lints(
    rules: RuleSet,
    model: AlertmanagerModel,
    cases: tuple[RouteCase, ...],
    settings: LintSettings,
) -> list[Finding]:
    found: list[Finding] = []
    defined = {r.name for r in model.receivers}
    used = {node.receiver for node in model.routes()}
    intervals = set(model.time_intervals)
    for node in model.routes():
        if node.receiver and node.receiver not in defined:
            found.append(
                Finding(
                    "receiver/undefined",
                    "error",
                    f"{node.id} sends to receiver {node.receiver!r}, which is not defined",
                    model.path,
                    node.line,
                    f"define it under receivers: or use one of {sorted(defined)}",
                    subject=node.id,
                )
            )
        for name in node.time_intervals:
            if name not in intervals:
                found.append(
                    Finding(
                        "route/undefined-interval",
                        "error",
                        f"{node.id} uses time interval {name!r}, which is not defined",
                        model.path,
                        node.line,
                        "define it under time_intervals: (or mute_time_intervals:)",
                        subject=node.id,
                    )
                )
    for receiver in model.receivers:
        if receiver.name not in used:
            found.append(
                Finding(
                    "receiver/unreachable",
                    "warning",
                    f"receiver {receiver.name!r} is not used by any route",
                    model.path,
                    receiver.line,
                    "route something to it, or delete it",
                    subject=receiver.name,
                )
            )
    # What the routing tests say is deliberately routed to the default receiver.
    intended_default = {
        case.labels.get("alertname", "")
        for case in cases
        if case.receivers == (model.route.receiver,)
    }
    for rule in rules.alerts:
        labels = _static_labels(rule, settings)
        delivering, _ = model.route.match(labels)
        if delivering == (model.route,) and model.route.children:
            if rule.name in settings.allow_default_route or rule.name in intended_default:
                continue
            found.append(
                Finding(
                    "route/default-only",
                    "warning",
                    f"{rule.name}: its labels reach no route but the default "
                    f"({model.route.receiver!r})",
                    rule.path,
                    rule.line_of("labels"),
                    "add the routing label your routes match on, or state it is intended: "
                    "a routing test expecting the default receiver for this alert, or "
                    "--allow-default-route " + rule.name,
                    subject=rule.name,
                )
            )
    for inhibit in model.inhibit_rules:
        for side, matchers in (("source", inhibit.source), ("target", inhibit.target)):
            if rules.alerts and not any(
                _possibly(matchers, _static_labels(rule, settings)) for rule in rules.alerts
            ):
                found.append(
                    Finding(
                        f"inhibit/dead-{side}",
                        "warning",
                        f"{inhibit.id}: no alert rule can be its {side} "
                        f"({', '.join(str(m) for m in matchers)})",
                        model.path,
                        inhibit.line,
                        "a renamed alert or label? fix the matchers or delete the rule",
                        subject=inhibit.id,
                    )
                )
    return found
