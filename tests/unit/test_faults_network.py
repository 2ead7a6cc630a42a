"""Network faults (DependencyLatency, Blackhole, ResetPeer, Bandwidth, Outage) through the typed
Toxiproxy client against the thread-run fault proxy: the toxics they add, their effect on a
connection, their journal, and reverts that tolerate a proxy that already forgot them."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from alertdrill.clients import ApiError
from alertdrill.errors import FaultError
from alertdrill.faults import (
    Bandwidth,
    Blackhole,
    DependencyLatency,
    FaultJournal,
    FaultRegistry,
    Outage,
    ProxyHandle,
    ResetPeer,
    ToxiproxyClient,
)

# The fixtures `echo` and `proxy` (registered under those names when imported).
from tests.unit.test_faults_proxy import RunningProxy, echo_fixture, proxy_fixture  # noqa: F401

pytestmark = pytest.mark.unit


@pytest.fixture
def client(proxy: RunningProxy) -> Iterator[ToxiproxyClient]:
    with ToxiproxyClient(proxy.api) as client:
        yield client


@pytest.fixture
def handle(client: ToxiproxyClient) -> ProxyHandle:
    return client.handle("echo")


def _rtt(proxy: RunningProxy) -> float:
    with proxy.connect() as sock:
        start = time.monotonic()
        sock.sendall(b"ping")
        assert sock.recv(10) == b"ping"
        return time.monotonic() - start


def test_client_reads_proxies_and_toxics(client: ToxiproxyClient, proxy: RunningProxy) -> None:
    (info,) = client.proxies().values()
    assert info.name == "echo" and info.enabled and info.listen_port == proxy.port
    toxic = client.add_toxic("echo", "latency", {"latency": 5}, stream="upstream")
    assert (toxic.name, toxic.type, toxic.stream) == ("latency_upstream", "latency", "upstream")
    assert toxic.attributes == {"latency": 5.0, "jitter": 0.0}
    assert client.toxics("echo") == (toxic,)
    assert client.remove_toxic("echo", toxic.name) is True
    assert client.remove_toxic("echo", toxic.name) is False  # already gone: not an error
    assert "Toxiproxy" in client.version()
    with pytest.raises(ApiError) as missing:
        client.proxy("nope")
    assert missing.value.status_code == 404


def test_dependency_latency(handle: ProxyHandle, proxy: RunningProxy) -> None:
    journal = FaultJournal()
    fault = DependencyLatency(handle, 150, 20, journal=journal)
    with fault.injected():
        (toxic,) = handle.info().toxics
        assert toxic.type == "latency" and toxic.stream == "downstream"
        assert toxic.attributes == {"latency": 150.0, "jitter": 20.0}
        assert 0.13 <= _rtt(proxy) < 0.5
    assert handle.info().toxics == ()
    assert _rtt(proxy) < 0.08
    assert [e.action for e in journal.events()] == ["inject", "revert"]
    assert "150 ms ± 20 ms added to echo" in journal.events()[0].detail


def test_blackhole_adds_both_streams_and_removes_both(
    handle: ProxyHandle, proxy: RunningProxy
) -> None:
    with Blackhole(handle).injected():
        toxics = handle.info().toxics
        assert {(t.type, t.stream) for t in toxics} == {
            ("timeout", "upstream"),
            ("timeout", "downstream"),
        }
        with proxy.connect() as sock:
            sock.settimeout(0.3)
            sock.sendall(b"hello?")
            with pytest.raises(TimeoutError):
                sock.recv(10)
    assert handle.info().toxics == ()
    assert _rtt(proxy) < 0.08


def test_reset_peer_and_bandwidth_toxics(handle: ProxyHandle, proxy: RunningProxy) -> None:
    with ResetPeer(handle).injected():
        (toxic,) = handle.info().toxics
        assert (toxic.type, toxic.stream, toxic.attributes) == (
            "reset_peer",
            "upstream",
            {"timeout": 0.0},
        )
        with proxy.connect() as sock:
            sock.sendall(b"x")
            with pytest.raises(ConnectionResetError):
                sock.recv(10)
    with Bandwidth(handle, 50).injected():
        (toxic,) = handle.info().toxics
        assert (toxic.type, toxic.attributes) == ("bandwidth", {"rate": 50.0})
    assert handle.info().toxics == ()


def test_outage_disables_and_revert_reenables(handle: ProxyHandle, proxy: RunningProxy) -> None:
    fault = Outage(handle)
    with fault.injected():
        assert handle.info().enabled is False
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", proxy.port), timeout=2).close()
        with pytest.raises(FaultError, match="disabled"):
            Outage(handle).inject()  # a second outage on a disabled proxy: refused up front
    assert handle.info().enabled is True
    assert _rtt(proxy) < 0.08


def test_revert_tolerates_a_proxy_that_forgot_the_toxic(
    handle: ProxyHandle, client: ToxiproxyClient
) -> None:
    journal = FaultJournal()
    registry = FaultRegistry()
    fault = Blackhole(handle, journal=journal, registry=registry)
    fault.inject()
    client.reset()  # e.g. the proxy restarted: its toxics are gone
    fault.revert()
    assert not fault.is_injected and len(registry) == 0
    assert "already gone" in journal.events()[-1].detail


def test_overlapping_faults_get_their_own_toxics(handle: ProxyHandle) -> None:
    first, second = DependencyLatency(handle, 10), DependencyLatency(handle, 20)
    with first.injected(), second.injected():
        assert len(handle.info().toxics) == 2
    assert handle.info().toxics == ()


def test_unknown_proxy_fails_before_changing_anything(client: ToxiproxyClient) -> None:
    registry = FaultRegistry()
    with pytest.raises(FaultError, match="no proxy named 'nope'"):
        DependencyLatency(client.handle("nope"), 10, registry=registry).inject()
    assert len(registry) == 0


@pytest.mark.parametrize(
    "build",
    [
        lambda h: DependencyLatency(h, -1),
        lambda h: DependencyLatency(h, 10, 61_000),
        lambda h: DependencyLatency(h, 10, stream="both"),
        lambda h: Bandwidth(h, 0),
        lambda h: ResetPeer(h, timeout_ms=-5),
    ],
)
def test_out_of_bounds_parameters_are_refused(handle: ProxyHandle, build: object) -> None:
    assert callable(build)
    with pytest.raises(ValueError, match="must be"):
        build(handle)
