"""The fault proxy's toxics, end to end on loopback: a thread-run proxy in front of an echo
server, each toxic checked by what a client sees (delays, hangs, resets, refusals, throughput)
and by coming back when the toxic goes. Control is through the proxy's Toxiproxy API."""

from __future__ import annotations

import asyncio
import errno
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from alertdrill.faults.proxy_server import ProxySpec, ProxyTable, serve
from alertdrill.timing import eventually

pytestmark = pytest.mark.unit

_IO_TIMEOUT = 5.0
# A round trip with no toxic: well under this even on a loaded 2-core runner.
FAST = 0.08


class _EchoHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(_IO_TIMEOUT)
        try:
            while data := sock.recv(65536):
                sock.sendall(data)
        except OSError:
            return


class _EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False


@pytest.fixture(name="echo")
def echo_fixture() -> Iterator[int]:
    server = _EchoServer(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@dataclass
class RunningProxy:
    api: str
    port: int
    """The ``echo`` proxy's listen port."""
    http: httpx.Client

    def toxic(self, type_: str, stream: str = "downstream", **attributes: int) -> str:
        response = self.http.post(
            "/proxies/echo/toxics",
            json={"type": type_, "stream": stream, "attributes": attributes},
        )
        assert response.status_code == 200, response.text
        return str(response.json()["name"])

    def remove(self, name: str) -> None:
        assert self.http.delete(f"/proxies/echo/toxics/{name}").status_code == 204

    def enabled(self, on: bool) -> None:
        assert self.http.post("/proxies/echo", json={"enabled": on}).status_code == 200

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=_IO_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


@pytest.fixture(name="proxy")
def proxy_fixture(echo: int) -> Iterator[RunningProxy]:
    """The proxy server (API + an ``echo`` proxy) on its own event loop thread."""
    started = threading.Event()
    box: dict[str, object] = {}

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        ready: asyncio.Future[tuple[int, ProxyTable]] = loop.create_future()
        box["stop"] = lambda: loop.call_soon_threadsafe(stop.set)
        task = loop.create_task(
            serve(
                "127.0.0.1:0",
                [ProxySpec("echo", "127.0.0.1:0", f"127.0.0.1:{echo}")],
                stop=stop,
                ready=ready,
            )
        )
        api_port, table = await ready
        box["api"], box["port"] = api_port, table.get("echo").listen_port
        started.set()
        await task

    thread = threading.Thread(target=asyncio.run, args=(main(),), name="fault-proxy-test")
    thread.start()
    assert started.wait(_IO_TIMEOUT), "proxy did not start"
    api = f"http://127.0.0.1:{box['api']}"
    with httpx.Client(base_url=api, timeout=_IO_TIMEOUT) as http:
        try:
            yield RunningProxy(api=api, port=int(str(box["port"])), http=http)
        finally:
            stop = box["stop"]
            assert callable(stop)
            stop()
            thread.join(_IO_TIMEOUT)
            assert not thread.is_alive()


def _round_trip(sock: socket.socket, payload: bytes = b"ping") -> float:
    start = time.monotonic()
    sock.sendall(payload)
    received = b""
    while len(received) < len(payload):
        chunk = sock.recv(65536)
        assert chunk, "connection closed"
        received += chunk
    assert received == payload
    return time.monotonic() - start


def _hangs(sock: socket.socket, wait: float = 0.3) -> bool:
    """True when nothing comes back within ``wait`` and the connection is still open."""
    sock.settimeout(wait)
    try:
        sock.sendall(b"anyone?")
        sock.recv(100)
    except TimeoutError:
        return True
    finally:
        sock.settimeout(_IO_TIMEOUT)
    return False


def _closed(sock: socket.socket) -> bool:
    """True when the peer closed or reset the connection (EOF, or an error reading)."""
    try:
        return sock.recv(100) == b""
    except ConnectionError:
        return True


# -- no toxic ----------------------------------------------------------------------


def test_bytes_pass_unchanged_both_ways(proxy: RunningProxy) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB: several chunks and back-pressure
    with proxy.connect() as sock:
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        received = bytearray()
        while len(received) < len(payload):
            chunk = sock.recv(1 << 16)
            assert chunk
            received += chunk
        sender.join(_IO_TIMEOUT)
    assert bytes(received) == payload


def test_half_close_passes_through(proxy: RunningProxy) -> None:
    with proxy.connect() as sock:
        sock.sendall(b"last words")
        sock.shutdown(socket.SHUT_WR)  # FIN: the echo server answers, then closes
        received = b""
        while chunk := sock.recv(100):
            received += chunk
    assert received == b"last words"


def test_unreachable_upstream_closes_the_client(proxy: RunningProxy) -> None:
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        dead = spare.getsockname()[1]  # nothing listens there
    created = proxy.http.post(
        "/proxies", json={"name": "dead", "upstream": f"127.0.0.1:{dead}"}
    ).json()
    port = int(created["listen"].rpartition(":")[2])
    with socket.create_connection(("127.0.0.1", port), timeout=_IO_TIMEOUT) as sock:
        assert _closed(sock)  # accepted, then closed: what Toxiproxy does too


# -- latency ---------------------------------------------------------------------------


def test_latency_delays_each_round_trip_and_removal_restores(proxy: RunningProxy) -> None:
    with proxy.connect() as sock:
        assert _round_trip(sock) < FAST
        name = proxy.toxic("latency", latency=120)
        delays = [_round_trip(sock) for _ in range(3)]
        assert all(0.115 <= d < 0.35 for d in delays), delays
        proxy.remove(name)
        assert _round_trip(sock) < FAST


def test_latency_jitter_spreads_around_the_latency(proxy: RunningProxy) -> None:
    proxy.toxic("latency", latency=60, jitter=40)
    with proxy.connect() as sock:
        delays = [_round_trip(sock) for _ in range(12)]
    assert all(0.015 <= d < 0.25 for d in delays), delays
    assert max(delays) - min(delays) > 0.01, delays  # jitter, not a constant


def test_removing_latency_releases_data_in_flight_at_once(proxy: RunningProxy) -> None:
    name = proxy.toxic("latency", latency=3000)
    with proxy.connect() as sock:
        sock.sendall(b"held")
        time.sleep(0.1)  # the echo is now queued in the proxy for 3 s
        start = time.monotonic()
        proxy.remove(name)
        assert sock.recv(100) == b"held"
        assert time.monotonic() - start < 0.5


# -- timeout (blackhole) -----------------------------------------------------------------


def test_blackhole_hangs_old_and_new_connections_and_revert_closes_held_ones(
    proxy: RunningProxy,
) -> None:
    with proxy.connect() as old:
        assert _round_trip(old) < FAST
        up = proxy.toxic("timeout", "upstream", timeout=0)
        down = proxy.toxic("timeout", "downstream", timeout=0)
        assert _hangs(old)
        with proxy.connect() as new:  # accepted by the kernel, then nothing
            assert _hangs(new)
            proxy.remove(up)
            proxy.remove(down)
            # Toxiproxy's cleanup: connections the toxic held are closed, not resumed.
            assert _closed(old)
            assert _closed(new)
    with proxy.connect() as fresh:
        assert _round_trip(fresh) < FAST


def test_timeout_closes_the_connection_after_that_long(proxy: RunningProxy) -> None:
    proxy.toxic("timeout", timeout=200)
    with proxy.connect() as sock:
        start = time.monotonic()
        sock.sendall(b"dropped")
        assert _closed(sock)
        assert 0.15 <= time.monotonic() - start < 1.0


# -- reset_peer -------------------------------------------------------------------------


def test_reset_peer_resets_on_next_data_and_revert_restores(proxy: RunningProxy) -> None:
    with proxy.connect() as old:
        assert _round_trip(old) < FAST
        name = proxy.toxic("reset_peer", "upstream", timeout=0)
        old.sendall(b"boom")
        with pytest.raises(ConnectionResetError):
            old.recv(100)
        with proxy.connect() as new:  # new connections: reset on their first message
            new.sendall(b"hello")
            with pytest.raises(ConnectionResetError):
                new.recv(100)
        proxy.remove(name)
    with proxy.connect() as fresh:
        assert _round_trip(fresh) < FAST


def test_reset_peer_waits_its_timeout(proxy: RunningProxy) -> None:
    proxy.toxic("reset_peer", "upstream", timeout=250)
    with proxy.connect() as sock:
        start = time.monotonic()
        sock.sendall(b"boom")
        with pytest.raises(ConnectionResetError):
            sock.recv(100)
        assert 0.2 <= time.monotonic() - start < 1.0


# -- bandwidth ----------------------------------------------------------------------------


def test_bandwidth_limits_throughput(proxy: RunningProxy) -> None:
    with proxy.connect() as sock:
        assert _round_trip(sock, b"x" * 100_000) < 0.2  # unlimited first
        proxy.toxic("bandwidth", rate=200)  # 200 KB/s
        elapsed = _round_trip(sock, b"x" * 100_000)
    assert 0.4 <= elapsed < 1.5, elapsed  # 100 KB at 200 KB/s = 0.5 s


# -- down (disabled proxy) ----------------------------------------------------------------


def test_down_refuses_and_closes_and_up_restores(proxy: RunningProxy) -> None:
    with proxy.connect() as old:
        assert _round_trip(old) < FAST
        proxy.enabled(False)
        assert _closed(old)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=_IO_TIMEOUT).close()
    proxy.enabled(True)
    with proxy.connect() as fresh:  # same port again
        assert _round_trip(fresh) < FAST


def test_toxicity_zero_spares_every_connection(proxy: RunningProxy) -> None:
    response = proxy.http.post(
        "/proxies/echo/toxics",
        json={"type": "timeout", "toxicity": 0.0, "attributes": {"timeout": 0}},
    )
    assert response.status_code == 200
    with proxy.connect() as sock:
        assert _round_trip(sock) < FAST


def test_reset_restores_everything(proxy: RunningProxy) -> None:
    proxy.toxic("timeout", timeout=0)
    proxy.enabled(False)
    assert proxy.http.post("/reset").status_code == 204
    eventually(lambda: proxy.http.get("/proxies/echo").json()["enabled"], within=2, what="enabled")
    assert proxy.http.get("/proxies/echo/toxics").json() == []
    with proxy.connect() as sock:
        assert _round_trip(sock) < FAST


def test_connect_refused_is_a_real_econnrefused(proxy: RunningProxy) -> None:
    proxy.enabled(False)
    with socket.socket() as sock:
        sock.settimeout(_IO_TIMEOUT)
        assert sock.connect_ex(("127.0.0.1", proxy.port)) == errno.ECONNREFUSED
