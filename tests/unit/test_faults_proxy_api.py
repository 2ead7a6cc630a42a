"""The fault proxy speaks Toxiproxy's HTTP API: plain httpx calls in Toxiproxy's JSON shapes,
status codes and error bodies, as an existing Toxiproxy client would send them."""

from __future__ import annotations

import socket

import httpx
import pytest

# The fixtures `echo` and `proxy` (registered under those names when imported).
from tests.unit.test_faults_proxy import RunningProxy, echo_fixture, proxy_fixture  # noqa: F401

pytestmark = pytest.mark.unit


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status
    return str(body["error"])


def test_create_list_show_delete_proxy(proxy: RunningProxy) -> None:
    http = proxy.http
    created = http.post(
        "/proxies", json={"name": "pg", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:5432"}
    )
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "pg" and body["upstream"] == "127.0.0.1:5432"
    assert body["enabled"] is True and body["toxics"] == []
    host, _, port = body["listen"].rpartition(":")
    assert host == "127.0.0.1" and int(port) > 0  # port 0 became a real port

    listing = http.get("/proxies").json()
    assert set(listing) == {"echo", "pg"}
    assert listing["pg"] == http.get("/proxies/pg").json() == body

    assert http.delete("/proxies/pg").status_code == 204
    assert _error(http.get("/proxies/pg"), 404) == "proxy not found"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(port)), timeout=2).close()


def test_proxy_errors(proxy: RunningProxy) -> None:
    http = proxy.http
    assert _error(http.post("/proxies", json={"name": "echo", "upstream": "x:1"}), 409) == (
        "proxy already exists"
    )
    assert "upstream" in _error(http.post("/proxies", json={"name": "x"}), 400)
    assert "name" in _error(http.post("/proxies", json={"upstream": "127.0.0.1:1"}), 400)
    # Loopback only: the harness never exposes a relay to other machines.
    assert "loopback" in _error(
        http.post("/proxies", json={"name": "x", "listen": "0.0.0.0:0", "upstream": "a:1"}), 400
    )
    assert _error(http.put("/proxies/echo", json={}), 405)
    assert _error(http.get("/nothing"), 404)
    assert "JSON" in _error(http.post("/proxies", content=b"{nope"), 400)


def test_toxic_defaults_and_shape(proxy: RunningProxy) -> None:
    http = proxy.http
    created = http.post("/proxies/echo/toxics", json={"type": "latency"})
    assert created.status_code == 200  # Toxiproxy answers 200 here, not 201
    assert created.json() == {
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1.0,
        "attributes": {"latency": 0, "jitter": 0},
    }
    assert http.get("/proxies/echo/toxics").json() == [created.json()]
    assert http.get("/proxies/echo").json()["toxics"] == [created.json()]
    assert http.get("/proxies/echo/toxics/latency_downstream").json() == created.json()
    assert _error(http.post("/proxies/echo/toxics", json={"type": "latency"}), 409) == (
        "toxic already exists"
    )


def test_toxic_update_merges_attributes(proxy: RunningProxy) -> None:
    http = proxy.http
    http.post(
        "/proxies/echo/toxics",
        json={"name": "slow", "type": "latency", "attributes": {"latency": 10, "jitter": 5}},
    )
    patched = http.patch("/proxies/echo/toxics/slow", json={"attributes": {"latency": 50}})
    assert patched.status_code == 200
    assert patched.json()["attributes"] == {"latency": 50, "jitter": 5}
    posted = http.post("/proxies/echo/toxics/slow", json={"toxicity": 0.5})
    assert posted.json()["toxicity"] == 0.5
    assert posted.json()["attributes"] == {"latency": 50, "jitter": 5}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "slicer"}, "invalid toxic type"),
        ({"type": "latency", "stream": "sideways"}, "stream was invalid"),
        ({"type": "latency", "attributes": {"latancy": 5}}, "unknown attribute"),
        ({"type": "bandwidth", "attributes": {"rate": -1}}, "rate"),
        ({"type": "timeout", "attributes": {"timeout": "soon"}}, "must be a number"),
        ({"type": "latency", "toxicity": 2}, "toxicity"),
        (["not", "an", "object"], "bad request body"),
    ],
)
def test_toxic_validation(proxy: RunningProxy, body: object, message: str) -> None:
    assert message in _error(proxy.http.post("/proxies/echo/toxics", json=body), 400)


def test_toxic_not_found(proxy: RunningProxy) -> None:
    http = proxy.http
    assert _error(http.get("/proxies/echo/toxics/none"), 404) == "toxic not found"
    assert _error(http.delete("/proxies/echo/toxics/none"), 404) == "toxic not found"
    assert _error(http.post("/proxies/nope/toxics", json={"type": "latency"}), 404) == (
        "proxy not found"
    )


def test_reset_and_version(proxy: RunningProxy) -> None:
    http = proxy.http
    http.post("/proxies/echo/toxics", json={"type": "timeout"})
    http.post("/proxies/echo", json={"enabled": False})
    assert http.post("/reset").status_code == 204
    echo_proxy = http.get("/proxies/echo").json()
    assert echo_proxy["enabled"] is True and echo_proxy["toxics"] == []
    assert "Toxiproxy" in http.get("/version").json()["version"]


def test_populate_creates_keeps_and_replaces(proxy: RunningProxy) -> None:
    http = proxy.http
    before = http.get("/proxies/echo").json()
    response = http.post(
        "/populate",
        json=[
            {"name": "echo", "listen": before["listen"], "upstream": before["upstream"]},
            {"name": "new", "upstream": "127.0.0.1:9"},
        ],
    )
    assert response.status_code == 201
    names = [p["name"] for p in response.json()["proxies"]]
    assert names == ["echo", "new"]
    assert http.get("/proxies/echo").json() == before  # same addresses: left alone
    moved = http.post("/populate", json=[{"name": "new", "upstream": "127.0.0.1:10"}])
    assert moved.json()["proxies"][0]["upstream"] == "127.0.0.1:10"


def test_browser_user_agents_are_refused(proxy: RunningProxy) -> None:
    response = proxy.http.post("/reset", headers={"User-Agent": "Mozilla/5.0 (X11)"})
    assert _error(response, 403) == "User agent not allowed"


def test_listen_any_admits_non_loopback_listeners_only_when_asked() -> None:
    """--listen-any (the container backend's entry point) lifts the loopback rule; by default
    it holds, for creation and for moving a proxy alike."""
    import asyncio

    from alertdrill.faults.proxy_server import ProxyTable, ToxicError

    async def scenario() -> tuple[str, str]:
        strict, relaxed = ProxyTable(), ProxyTable(loopback_only=False)
        with pytest.raises(ToxicError, match="loopback"):
            await strict.create("x", "0.0.0.0:0", "127.0.0.1:1", enabled=False)
        created = await relaxed.create("x", "0.0.0.0:0", "127.0.0.1:1", enabled=False)
        kept = await strict.create("y", "127.0.0.1:0", "127.0.0.1:1", enabled=False)
        with pytest.raises(ToxicError, match="loopback"):
            await strict.update(kept, {"listen": "0.0.0.0:0"})
        strict.close()
        relaxed.close()
        return created.listen, kept.listen

    relaxed_listen, strict_listen = asyncio.run(scenario())
    assert relaxed_listen.startswith("0.0.0.0:")
    assert strict_listen.startswith("127.0.0.1:")
