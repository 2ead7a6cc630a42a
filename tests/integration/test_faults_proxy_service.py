"""The fault proxy process between the real service and real PostgreSQL/Redis: the service works
through it, each network fault shows where an on-call engineer would look (readiness, query
duration), and comes back. Also measures what the proxy costs a query with no toxic."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from alertdrill.faults import (
    Blackhole,
    DependencyLatency,
    FaultJournal,
    FaultRegistry,
    Outage,
    ResetPeer,
    ToxiproxyClient,
)
from alertdrill.stack.components import PostgresComponent, RedisComponent
from alertdrill.stack.components.fault_proxy import FaultProxyComponent, ProxyRoute
from alertdrill.stack.components.service import ServiceComponent
from alertdrill.stack.ports import free_port, release_port
from alertdrill.timing import eventually

pytestmark = pytest.mark.integration

DATABASE = "faults_proxy_service"


@dataclass(frozen=True)
class Proxied:
    proxy: FaultProxyComponent
    client: ToxiproxyClient
    service: ServiceComponent
    registry: FaultRegistry
    journal: FaultJournal

    def ready(self) -> int:
        return httpx.get(f"{self.service.url}/health/ready", timeout=10).status_code

    def metric(self, name: str) -> float:
        text = httpx.get(f"{self.service.url}/metrics", timeout=5).text
        return sum(
            s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == name
        )

    def login_fails(self) -> None:
        response = httpx.post(
            f"{self.service.url}/api/auth/login",
            json={"email": "nobody@example.test", "password": "wrong"},
            timeout=10,
        )
        assert response.status_code == 401, response.text


@pytest.fixture(scope="module")
def proxied(postgres: PostgresComponent, redis: RedisComponent) -> Iterator[Proxied]:
    postgres.drop_database(DATABASE)
    postgres.create_database(DATABASE)
    ports = [free_port(), free_port()]
    routes = (
        ProxyRoute("postgres", ports[0], f"127.0.0.1:{postgres.port}"),
        ProxyRoute("redis", ports[1], f"127.0.0.1:{redis.port}"),
    )
    registry = FaultRegistry()
    try:
        with (
            FaultProxyComponent(routes) as proxy,
            proxy.client() as client,
            ServiceComponent(
                database_url=f"postgresql://postgres@{proxy.address('postgres')}/{DATABASE}",
                redis_url=f"redis://{proxy.address('redis')}/0",
            ) as service,
        ):
            yield Proxied(proxy, client, service, registry, FaultJournal())
            report = registry.revert_all()
            assert report.reverted == ()  # every test reverted its own faults
    finally:
        for port in ports:
            release_port(port)
        postgres.drop_database(DATABASE)


@pytest.fixture
def stack(proxied: Proxied) -> Iterator[Proxied]:
    """The module's service, ready, with no toxic left from an earlier test."""
    proxied.client.reset()
    eventually(lambda: proxied.ready() == 200, within=20, what="service ready")
    yield proxied
    proxied.client.reset()


def test_service_works_through_the_proxy(stack: Proxied) -> None:
    assert stack.ready() == 200
    proxies = stack.client.proxies()
    assert set(proxies) == {"postgres", "redis"}
    assert all(p.enabled and not p.toxics for p in proxies.values())
    assert httpx.get(f"{stack.service.url}/api/status", timeout=5).status_code == 200


def test_latency_raises_database_query_duration(stack: Proxied) -> None:
    def mean_query_seconds(logins: int) -> float:
        total, count = (
            stack.metric("database_query_duration_seconds_sum"),
            stack.metric("database_query_duration_seconds_count"),
        )
        for _ in range(logins):
            stack.login_fails()  # one SELECT each (unknown user)
        added = stack.metric("database_query_duration_seconds_count") - count
        return (stack.metric("database_query_duration_seconds_sum") - total) / added

    assert mean_query_seconds(5) < 0.05
    handle = stack.proxy.handle("postgres", stack.client)
    with DependencyLatency(handle, 300, registry=stack.registry).injected():
        slow = mean_query_seconds(3)
    assert 0.3 <= slow < 0.6, slow
    assert mean_query_seconds(5) < 0.05


