"""The individual checks of ``alertdrill verify``, each returning ``CheckResult``s.

``static_tasks`` lists the tool-backed checks (each a callable for the runner's thread pool):
``promtool check config`` (syntax only: the rule files get their own, line-precise check),
``promtool check rules``, ``promtool test rules`` (one run per file, so a failure maps back to
its file and ``alert_rule_test`` entry), ``amtool check-config``, the amtool routing tests and
the dashboards' PromQL.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from alertdrill.errors import ConfigError
from alertdrill.verify.amrender import static_copy
from alertdrill.verify.dashboards import check_queries_parse
from alertdrill.verify.findings import Case, CheckResult, Finding
from alertdrill.verify.lints import LintSettings, lint
from alertdrill.verify.live_am import CHECK_NAME as LIVE_ROUTING
from alertdrill.verify.live_am import check_live
from alertdrill.verify.live_prom import check_dashboards_live, check_metrics
from alertdrill.verify.routing_check import check_routes
from alertdrill.verify.rules import display_path
from alertdrill.verify.sources import load_yaml
from alertdrill.verify.tools import failures, run_tool
from alertdrill.verify.unit_tests import UnitTestFile, map_test_failures

if TYPE_CHECKING:
    from alertdrill.verify.amconfig import AlertmanagerModel
    from alertdrill.verify.inputs import Inputs
    from alertdrill.verify.runner import _Loaded

__all__ = [
    "LIVE_ROUTING",
    "external_labels",
    "lint_check",
    "live_prometheus",
    "live_routing",
    "static_tasks",
]

Task = tuple[str, Callable[[], list[CheckResult]]]


def external_labels(prometheus_config: Path | None) -> dict[str, str]:
    if prometheus_config is None:
        return {}
    try:
        data = load_yaml(prometheus_config)
    except ConfigError:
        return {}
    global_ = data.get("global") if isinstance(data, Mapping) else None
    labels = global_.get("external_labels") if isinstance(global_, Mapping) else None
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {}


def static_tasks(inputs: Inputs, loaded: _Loaded, scratch: Path) -> list[Task]:
    tasks: list[Task] = []
    if inputs.prometheus_config is not None:
        config = inputs.prometheus_config
        tasks.append(("promtool check config", lambda: [_check_config(config)]))
    if inputs.rule_files:
        tasks.append(("promtool check rules", lambda: [_check_rules(inputs, loaded)]))
    if inputs.unit_tests:
        tasks.append(("promtool test rules", lambda: [_test_rules(loaded)]))
    if inputs.alertmanager_config is not None:
        source = inputs.alertmanager_config
        tasks.append(
            ("amtool check-config", lambda: _amtool(source, loaded, scratch / "alertmanager"))
        )
    if loaded.dashboards:
        tasks.append(("dashboards", lambda: [_dashboards(loaded)]))
    return tasks


def _check_config(config: Path) -> CheckResult:
    shown = display_path(config)
    run = run_tool("promtool", ["check", "config", "--syntax-only", str(config)])
    findings = failures(
        run,
        checked=shown,
        id_="promtool/check-config",
        hint="see the Prometheus configuration reference",
    )
    return CheckResult(
        "promtool check config",
        run.seconds,
        tuple(findings),
        (Case(shown, run.ok, "", shown),),
        note=shown,
    )


def _check_rules(inputs: Inputs, loaded: _Loaded) -> CheckResult:
    started = time.monotonic()
    shown = {display_path(p): p for p in inputs.rule_files}
    run = run_tool("promtool", ["check", "rules", *(str(p) for p in inputs.rule_files)])
    findings: list[Finding] = []
    # Our own parse names the line of a YAML syntax error; promtool's is often "line 1".
    unreadable = {f.path for f in loaded.rules.findings}
    for finding in failures(
        run,
        checked=next(iter(shown)),
        id_="promtool/check-rules",
        hint="see the alerting/recording rule reference",
    ):
        path = finding.path if finding.path in shown else _match(finding.path, shown)
        if path not in unreadable:
            findings.append(
                Finding(
                    finding.id, finding.severity, finding.message, path, finding.line, finding.hint
                )
            )
    findings += loaded.rules.findings
    cases = tuple(Case(name, not any(f.path == name for f in findings), "", name) for name in shown)
    rules = loaded.rules
    note = f"{len(shown)} file(s), {len(rules.alerts)} alerts, {len(rules.records)} recording rules"
    return CheckResult(
        "promtool check rules", time.monotonic() - started, tuple(findings), cases, note=note
    )


def _match(path: str | None, shown: Mapping[str, Path]) -> str | None:
    if path is None:
        return None
    return next((name for name, real in shown.items() if real.name == Path(path).name), path)


def _test_rules(loaded: _Loaded) -> CheckResult:
    started = time.monotonic()
    # One promtool per file, concurrently: each is single-threaded and most of verify's time.
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(lambda tests: _test_file(tests, loaded), loaded.unit_tests))
    findings = [f for found, _ in outcomes for f in found]
    cases = [case for _, case in outcomes]
    count = sum(t.tests for t in loaded.unit_tests)
    assertions = sum(len(t.assertions) for t in loaded.unit_tests)
    note = f"{len(loaded.unit_tests)} file(s), {count} tests, {assertions} alert assertions"
    return CheckResult(
        "promtool test rules", time.monotonic() - started, tuple(findings), tuple(cases), note=note
    )


def _test_file(tests: UnitTestFile, loaded: _Loaded) -> tuple[list[Finding], Case]:
    findings = list(tests.findings)
    if any(f.id == "unit-test/unreadable" for f in tests.findings):
        return findings, Case(tests.shown, False, "unreadable", tests.shown)
    # cwd: promtool resolves rule_files against the test file's directory itself.
    run = run_tool("promtool", ["test", "rules", tests.path.name], cwd=tests.path.parent)
    mapped = map_test_failures(tests, run.output, loaded.rules) if not run.ok else []
    if not run.ok and not mapped:
        raw = failures(
            run,
            checked=tests.path.name,
            id_="unit-test/failed",
            hint="promtool could not run the test file",
        )
        # promtool names files relative to the test file's directory (its cwd).
        mapped = [
            replace(f, path=display_path(tests.path.parent / f.path) if f.path else None)
            for f in raw
        ]
    findings += mapped
    message = "; ".join(f.message for f in mapped)[:2000]
    return findings, Case(tests.shown, run.ok and not tests.findings, message, tests.shown)


def _amtool(source: Path, loaded: _Loaded, work: Path) -> list[CheckResult]:
    started = time.monotonic()
    shown = display_path(source)
    config, filled = static_copy(source, work)
    run = run_tool("amtool", ["check-config", str(config)])
    findings = failures(
        run,
        checked=shown,
        id_="amtool/check-config",
        hint="see the Alertmanager configuration reference",
    )
    findings = [_locate(f, loaded.alertmanager) for f in findings]
    note = shown + (f" ({len(filled)} placeholders filled: {', '.join(filled)})" if filled else "")
    results = [
        CheckResult(
            "amtool check-config",
            time.monotonic() - started,
            tuple(findings),
            (Case(shown, run.ok, "", shown),),
            note=note,
        )
    ]
    if loaded.route_cases and loaded.alertmanager is not None and run.ok:
        routing, _ = check_routes(config, loaded.alertmanager, loaded.route_cases)
        results.append(routing)
    elif loaded.route_cases:
        results.append(
            CheckResult.skip("routing tests (amtool)", "the Alertmanager config does not load")
        )
    return results


def _locate(finding: Finding, model: AlertmanagerModel | None) -> Finding:
    """amtool names no line for semantic errors; find the route or receiver it means."""
    if finding.line is not None or model is None:
        return finding
    named = re.search(r'undefined (receiver|time interval) "([^"]+)"', finding.message)
    if named:
        for node in model.routes():
            if named.group(2) == node.receiver or named.group(2) in node.time_intervals:
                return Finding(
                    finding.id,
                    finding.severity,
                    finding.message,
                    finding.path,
                    node.line,
                    finding.hint,
                )
    return finding


def _dashboards(loaded: _Loaded) -> CheckResult:
    started = time.monotonic()
    findings = [f for d in loaded.dashboards for f in d.findings]
    findings += check_queries_parse(list(loaded.dashboards))
    cases = tuple(
        Case(
            d.path,
            not any(f.path == d.path and f.severity == "error" for f in findings),
            "",
            d.path,
        )
        for d in loaded.dashboards
    )
    queries = sum(len(d.queries) for d in loaded.dashboards)
    note = f"{len(loaded.dashboards)} dashboard(s), {queries} queries"
    return CheckResult("dashboards", time.monotonic() - started, tuple(findings), cases, note=note)


def lint_check(loaded: _Loaded, settings: LintSettings) -> CheckResult:
    started = time.monotonic()
    findings, cases = lint(loaded.rules, loaded.alertmanager, loaded.route_cases, settings)
    errors = sum(1 for f in findings if f.severity == "error")
    warnings = sum(1 for f in findings if f.severity == "warning")
    note = f"{len(cases)} lints, {errors} errors, {warnings} warnings"
    return CheckResult(
        "lints", time.monotonic() - started, tuple(findings), tuple(cases), note=note
    )


def live_routing(config: Path, model: AlertmanagerModel, loaded: _Loaded) -> CheckResult:
    if not loaded.live_cases and not loaded.route_cases:
        return CheckResult.skip(LIVE_ROUTING, "no routing tests")
    result, _ = check_live(config, model, loaded.live_cases, loaded.route_cases)
    return result


def live_prometheus(url: str, loaded: _Loaded, require_data: bool) -> list[CheckResult]:
    results = [check_metrics(url, loaded.rules, loaded.dashboards)]
    if loaded.dashboards:
        results.append(check_dashboards_live(url, loaded.dashboards, require_data=require_data))
    return results
