"""Metrics accuracy under load: over a load window, the service's http_requests_total and
Prometheus' stored copy of it grew by exactly what Locust sent, per endpoint and in total
(within 1 %), and Locust's failures are the service's 5xx (http_requests_total and
errors_total) — with an error fault making some of them fail. Once with one Locust process,
once with a master and two workers (the master's aggregated counts must be as exact)."""

from __future__ import annotations

from pathlib import Path

import pytest

from alertdrill.load import LoadTarget
from alertdrill.load.accuracy import (
    MACHINE_TRAFFIC,
    CounterSnapshot,
    compare,
    matches,
    prometheus_increase,
    prometheus_snapshot,
    scrape_service,
)
from alertdrill.report.timeline import NOTE
from alertdrill.session import DrillSession
from alertdrill.timing import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.chaos, pytest.mark.load]

TOLERANCE = 0.01
ITEMS = "/api/tenants/{tenant_id}/items"
# Long enough for several hundred requests, short enough for the 2-core budget.
SECONDS = 10


@pytest.fixture(scope="module")
def load(drill_session: DrillSession, pytestconfig: pytest.Config) -> LoadTarget:
    reports = Path(pytestconfig.getoption("--alertdrill-reports")) / "load"
    target = LoadTarget.of_stack(drill_session.stack, artifacts=reports)
    target.provision()
    return target


def _settled(drill: DrillSession) -> tuple[CounterSnapshot, CounterSnapshot]:
    """The service's counters and Prometheus' copy once they agree: no load is running, so
    agreement means Prometheus has scraped the value the service has now."""

    def both() -> tuple[CounterSnapshot, CounterSnapshot] | None:
        service = scrape_service(drill.stack.service.url)
        stored = prometheus_snapshot(drill.prometheus)
        return (service, stored) if matches(service, stored) else None

    return eventually(both, within=15, every=0.25, what="Prometheus to hold the service's counters")


@pytest.mark.parametrize("workers", [0, 2], ids=["one-process", "master-2-workers"])
def test_prometheus_counts_exactly_what_locust_sent(
    drill: DrillSession, load: LoadTarget, workers: int, request: pytest.FixtureRequest
) -> None:
    plan = load.plan(users=20, duration=SECONDS, think_time=0.2, workers=workers)
    with drill.error_rate(routes=[ITEMS], probability=0.3).injected():
        service_before, prometheus_before = _settled(drill)
        started = drill.expect.timeline.now()
        result = load.run(plan, f"accuracy-{workers}-workers")
        service_after, prometheus_after = _settled(drill)
        window = drill.expect.timeline.now() - started
        extrapolated = prometheus_increase(drill.prometheus, window)

    report = compare(result, (service_before, service_after), (prometheus_before, prometheus_after))
    increase_total = sum(v for k, v in extrapolated.items() if k not in MACHINE_TRAFFIC)
    summary = (
        f"{report.render()}\n\nworst relative difference: {100 * report.worst_error():.3f} %\n"
        f"Prometheus increase() over the same {window:.1f}s (extrapolated): "
        f"{increase_total:.1f} vs {report.total.locust_requests} sent"
    )
    request.node.add_report_section("call", "metrics accuracy", summary)
    drill.expect.timeline.mark(
        NOTE,
        "metrics accuracy",
        worst_error=round(report.worst_error(), 5),
        requests=report.total.locust_requests,
        failures=report.total.locust_failures,
    )

    assert report.total.locust_requests == result.total.requests, summary
    assert result.total.requests >= 200, summary
    assert result.total.failures > 0, "the error fault made nothing fail: " + summary
    assert report.within(TOLERANCE), summary
    assert report.failures_match(), summary
