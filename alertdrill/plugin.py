"""pytest plugin (entry point `alertdrill`): the `--stack` option and the drill fixtures.

The stack is expensive, so it starts once per session, only when a test asks for it, and is
torn down by a session finalizer whatever happens (leftover faults are reverted first).
Each test gets the same session reset (`drill` fixture): faults reverted, every alert
resolved, receivers cleared, a fresh timeline. On failure the timeline and the components'
log tails are printed, and every drill test writes a JSON report under `reports/`. A run
with drills ends with the detection-latency table (alert, floor, fault → firing / first
notification / incident, revert → all-clear), printed and written to `reports/latency.json`.
issue 8: each drill test's JSON report gets its HTML page beside it; under `--alluredir` the
timeline, the page, the receivers' payloads and (on failure) the components' logs are attached.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from alertdrill.clients import AlertmanagerClient, PrometheusClient, ServiceClient
from alertdrill.expect import Expect
from alertdrill.receivers.capture import ReceiverCapture
from alertdrill.report.attachments import publish_drill_test
from alertdrill.report.latency import LatencyTable, samples, samples_json
from alertdrill.session import DrillSession
from alertdrill.stack.backends import BACKENDS, BackendUnavailable, make_stack
from alertdrill.stack.drill_stack import DrillStack
from alertdrill.stack.render import profile_named
from alertdrill.verify.recorder import CoverageRecorder

REPORTS = Path("reports")
_outcome_key = pytest.StashKey[dict[str, pytest.TestReport]]()
# issue 4: each drill's detection-latency samples travel on its teardown report (a user
# property: it crosses from xdist workers to the controller as is).
_LATENCY_PROPERTY = "alertdrill_latency"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("alertdrill")
    group.addoption(
        "--stack",
        action="store",
        default="local",
        choices=BACKENDS,
        help="backend the scenarios run against: local processes, or containers (issue 7: "
        "needs a Docker engine, skipped without one)",
    )
    group.addoption(
        "--profile",
        action="store",
        default="fast",
        choices=("fast", "prod"),
        help="timing profile the monitoring configs are rendered for",
    )
    group.addoption(
        "--alertdrill-reports",
        action="store",
        default=str(REPORTS),
        help="directory for per-drill JSON reports",
    )
    # issue 6: e2e coverage for `alertdrill verify` (every alert, route, receiver, inhibition).
    group.addoption(
        "--alertdrill-coverage",
        action="store",
        default=str(REPORTS / "coverage.json"),
        help="coverage file drills record into, merged across tests ('' disables)",
    )


def pytest_configure(config: pytest.Config) -> None:
    # The table is the controller's (or the only process's); xdist workers only send samples.
    if not hasattr(config, "workerinput"):
        target = Path(config.getoption("--alertdrill-reports")) / "latency.json"
        config.pluginmanager.register(_LatencyReport(target), "alertdrill-latency")


class _LatencyReport:
    """issue 4: the end-of-run detection-latency table, in the terminal and as JSON."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.table = LatencyTable()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name == _LATENCY_PROPERTY and isinstance(value, str):
                self.table.add_json(value)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not len(self.table):
            return  # no drill ran (unit tests only): no table, and an older file stays
        terminalreporter.write_sep("=", "alertdrill detection latency")
        terminalreporter.write_line(self.table.render_text())
        terminalreporter.write_line(f"written to {self.table.write(self.target)}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    item.stash.setdefault(_outcome_key, {})[report.when] = report
    return report


@pytest.fixture(scope="session")
def alertdrill_stack(request: pytest.FixtureRequest) -> Iterator[DrillStack]:
    """The whole stack of the `--stack` backend, started once per session."""
    profile = profile_named(request.config.getoption("--profile"))
    try:
        stack = make_stack(request.config.getoption("--stack"), profile)
    except BackendUnavailable as error:
        pytest.skip(str(error))
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def drill_session(alertdrill_stack: DrillStack) -> Iterator[DrillSession]:
    session = DrillSession(alertdrill_stack)
    try:
        yield session
    finally:
        session.close()  # reverts leftover faults before the stack stops


@pytest.fixture
def drill(drill_session: DrillSession, request: pytest.FixtureRequest) -> Iterator[DrillSession]:
    """The session, reset for this test; reports the timeline when the test ends."""
    drill_session.begin(request.node.nodeid)
    coverage = _start_coverage(drill_session, request)
    yield drill_session
    if coverage is not None:
        coverage.finish(request.node.nodeid)
    reports = request.node.stash.get(_outcome_key, {})
    failed = any(r.failed for r in reports.values())
    report_dir = Path(request.config.getoption("--alertdrill-reports"))
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
    report_path = drill_session.write_report(
        report_dir / f"{safe}.json", outcome="failed" if failed else "passed"
    )
    if not failed:  # a failed drill's partial latencies would skew the medians
        found = samples(
            request.node.nodeid,
            drill_session.expect.timeline,
            drill_session.stack.rendered.floors(),
        )
        request.node.user_properties.append((_LATENCY_PROPERTY, samples_json(found)))
    if failed:
        timeline = drill_session.expect.timeline.render_text(drill_session.floors)
        logs = "\n".join(
            f"--- {name} (last lines) ---\n{text}"
            for name, text in drill_session.stack.logs(tail=15).items()
        )
        request.node.add_report_section("call", "alertdrill timeline", timeline)
        request.node.add_report_section("call", "alertdrill component logs", logs)
    try:
        # issue 8: the HTML page beside the JSON; allure attachments when --alluredir is given.
        alluredir = request.config.getoption("allure_report_dir", default=None)
        publish_drill_test(
            report_path,
            receivers=drill_session.receivers,
            logs=drill_session.stack.logs(tail=200) if failed and alluredir else None,
            alluredir=alluredir,
        )
    finally:
        # Faults a test left behind are reverted even if it forgot (the `with` block usually did).
        drill_session.revert_faults().raise_if_failed()


def _start_coverage(
    session: DrillSession, request: pytest.FixtureRequest
) -> CoverageRecorder | None:
    """issue 6: record what this drill exercises into the e2e coverage file (or nothing)."""
    target = str(request.config.getoption("--alertdrill-coverage"))
    return CoverageRecorder(session, Path(target)).start() if target else None


# Thin per-test views of the reset session, so a scenario can ask for exactly what it uses
# (`def test_x(stack, faults, expect)`), as in the architecture's example.


@pytest.fixture
def stack(drill: DrillSession) -> DrillStack:
    return drill.stack


@pytest.fixture
def expect(drill: DrillSession) -> Expect:
    return drill.expect


@pytest.fixture
def faults(drill: DrillSession) -> DrillSession:
    """Fault factories (`faults.error_rate()`, `faults.kill("service")`, ...), reverted after
    the test even if it forgot."""
    return drill


@pytest.fixture
def receivers(drill: DrillSession) -> ReceiverCapture:
    return drill.receivers


@pytest.fixture
def prometheus(drill: DrillSession) -> PrometheusClient:
    return drill.prometheus


@pytest.fixture
def alertmanager(drill: DrillSession) -> AlertmanagerClient:
    return drill.alertmanager


@pytest.fixture
def service(drill: DrillSession) -> ServiceClient:
    return drill.service