def test_outage_makes_the_service_unready_until_reverted(
    stack: Proxied, postgres: PostgresComponent
) -> None:
    journal = stack.journal
    handle = stack.proxy.handle("postgres", stack.client)
    with Outage(handle, registry=stack.registry, journal=journal).injected():
        eventually(lambda: stack.ready() == 503, within=10, what="not ready")
        # PostgreSQL itself is fine: only the service's path to it is cut.
        with psycopg.connect(postgres.url, connect_timeout=2) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    eventually(lambda: stack.ready() == 200, within=20, what="ready again")
    assert [e.action for e in journal.events("outage:postgres")][-2:] == ["inject", "revert"]


def test_blackholed_redis_times_out_readiness(stack: Proxied) -> None:
    handle = stack.proxy.handle("redis", stack.client)
    with Blackhole(handle, registry=stack.registry).injected():
        start = time.monotonic()
        eventually(lambda: stack.ready() == 503, within=15, what="not ready")
        assert time.monotonic() - start < 10  # a bounded check, not a hung probe
    eventually(lambda: stack.ready() == 200, within=20, what="ready again")


def test_reset_peer_breaks_database_connections(stack: Proxied) -> None:
    handle = stack.proxy.handle("postgres", stack.client)
    with ResetPeer(handle, registry=stack.registry).injected():
        eventually(lambda: stack.ready() == 503, within=10, what="not ready")
    eventually(lambda: stack.ready() == 200, within=20, what="ready again")


def test_proxy_overhead_per_query_is_well_under_a_millisecond(
    proxied: Proxied, postgres: PostgresComponent
) -> None:
    """Median of SELECT 1 round trips, direct vs through the proxy (no toxic), interleaved in
    rounds so machine noise hits both alike."""
    proxied.client.reset()
    through = f"postgresql://postgres@{proxied.proxy.address('postgres')}/postgres"
    with (
        psycopg.connect(postgres.url, autocommit=True) as direct_conn,
        psycopg.connect(through, autocommit=True) as proxy_conn,
    ):
        samples: dict[str, list[float]] = {"direct": [], "proxy": []}
        for _ in range(10):
            for name, conn in (("direct", direct_conn), ("proxy", proxy_conn)):
                for _ in range(200):
                    start = time.perf_counter()
                    conn.execute("SELECT 1").fetchone()
                    samples[name].append(time.perf_counter() - start)
    direct, proxy = (statistics.median(samples[k]) for k in ("direct", "proxy"))
    mean_added = statistics.fmean(samples["proxy"]) - statistics.fmean(samples["direct"])
    print(
        f"\nSELECT 1 median: direct {direct * 1e6:.0f} us, proxy {proxy * 1e6:.0f} us "
        f"(+{(proxy - direct) * 1e6:.0f} us median, +{mean_added * 1e6:.0f} us mean)"
    )
    assert proxy - direct < 0.0005


def test_proxy_process_exits_when_the_harness_dies(tmp_path: Path) -> None:
    """A harness killed outright (SIGKILL: no finally, no atexit) must not leave the proxy in
    front of the databases: it watches its parent and exits."""
    script = (
        "import sys\n"
        "from alertdrill.stack.components.fault_proxy import FaultProxyComponent, ProxyRoute\n"
        "from alertdrill.stack.ports import free_port\n"
        # Its run dir under the test's tmp_path: the harness dies before it could remove it.
        "from pathlib import Path\n"
        "proxy = FaultProxyComponent([ProxyRoute('x', free_port(), '127.0.0.1:9')],"
        " base_dir=Path.cwd())\n"
        "proxy.start()\n"
        "print(proxy.pid, flush=True)\n"
        "sys.stdin.read()\n"
    )
    harness = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert harness.stdout is not None
        pid = int(harness.stdout.readline())
        assert Path(f"/proc/{pid}").exists()
        harness.kill()
        harness.wait(10)
        eventually(lambda: not _alive(pid), within=5, what="the orphaned proxy to exit")
    finally:
        if harness.poll() is None:
            harness.kill()
            harness.wait(10)
        for stream in (harness.stdin, harness.stdout):
            if stream is not None:
                stream.close()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"  # a zombie has exited (its parent, init, reaps it)
