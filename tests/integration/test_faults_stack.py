"""The fault library on the whole local stack, through DrillSession's factories: the service
reaches PostgreSQL and Redis only through the fault proxy (exporters directly), and each new
fault is seen where the seed's alerts look. Nothing is left mounted after the stack stops."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from alertdrill.session import DrillSession
from alertdrill.stack.local import LocalStack
from alertdrill.timing import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _samples(text: str, name: str, **labels: str) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def _exporter(drill: DrillSession, name: str) -> str:
    url = str(getattr(drill.stack.component(name), "url"))  # noqa: B009 - exporters have one
    return httpx.get(f"{url}/metrics", timeout=10).text


def _ready(drill: DrillSession) -> int:
    return drill.service.health("/health/ready").status_code


@pytest.fixture(scope="module")
def drill() -> Iterator[DrillSession]:
    mounted: list[Path] = []
    with LocalStack() as stack:
        session = DrillSession(stack)
        if stack.drill_filesystem_skip_reason is None:
            mounted.append(stack.drill_filesystem.mountpoint)
        try:
            yield session
        finally:
            session.close()
    assert not any(os.path.ismount(m) for m in mounted), "drill filesystem left mounted"


@pytest.fixture(autouse=True)
def _clean(drill: DrillSession) -> Iterator[None]:
    yield
    drill.revert_faults().raise_if_failed()
    eventually(lambda: _ready(drill) == 200, within=20, what="service ready again")


def test_only_the_service_goes_through_the_proxy(drill: DrillSession) -> None:
    stack = drill.stack
    assert stack.fault_proxy.address("postgres") in stack.service.database_url
    assert stack.fault_proxy.address("redis") in stack.service.redis_url
    with drill.outage("postgres").injected():
        eventually(lambda: _ready(drill) == 503, within=10, what="service not ready")
        # postgres_exporter talks to PostgreSQL directly: a cut path is not a database down.
        assert _samples(_exporter(drill, "postgres-exporter"), "pg_up") == 1


def test_network_fault_factories_add_and_remove_their_toxics(drill: DrillSession) -> None:
    proxy = drill.fault_proxy
    already = len(drill.journal)
    faults = [
        drill.dependency_latency("postgres", latency_ms=50, jitter_ms=10),
        drill.blackhole("redis"),
        drill.reset_peer("postgres"),
        drill.bandwidth("redis", kbps=100),
    ]
    for fault in faults:
        with fault.injected():
            assert proxy.proxy(fault.proxy.name).toxics
        assert not proxy.proxy(fault.proxy.name).toxics
    actions = [e.action for e in drill.journal.events()[already:]]
    assert actions == ["inject", "revert"] * len(faults)
    # revert_faults() also clears what no fault object knows about (Toxiproxy's reset).
    proxy.add_toxic("redis", "timeout", {"timeout": 0})
    drill.revert_faults()
    assert not proxy.proxy("redis").toxics


def test_restarting_the_proxy_keeps_its_ports(drill: DrillSession) -> None:
    before = drill.stack.fault_proxy.pid
    with drill.restart("fault-proxy").injected():
        assert drill.stack.fault_proxy.pid != before
    eventually(lambda: _ready(drill) == 200, within=20, what="service back through the proxy")


def test_db_connections_reach_postgres_exporter(drill: DrillSession) -> None:
    with drill.db_connections().injected():
        total = _samples(_exporter(drill, "postgres-exporter"), "pg_stat_activity_count")
        assert total > 90
    eventually(
        lambda: _samples(_exporter(drill, "postgres-exporter"), "pg_stat_activity_count") < 80,
        within=10,
        what="connections gone",
    )


def test_disk_fill_on_the_stack_drill_filesystem(drill: DrillSession) -> None:
    reason = drill.stack.drill_filesystem_skip_reason
    if reason is not None:
        pytest.skip(reason)
    labels = {"mountpoint": str(drill.stack.drill_filesystem.mountpoint), "fstype": "ext4"}

    def ratio() -> float:
        text = _exporter(drill, "node-exporter")
        size = _samples(text, "node_filesystem_size_bytes", **labels)
        return _samples(text, "node_filesystem_avail_bytes", **labels) / size

    with drill.disk_fill().injected():
        assert ratio() < 0.10
    assert ratio() > 0.9


def test_traffic_factories_are_sized_against_the_rules(drill: DrillSession) -> None:
    storm = drill.auth_storm()
    assert storm.rate > 0.5 and storm.email == drill.stack.credentials.superuser_email
    spike = drill.request_spike()  # baseline measured from Prometheus: idle -> the floor x 1.5
    assert spike.rate >= 15.0
