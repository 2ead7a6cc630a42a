"""Faults on the container backend, each observed the way a client or an exporter sees it:
kill, stop, pause (the process faults, on containers), network disconnect, packet drop with
iptables in the container's namespace, bandwidth limit with tbf.

Skipped with the reason when no engine answers; the namespace faults need root.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
import redis

from alertdrill.errors import FaultError
from alertdrill.faults import KillProcess, PauseProcess, RestartProcess, StopProcess
from alertdrill.faults.container import (
    BandwidthLimit,
    ContainerFaults,
    NetworkDisconnect,
    PacketDrop,
)
from alertdrill.session import DrillSession
from alertdrill.stack.containers import ContainerStack
from alertdrill.stack.containers_component import ContainerComponent
from alertdrill.stack.containers_engine import engine_unavailable_reason
from alertdrill.timing import eventually

pytestmark = [pytest.mark.integration, pytest.mark.containers, pytest.mark.chaos, pytest.mark.slow]

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="nsenter/iptables/tc need root")


@pytest.fixture(scope="module")
def stack() -> Iterator[ContainerStack]:
    reason = engine_unavailable_reason()
    if reason is not None:
        pytest.skip(f"no Docker engine: {reason} (scripts/start-dockerd.sh starts one)")
    with ContainerStack() as running:
        yield running


def _redis(stack: ContainerStack, timeout: float = 1.0) -> redis.Redis:
    component = stack.redis
    return redis.Redis(
        host=component.host,
        port=component.port,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
    )


def _pings(stack: ContainerStack) -> bool:
    try:
        with _redis(stack) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False


def _redis_up(stack: ContainerStack) -> float | None:
    """redis_up as redis_exporter reports it now (None: the exporter itself is unreachable)."""
    try:
        text = httpx.get(f"{stack.container('redis-exporter').url}/metrics", timeout=5.0).text
    except httpx.HTTPError:
        return None
    for line in text.splitlines():
        if line.startswith("redis_up "):
            return float(line.split()[1])
    return None


def test_kill_then_revert_brings_redis_back(stack: ContainerStack) -> None:
    component = stack.component("redis")
    pid = component.pid
    with KillProcess(component).injected():
        assert not component.is_running()
        assert not _pings(stack)
    assert _pings(stack)
    assert component.pid not in (None, pid)


def test_stop_keeps_data_and_ports(stack: ContainerStack) -> None:
    with _redis(stack) as client:
        client.set("kept", "yes")
    port = stack.redis.port
    with StopProcess(stack.component("redis")).injected():
        assert not _pings(stack)
    with _redis(stack) as client:
        # redis-server runs without persistence here, so a stop loses the keys; the port and
        # the container (and its volume) are the same.
        assert stack.redis.port == port
        assert client.ping()


def test_restart_keeps_postgres_data(stack: ContainerStack) -> None:
    import psycopg

    with psycopg.connect(stack.postgres.url, autocommit=True, connect_timeout=5) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS restart_marker (x int)")
        conn.execute("INSERT INTO restart_marker VALUES (1)")
    with RestartProcess(stack.component("postgres")).injected():
        pass
    with psycopg.connect(stack.postgres.url, connect_timeout=5) as conn:
        assert conn.execute("SELECT count(*) FROM restart_marker").fetchone() == (1,)


def test_pause_hangs_clients_then_resume(stack: ContainerStack) -> None:
    component = stack.component("redis")
    with PauseProcess(component).injected():
        assert component.is_running()  # frozen, not gone
        with _redis(stack, timeout=0.5) as client, pytest.raises(redis.TimeoutError):
            client.ping()
    assert _pings(stack)


def test_disconnect_cuts_the_exporter_and_reconnect_restores(stack: ContainerStack) -> None:
    component = stack.container("redis")
    with NetworkDisconnect(component).injected():
        eventually(lambda: _redis_up(stack) == 0.0, within=15, what="redis_up 0")
        assert not component.is_connected()
    assert component.is_connected()
    eventually(lambda: _redis_up(stack) == 1.0, within=15, what="redis_up 1")
    eventually(lambda: _pings(stack), within=15, what="published port back")


@needs_root
def test_packet_drop_between_two_containers(stack: ContainerStack) -> None:
    redis_container = stack.container("redis")
    exporter = stack.container("redis-exporter")
    with PacketDrop(redis_container, peer=exporter).injected():
        eventually(lambda: _redis_up(stack) == 0.0, within=15, what="redis_up 0")
        # Only that peer: the harness (through the published port) still gets answers.
        assert _pings(stack)
    eventually(lambda: _redis_up(stack) == 1.0, within=15, what="redis_up 1")


@needs_root
def test_packet_drop_from_every_peer_hangs_the_harness_too(stack: ContainerStack) -> None:
    with PacketDrop(stack.container("redis")).injected():
        assert not _pings(stack)
    assert _pings(stack)


def _fetch_seconds(component: ContainerComponent, size: int) -> float:
    """Seconds to read ``size`` bytes of a value from Redis through the published port."""
    with socket.create_connection((component.host, component.port), timeout=30) as conn:
        started = time.monotonic()
        conn.sendall(b"GET big\r\n")
        received = 0
        while received < size:
            chunk = conn.recv(65536)
            if not chunk:
                break
            received += len(chunk)
        return time.monotonic() - started


@needs_root
def test_bandwidth_limit_slows_what_the_container_sends(stack: ContainerStack) -> None:
    size = 256 * 1024
    with _redis(stack) as client:
        client.set("big", b"x" * size)
    component = stack.container("redis")
    assert _fetch_seconds(component, size) < 1.0
    # 1024 kbit/s = 128 KB/s: 256 KB take about 2 s.
    with BandwidthLimit(component, kbit=1024).injected():
        assert _fetch_seconds(component, size) > 1.2
    assert _fetch_seconds(component, size) < 1.0


def test_session_factories_register_container_faults(stack: ContainerStack) -> None:
    session = DrillSession(stack)
    try:
        faults = ContainerFaults(session)
        fault = faults.disconnect("redis-exporter")
        fault.inject()
        assert session.registry.active() == (fault,)
        report = session.registry.revert_all()
        assert report.ok and stack.container("redis-exporter").is_connected()
    finally:
        session.close()


def test_fault_on_a_stopped_container_is_refused(stack: ContainerStack) -> None:
    component = stack.container("node-exporter")
    component.stop()
    try:
        with pytest.raises(FaultError, match="not running"):
            NetworkDisconnect(component).inject()
    finally:
        component.start()
