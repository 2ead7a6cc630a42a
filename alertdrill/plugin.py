"""pytest plugin (entry point `alertdrill`): the `--stack` option and the drill fixtures.

The stack is expensive, so it starts once per session, only when a test asks for it, and is
torn down by a session finalizer whatever happens (leftover faults are reverted first).
Each test gets the same session reset (`drill` fixture): faults reverted, every alert
resolved, receivers cleared, a fresh timeline. On failure the timeline and the components'
log tails are printed, and every drill test writes a JSON report under `reports/`.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from alertdrill.clients import AlertmanagerClient, PrometheusClient, ServiceClient
from alertdrill.expect import Expect
from alertdrill.receivers import Receivers
from alertdrill.session import DrillSession
from alertdrill.stack.local import LocalStack
from alertdrill.stack.render import profile_named
from alertdrill.verify.recorder import CoverageRecorder

REPORTS = Path("reports")
_outcome_key = pytest.StashKey[dict[str, pytest.TestReport]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("alertdrill")
    group.addoption(
        "--stack",
        action="store",
        default="local",
        choices=("local",),
        help="backend the scenarios run against (containers/external arrive with their issues)",
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


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    item.stash.setdefault(_outcome_key, {})[report.when] = report
    return report


@pytest.fixture(scope="session")
def alertdrill_stack(request: pytest.FixtureRequest) -> Iterator[LocalStack]:
    """The whole local stack, started once per session."""
    stack = LocalStack(profile=profile_named(request.config.getoption("--profile")))
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def drill_session(alertdrill_stack: LocalStack) -> Iterator[DrillSession]:
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
    drill_session.write_report(
        report_dir / f"{safe}.json", outcome="failed" if failed else "passed"
    )
    if failed:
        timeline = drill_session.expect.timeline.render_text(drill_session.floors)
        logs = "\n".join(
            f"--- {name} (last lines) ---\n{text}"
            for name, text in drill_session.stack.logs(tail=15).items()
        )
        request.node.add_report_section("call", "alertdrill timeline", timeline)
        request.node.add_report_section("call", "alertdrill component logs", logs)
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
def stack(drill: DrillSession) -> LocalStack:
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
def receivers(drill: DrillSession) -> Receivers:
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
