"""A drill only the container backend can run: the service's container drops off the network.

Nothing crashes: the process runs, but neither Prometheus' scrape nor blackbox_exporter's
probe reaches it, so both legs of ServiceDown fail; on-call is paged through the critical
route; once the container is back on the network (same aliases) everything resolves.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from alertdrill.faults.container import ContainerFaults
from alertdrill.session import DrillSession
from alertdrill.stack.containers import ContainerStack
from alertdrill.stack.containers_engine import engine_unavailable_reason
from alertdrill.stack.local import PAGERDUTY_ROUTING_KEY

pytestmark = [
    pytest.mark.integration,
    pytest.mark.containers,
    pytest.mark.e2e,
    pytest.mark.chaos,
    pytest.mark.slow,
]

CRITICAL = frozenset(
    {"slack:#alerts-critical", f"pagerduty:{PAGERDUTY_ROUTING_KEY}", "webhook:incident"}
)


@pytest.fixture(scope="module")
def session() -> Iterator[DrillSession]:
    reason = engine_unavailable_reason()
    if reason is not None:
        pytest.skip(f"no Docker engine: {reason} (scripts/start-dockerd.sh starts one)")
    with ContainerStack() as stack:
        drill = DrillSession(stack)
        try:
            yield drill
        finally:
            drill.close()


def test_service_off_the_network_pages_on_call_and_recovers(session: DrillSession) -> None:
    session.begin("service off the network")
    expect = session.expect
    service = ContainerFaults(session).disconnect("service")
    with service.injected():
        expect.alert("ServiceDown").firing(within="floor")
        expect.notified(CRITICAL, alert="ServiceDown", within="floor")
        expect.pagerduty("ServiceDown").triggered()
    expect.alert("ServiceDown").resolved(within="floor")
    expect.pagerduty("ServiceDown").resolved(same_dedup_key=True)
    expect.http(session.stack.service, "/health/ready").status(200, within="30s")
