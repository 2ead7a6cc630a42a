"""``alertdrill verify``: every check, run concurrently, in one report.

Reading the inputs happens first (cheap, and every later step needs it); then the tool runs
(promtool, amtool), the live Alertmanager and the live Prometheus checks run in a thread pool,
since each mostly waits on a subprocess or a socket. Nothing here raises on bad input: every
problem becomes a finding at its file:line. Only "nothing to verify" and ambiguous inputs
raise ConfigError (exit code 2).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from alertdrill.errors import ConfigError, MissingBinaryError
from alertdrill.verify import checks
from alertdrill.verify.amconfig import AlertmanagerModel, load_alertmanager
from alertdrill.verify.coverage import KINDS, Coverage, compute_coverage, gate
from alertdrill.verify.coverage_file import CoverageFile, config_digest, read_coverage
from alertdrill.verify.dashboards import Dashboard, load_dashboard
from alertdrill.verify.findings import CheckResult, Finding
from alertdrill.verify.inputs import Inputs, discover
from alertdrill.verify.lints import LintSettings
from alertdrill.verify.routing_tests import LiveCase, RouteCase, load_routing_tests
from alertdrill.verify.rules import RuleSet, display_path, load_rules
from alertdrill.verify.unit_tests import UnitTestFile, load_unit_tests

__all__ = ["DEFAULT_COVERAGE_FILE", "Report", "VerifyOptions", "run_verify"]

DEFAULT_COVERAGE_FILE = Path("reports/coverage.json")
_WORKERS = 4


@dataclass(frozen=True)
class VerifyOptions:
    paths: tuple[Path, ...] = (Path("monitoring"),)
    prometheus_config: Path | None = None
    rules: tuple[Path, ...] = ()
    alertmanager_config: Path | None = None
    unit_tests: tuple[Path, ...] = ()
    routing_tests: tuple[Path, ...] = ()
    dashboards: tuple[Path, ...] = ()
    prometheus_url: str | None = None
    require_data: bool = False
    live: bool = True
    """Start a real Alertmanager for the live routing tests (off: static checks only)."""
    coverage_file: Path | None = None
    """e2e coverage to read; None: ``reports/coverage.json`` when it exists."""
    fail_under: float | None = None
    fail_under_e2e: float | None = None
    lint: LintSettings = field(default_factory=LintSettings)


@dataclass(frozen=True)
class Report:
    inputs: Inputs
    checks: tuple[CheckResult, ...]
    coverage: Coverage
    seconds: float

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(sorted((f for c in self.checks for f in c.findings), key=Finding.sort_key))

    @property
    def passed(self) -> bool:
        return all(check.status != "failed" for check in self.checks)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1


@dataclass(frozen=True)
class _Loaded:
    rules: RuleSet
    alertmanager: AlertmanagerModel | None
    unit_tests: tuple[UnitTestFile, ...]
    route_cases: tuple[RouteCase, ...]
    live_cases: tuple[LiveCase, ...]
    dashboards: tuple[Dashboard, ...]
    findings: tuple[Finding, ...]


def _load(inputs: Inputs) -> _Loaded:
    findings: list[Finding] = list(inputs.findings)
    model: AlertmanagerModel | None = None
    if inputs.alertmanager_config is not None:
        try:
            model = load_alertmanager(
                inputs.alertmanager_config, shown=display_path(inputs.alertmanager_config)
            )
        except ConfigError as error:
            findings.append(
                Finding(
                    "alertmanager/unreadable",
                    "error",
                    error.message,
                    error.path,
                    error.line,
                    "fix the file; amtool check-config shows the same problem",
                )
            )
    routes: list[RouteCase] = []
    live: list[LiveCase] = []
    for path in inputs.routing_tests:
        try:
            tests = load_routing_tests(path)
        except ConfigError as error:
            findings.append(
                Finding(
                    "routing-test/invalid",
                    "error",
                    error.message,
                    error.path or display_path(path),
                    error.line,
                    "see the format in `alertdrill verify --help`",
                )
            )
            continue
        routes += tests.routes
        live += tests.live
    return _Loaded(
        rules=load_rules(inputs.rule_files),
        alertmanager=model,
        unit_tests=tuple(load_unit_tests(p) for p in inputs.unit_tests),
        route_cases=tuple(routes),
        live_cases=tuple(live),
        dashboards=tuple(load_dashboard(p) for p in inputs.dashboards),
        findings=tuple(findings),
    )


def _guard(name: str, task: Callable[[], list[CheckResult]]) -> Callable[[], list[CheckResult]]:
    """A missing binary fails its check with an install hint instead of the whole run."""

    def run() -> list[CheckResult]:
        started = time.monotonic()
        try:
            return task()
        except MissingBinaryError as error:
            finding = Finding("tool/missing", "error", error.message, hint=error.hint)
            return [CheckResult(name, time.monotonic() - started, (finding,))]

    return run


def run_verify(options: VerifyOptions) -> Report:
    started = time.monotonic()
    inputs = discover(
        options.paths,
        prometheus_config=options.prometheus_config,
        rules=options.rules,
        alertmanager_config=options.alertmanager_config,
        unit_tests=options.unit_tests,
        routing_tests=options.routing_tests,
        dashboards=options.dashboards,
    )
    if inputs.empty:
        shown = ", ".join(str(p) for p in options.paths)
        raise ConfigError(
            f"nothing to verify under {shown}: no Prometheus/Alertmanager config, rules, "
            "tests or dashboards found"
        )
    loaded = _load(inputs)
    external = checks.external_labels(inputs.prometheus_config)
    lint_settings = replace(options.lint, external_labels=external or options.lint.external_labels)
    results: list[CheckResult] = []
    with (
        tempfile.TemporaryDirectory(prefix="alertdrill-verify-") as scratch,
        ThreadPoolExecutor(_WORKERS) as pool,
    ):
        tasks: list[tuple[str, Callable[[], list[CheckResult]]]] = []
        # The live Alertmanager takes longest: start it first so everything else overlaps it.
        if (
            options.live
            and loaded.alertmanager is not None
            and inputs.alertmanager_config is not None
            and (loaded.live_cases or loaded.route_cases)
        ):
            config, model = inputs.alertmanager_config, loaded.alertmanager
            tasks.append(
                (checks.LIVE_ROUTING, lambda: [checks.live_routing(config, model, loaded)])
            )
        tasks += checks.static_tasks(inputs, loaded, Path(scratch))
        if options.prometheus_url:
            url = options.prometheus_url
            tasks.append(
                (
                    "metric existence (live)",
                    lambda: checks.live_prometheus(url, loaded, options.require_data),
                )
            )
        futures: list[Future[list[CheckResult]]] = [
            pool.submit(_guard(name, task)) for name, task in tasks
        ]
        results.append(checks.lint_check(loaded, lint_settings))
        for future in futures:
            results += future.result()
    if not options.live:
        results.append(CheckResult.skip(checks.LIVE_ROUTING, "--static"))
    if not options.prometheus_url:
        results.append(CheckResult.skip("metric existence (live)", "no --prometheus URL"))
    results.insert(0, CheckResult("inputs", 0.0, loaded.findings, note=_describe(inputs)))
    coverage = _coverage(options, inputs, loaded)
    gate_findings = gate(coverage, options.fail_under, options.fail_under_e2e)
    note = _coverage_note(coverage)
    results.append(CheckResult("coverage", 0.0, tuple(gate_findings), note=note))
    return Report(inputs, tuple(_order(results)), coverage, time.monotonic() - started)


def _coverage(options: VerifyOptions, inputs: Inputs, loaded: _Loaded) -> Coverage:
    path = options.coverage_file
    e2e: CoverageFile | None = None
    notes: list[str] = []
    if path is None and DEFAULT_COVERAGE_FILE.exists():
        path = DEFAULT_COVERAGE_FILE
    if path is not None:
        try:
            e2e = read_coverage(path)
        except ConfigError as error:
            notes.append(f"e2e coverage not read: {error}")
    files = [
        *inputs.rule_files,
        *([inputs.alertmanager_config] if inputs.alertmanager_config else []),
    ]
    digest = config_digest(files) if files else None
    if e2e is not None and options.coverage_file is None and e2e.digest != digest:
        # The default file belongs to another configuration (the repository's own drills):
        # it is no evidence about this one.
        notes.append(f"{path} ignored: recorded against a different configuration")
        e2e = None
    coverage = compute_coverage(
        loaded.rules,
        loaded.unit_tests,
        loaded.alertmanager,
        loaded.route_cases,
        loaded.live_cases,
        e2e,
        digest=digest,
    )
    return replace(coverage, notes=(*coverage.notes, *notes))


def _coverage_note(coverage: Coverage) -> str:
    parts = []
    for kind in KINDS:
        hit, total = coverage.counts(kind)
        if total:
            parts.append(f"{coverage.title(kind)} {hit}/{total}")
    return ", ".join(parts)


def _describe(inputs: Inputs) -> str:
    parts = []
    if inputs.prometheus_config:
        parts.append(f"prometheus {display_path(inputs.prometheus_config)}")
    parts.append(f"{len(inputs.rule_files)} rule file(s)")
    if inputs.alertmanager_config:
        parts.append(f"alertmanager {display_path(inputs.alertmanager_config)}")
    parts.append(f"{len(inputs.unit_tests)} unit-test file(s)")
    parts.append(f"{len(inputs.routing_tests)} routing-test file(s)")
    parts.append(f"{len(inputs.dashboards)} dashboard(s)")
    return ", ".join(parts)


_ORDER = (
    "inputs",
    "promtool check config",
    "promtool check rules",
    "promtool test rules",
    "amtool check-config",
    "routing tests (amtool)",
    "inhibition and grouping (live Alertmanager)",
    "lints",
    "dashboards",
    "metric existence (live)",
    "dashboards (live)",
    "coverage",
)


def _order(results: list[CheckResult]) -> list[CheckResult]:
    rank = {name: i for i, name in enumerate(_ORDER)}
    return sorted(results, key=lambda c: rank.get(c.name, len(rank)))
