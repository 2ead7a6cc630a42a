"""Inhibition and grouping checked on a real Alertmanager, receivers pointed at sinks.

One Alertmanager (``AlertmanagerComponent``, fresh storage) runs the config as
``amrender.live_config`` prepares it; the harness's ``Receivers`` play every integration.
Every live case (and every route case, to cross-check amtool on the real thing) is posted at
once, each alert carrying its case label, which the prepared config adds to every
``group_by`` and inhibit ``equal``: cases cannot group with or inhibit each other. Then:

* inhibited: what ``GET /api/v2/alerts`` reports as ``inhibitedBy``, after the groups flushed;
* notifications: the probe webhook's deliveries, per receiver and group (``groupKey``), the
  union of alerts over every delivery of a group (an alert joining a group after its first
  flush is in the same group, only later: grouping is about *which* alerts go together);
* route cases: the receivers Alertmanager lists for the alert.

Waiting: until every alert that should notify has, then until no delivery came for longer
than the slowest group_interval. Bounded by ``LIVE_TIMEOUT``.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from alertdrill.clients.alertmanager import AlertmanagerClient, AmAlert, PostableAlert
from alertdrill.errors import AlertdrillError, ExpectationFailed
from alertdrill.receivers import Receivers, WebhookDelivery
from alertdrill.stack.components.alertmanager import AlertmanagerComponent
from alertdrill.stack.promql import parse_duration
from alertdrill.stack.render import Profile, Sinks
from alertdrill.timing import eventually
from alertdrill.verify.amconfig import AlertmanagerModel
from alertdrill.verify.amrender import CASE_LABEL, PROBE_WEBHOOK, live_config
from alertdrill.verify.findings import Case, CheckResult, Finding
from alertdrill.verify.routing_tests import LiveCase, RouteCase

__all__ = ["CHECK_NAME", "LIVE_PROFILE", "LIVE_TIMEOUT", "LiveOutcome", "check_live"]

#: Route timers of the verification Alertmanager: alerts posted together share a group_wait.
LIVE_PROFILE = Profile(
    name="verify",
    scrape_interval=1.0,
    evaluation_interval=1.0,
    duration_scale=1.0,
    group_wait=0.5,
    group_interval=0.5,
    repeat_interval=3600.0,
)
LIVE_TIMEOUT = 20.0
CHECK_NAME = "inhibition and grouping (live Alertmanager)"
_Groups = frozenset[frozenset[str]]


@dataclass(frozen=True)
class LiveOutcome:
    inhibit_rules_observed: frozenset[str]
    """Ids (``inhibit_rules[i]``) of the rules seen muting an alert."""
    receivers_notified: frozenset[str]


def check_live(
    source: Path,
    model: AlertmanagerModel,
    live: tuple[LiveCase, ...],
    routes: tuple[RouteCase, ...],
) -> tuple[CheckResult, LiveOutcome]:
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="alertdrill-verify-am-"))
    receivers = Receivers()
    alertmanager: AlertmanagerComponent | None = None
    try:
        receivers.start()
        prepared = live_config(
            source,
            work / "config",
            LIVE_PROFILE,
            _sinks(receivers),
            receivers.webhook_url(PROBE_WEBHOOK),
        )
        alertmanager = AlertmanagerComponent(prepared.path, base_dir=work, log_level="warn")
        alertmanager.start()
        with AlertmanagerClient(alertmanager.url, timeout=5.0) as client:
            findings, cases, outcome = _run(client, receivers, prepared.path, model, live, routes)
        findings += _notify_errors(alertmanager.logs(200))
        notes = []
        if prepared.dropped:
            notes.append(f"integrations not played by sinks: {', '.join(prepared.dropped)}")
        if prepared.unmuted:
            notes.append(f"time-based muting ignored on {', '.join(prepared.unmuted)}")
        note = f"{len(live)} live cases, {len(routes)} routes cross-checked"
        result = CheckResult(
            CHECK_NAME,
            time.monotonic() - started,
            tuple(findings),
            tuple(cases),
            note="; ".join([note, *notes]),
        )
        return result, outcome
    except AlertdrillError as error:
        finding = Finding(
            "live/alertmanager-failed",
            "error",
            f"the verification Alertmanager could not run the config: {error}",
            model.path,
            None,
            "run `amtool check-config` on it; the live check needs the config to load",
        )
        empty = LiveOutcome(frozenset(), frozenset())
        return CheckResult(CHECK_NAME, time.monotonic() - started, (finding,)), empty
    finally:
        if alertmanager is not None:
            alertmanager.stop()
        receivers.stop()
        shutil.rmtree(work, ignore_errors=True)


def _sinks(receivers: Receivers) -> Sinks:
    return Sinks(
        slack_url=receivers.slack_url("verify"),
        pagerduty_url=receivers.pagerduty_url,
        pagerduty_routing_key="alertdrill-verify",
        smtp_smarthost=receivers.smtp_smarthost,
        smtp_username=receivers.smtp_username or "",
        smtp_password=receivers.smtp_password or "",
        email_from="alertdrill-verify@example.invalid",
        incident_webhook_url=receivers.webhook_url("incident"),
        incident_webhook_token="alertdrill-verify",  # noqa: S106
    )


def _slowest_interval(config: Path) -> float:
    data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    values: list[float] = []

    def visit(route: Mapping[str, object]) -> None:
        for key in ("group_wait", "group_interval"):
            if key in route:
                values.append(parse_duration(str(route[key])))
        for child in route.get("routes") or []:  # type: ignore[attr-defined]
            visit(child)

    visit(data.get("route") or {})
    return max(values, default=LIVE_PROFILE.group_interval)


def _run(
    client: AlertmanagerClient,
    receivers: Receivers,
    config: Path,
    model: AlertmanagerModel,
    live: tuple[LiveCase, ...],
    routes: tuple[RouteCase, ...],
) -> tuple[list[Finding], list[Case], LiveOutcome]:
    now = datetime.now(UTC)
    posted: list[PostableAlert] = []
    for index, case in enumerate(live):
        for _, labels in case.alerts:
            posted.append(_postable({**labels, CASE_LABEL: f"live-{index}"}, now))
    for index, route in enumerate(routes):
        posted.append(_postable({**route.labels, CASE_LABEL: f"route-{index}"}, now))
    client.post_alerts(posted)

    # Every alert that is not expected to be muted must reach each receiver it routes to.
    expected = {
        (f"live-{i}", alert_id, receiver)
        for i, case in enumerate(live)
        for alert_id, labels in case.alerts
        if alert_id not in case.inhibited
        for receiver in model.receivers_for(labels)
    }
    expected |= {(f"route-{i}", "", r) for i, route in enumerate(routes) for r in route.receivers}
    slowest = _slowest_interval(config)

    posted_at = time.monotonic()

    def settled() -> bool:
        if expected <= _delivered(receivers, live):
            return True
        # A wrong expectation waits for a notification that never comes. Once every group had
        # time for its first flush and a few group intervals (generously: a loaded machine
        # flushes late) and nothing arrived for a while, nothing will: compare now rather
        # than at the timeout.
        waited = time.monotonic() - posted_at
        return waited >= 3 * slowest + 2.0 and _quiet(receivers, slowest + 1.0)

    # On timeout the cases are compared anyway: each failure then says what is missing.
    with contextlib.suppress(ExpectationFailed):
        eventually(settled, within=LIVE_TIMEOUT, every=0.1, what="the notifications to settle")
    # Quiet: nothing more may come (a muted alert notified late, an extra group).
    eventually(
        lambda: _quiet(receivers, slowest + 0.5),
        within=LIVE_TIMEOUT,
        what="the probe webhook to go quiet",
    )
    alerts = client.alerts()
    by_case: dict[str, list[AmAlert]] = {}
    for alert in alerts:
        by_case.setdefault(alert.labels.get(CASE_LABEL, ""), []).append(alert)
    fingerprints = {alert.fingerprint: alert for alert in alerts}
    groups = _groups(receivers, live)
    findings: list[Finding] = []
    cases: list[Case] = []
    observed: set[str] = set()
    for index, case in enumerate(live):
        problems = _compare_live(case, by_case.get(f"live-{index}", []), groups.get(index, {}))
        for alert in by_case.get(f"live-{index}", []):
            for fp in alert.inhibited_by:
                source = fingerprints.get(fp)
                if source is not None:
                    observed |= {
                        rule.id
                        for rule in model.inhibit_rules
                        if rule.applies(_strip(source.labels), _strip(alert.labels))
                    }
        for problem in problems:
            findings.append(
                Finding("live/failed", "error", f"{case.name!r}: {problem}", case.path, case.line)
            )
        cases.append(Case(case.name, not problems, "; ".join(problems), case.path, case.line))
    for index, route in enumerate(routes):
        got = sorted({r for a in by_case.get(f"route-{index}", []) for r in a.receivers})
        if got != sorted(set(route.receivers)):
            message = (
                f"{route.name!r}: the running Alertmanager routes it to {got}, "
                f"the test expects {sorted(set(route.receivers))}"
            )
            findings.append(
                Finding("live/route-mismatch", "error", message, route.path, route.line)
            )
    notified = frozenset(d.receiver for d in receivers.webhooks() if d.name == PROBE_WEBHOOK)
    return findings, cases, LiveOutcome(frozenset(observed), notified)


def _postable(labels: Mapping[str, str], now: datetime) -> PostableAlert:
    # Far enough in the future that nothing resolves while the case is compared.
    return PostableAlert(
        labels=dict(labels),
        annotations={"summary": "alertdrill verify routing test"},
        starts_at=now,
        ends_at=now + timedelta(minutes=30),
    )


def _strip(labels: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k != CASE_LABEL}


def _probe(receivers: Receivers) -> list[WebhookDelivery]:
    return [d for d in receivers.webhooks() if d.name == PROBE_WEBHOOK and d.status == "firing"]


def _alert_id(case: LiveCase, labels: Mapping[str, str]) -> str | None:
    bare = _strip(labels)
    return next((alert_id for alert_id, own in case.alerts if dict(own) == bare), None)


def _delivered(receivers: Receivers, live: tuple[LiveCase, ...]) -> set[tuple[str, str, str]]:
    seen: set[tuple[str, str, str]] = set()
    for delivery in _probe(receivers):
        for alert in delivery.alerts:
            key = alert.labels.get(CASE_LABEL, "")
            alert_id = ""
            if key.startswith("live-"):
                alert_id = _alert_id(live[int(key[5:])], alert.labels) or "?"
            seen.add((key, alert_id, delivery.receiver))
    return seen


def _quiet(receivers: Receivers, seconds: float) -> bool:
    deliveries = receivers.webhooks()
    if not deliveries:
        return True
    return time.monotonic() - deliveries[-1].arrived_at >= seconds


def _groups(receivers: Receivers, live: tuple[LiveCase, ...]) -> dict[int, dict[str, _Groups]]:
    """case index -> receiver -> its groups (alert ids), merged over deliveries per groupKey."""
    merged: dict[tuple[int, str, str], set[str]] = {}
    for delivery in _probe(receivers):
        for alert in delivery.alerts:
            key = alert.labels.get(CASE_LABEL, "")
            if not key.startswith("live-"):
                continue
            index = int(key[5:])
            alert_id = _alert_id(live[index], alert.labels) or "?"
            merged.setdefault((index, delivery.receiver, delivery.group_key), set()).add(alert_id)
    result: dict[int, dict[str, set[frozenset[str]]]] = {}
    for (index, receiver, _), ids in merged.items():
        result.setdefault(index, {}).setdefault(receiver, set()).add(frozenset(ids))
    return {i: {r: frozenset(g) for r, g in per.items()} for i, per in result.items()}


def _compare_live(
    case: LiveCase, alerts: list[AmAlert], groups: Mapping[str, _Groups]
) -> list[str]:
    problems: list[str] = []
    inhibited = {
        alert_id
        for alert in alerts
        if alert.inhibited_by and (alert_id := _alert_id(case, alert.labels)) is not None
    }
    if inhibited != case.inhibited:
        problems.append(
            f"inhibited {sorted(inhibited) or 'nothing'}, "
            f"expected {sorted(case.inhibited) or 'nothing'}"
        )
    notified = {alert_id for per in groups.values() for group in per for alert_id in group}
    muted_but_sent = sorted(notified & case.inhibited)
    if muted_but_sent:
        problems.append(f"inhibited alert(s) {muted_but_sent} were notified anyway")
    if case.notifications is not None:
        for receiver in sorted(set(case.notifications) | set(groups)):
            want = case.notifications.get(receiver, frozenset())
            got = groups.get(receiver, frozenset())
            if want != got:
                problems.append(f"{receiver} got groups {_show(got)}, expected {_show(want)}")
    silent = sorted(
        alert_id
        for alert_id, _ in case.alerts
        if alert_id not in case.inhibited and alert_id not in notified
    )
    if silent:
        problems.append(f"alert(s) {silent} were never notified")
    return problems


def _show(groups: _Groups) -> str:
    if not groups:
        return "none"
    return " ".join("[" + ", ".join(sorted(g)) + "]" for g in sorted(groups, key=sorted))


def _notify_errors(log: str) -> list[Finding]:
    """Integrations that failed against the sinks (a template error, a rejected payload)."""
    findings: list[Finding] = []
    for line in log.splitlines():
        if "level=error" in line and "Notify" in line:
            findings.append(
                Finding(
                    "live/notify-failed",
                    "warning",
                    f"Alertmanager failed to notify a sink: {line.strip()[:400]}",
                    hint="a template that does not render, or an integration the sinks reject",
                )
            )
    return findings[:10]
