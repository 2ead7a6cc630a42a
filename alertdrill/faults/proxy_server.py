"""The fault proxy process: TCP proxies plus the part of Toxiproxy's HTTP API that drives them.

    python -m alertdrill.faults.proxy_server --api 127.0.0.1:8474 \\
        --proxy postgres=127.0.0.1:0=127.0.0.1:5432 --proxy redis=...

Endpoints, JSON shapes and status codes follow Toxiproxy 2.x, so its clients work unchanged:
``GET/POST /proxies``, ``POST /populate``, ``GET/POST/PATCH/DELETE /proxies/{proxy}``,
``GET/POST /proxies/{proxy}/toxics``, ``GET/POST/PATCH/DELETE /proxies/{proxy}/toxics/{toxic}``,
``POST /reset``, ``GET /version``. Not served: ``/metrics`` and the toxics this proxy lacks
(slicer, slow_close, limit_data: 400 "invalid toxic type"). Like Toxiproxy, requests from a
browser user agent are refused, so a web page cannot drive the API of a local proxy.

Listeners bind loopback addresses only (the harness sends traffic to 127.0.0.1 and nowhere
else), except with ``--listen-any``, which only the container backend passes: inside a
container loopback is the container's own, and the run's private bridge network is what
isolates the proxy (its API is published on the host's 127.0.0.1 only).

Runs until SIGTERM/SIGINT or, with ``--parent-pid``, until that process is gone, so a
harness killed outright does not leave a proxy in front of its databases.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from alertdrill.faults.proxy_engine import Proxy
from alertdrill.faults.toxics import Toxic, ToxicError, parse_toxic, update_toxic

__all__ = ["VERSION", "ProxySpec", "ProxyTable", "ToxiproxyApi", "main", "parse_address", "serve"]

log = logging.getLogger("alertdrill.fault-proxy")

VERSION = "alertdrill-fault-proxy 1 (Toxiproxy 2.x API subset)"
_LOOPBACK = ("127.", "localhost", "::1")
_MAX_HEAD = 64 * 1024
_MAX_BODY = 1 << 20
# An idle API connection is dropped after this long (clients reconnect on their own).
_IDLE_TIMEOUT = 60.0
_REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 403: "Forbidden"}
_REASONS |= {404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 500: "Server Error"}


def parse_address(text: str, *, loopback: bool = False) -> tuple[str, int]:
    """``host:port`` (``[::1]:port`` for IPv6) -> (host, port); ``loopback`` refuses others."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ToxicError(f"not a host:port address: {text!r}")
    if loopback and not host.startswith(_LOOPBACK):
        raise ToxicError(f"listen address must be on loopback (127.0.0.1), got {text!r}")
    return host, int(port)


@dataclass(frozen=True)
class ProxySpec:
    """A proxy to create at start-up: ``name=listen=upstream`` on the command line."""

    name: str
    listen: str
    upstream: str

    @classmethod
    def parse(cls, text: str) -> ProxySpec:
        parts = text.split("=")
        if len(parts) != 3 or not all(parts):
            raise argparse.ArgumentTypeError(f"expected name=listen=upstream, got {text!r}")
        return cls(*parts)


def proxy_json(proxy: Proxy) -> dict[str, object]:
    return {
        "name": proxy.name,
        "listen": proxy.listen,
        "upstream": proxy.upstream,
        "enabled": proxy.enabled,
        "toxics": [toxic.to_json() for toxic in proxy.toxics()],
    }


class ProxyTable:
    """Every proxy by name, and the operations the API offers on them."""

    def __init__(self, *, loopback_only: bool = True) -> None:
        self.proxies: dict[str, Proxy] = {}
        # False only inside a container (--listen-any), where loopback is the container's own.
        self.loopback_only = loopback_only

    def get(self, name: str) -> Proxy:
        proxy = self.proxies.get(name)
        if proxy is None:
            raise ToxicError("proxy not found", 404)
        return proxy

    async def create(self, name: str, listen: str, upstream: str, *, enabled: bool) -> Proxy:
        if name in self.proxies:
            raise ToxicError("proxy already exists", 409)
        proxy = Proxy(
            name,
            listen=parse_address(listen, loopback=self.loopback_only),
            upstream=parse_address(upstream),
        )
        if enabled:
            await _enable(proxy)
        self.proxies[name] = proxy
        return proxy

    async def update(self, proxy: Proxy, body: dict[str, object]) -> None:
        listen = _text(body.get("listen", proxy.listen), "listen")
        upstream = _text(body.get("upstream", proxy.upstream), "upstream")
        enabled = body.get("enabled", proxy.enabled)
        if not isinstance(enabled, bool):
            raise ToxicError("bad request body: enabled must be true or false")
        if (listen, upstream) != (proxy.listen, proxy.upstream):
            # As in Toxiproxy: a new address restarts the proxy and drops its connections.
            new_listen = parse_address(listen, loopback=self.loopback_only)
            new_upstream = parse_address(upstream)
            proxy.disable()
            proxy.listen_host, proxy.listen_port = new_listen
            proxy.upstream_host, proxy.upstream_port = new_upstream
        if enabled:
            await _enable(proxy)
        else:
            proxy.disable()

    def delete(self, name: str) -> None:
        self.get(name).disable()
        del self.proxies[name]

    async def reset(self) -> None:
        """Toxiproxy's ``/reset``: every proxy enabled, every toxic removed."""
        for proxy in self.proxies.values():
            await _enable(proxy)
            proxy.remove_all_toxics()

    async def populate(self, body: object) -> list[Proxy]:
        """Create or replace proxies; one with the same listen and upstream is left alone."""
        if not isinstance(body, list):
            raise ToxicError("bad request body: expected a list of proxies")
        result: list[Proxy] = []
        for item in body:
            if not isinstance(item, dict):
                raise ToxicError("bad request body: expected a list of proxies")
            name, listen, upstream, enabled = _proxy_fields(item)
            existing = self.proxies.get(name)
            if existing is not None and (existing.listen, existing.upstream) == (listen, upstream):
                result.append(existing)
                continue
            if existing is not None:
                self.delete(name)
            result.append(await self.create(name, listen, upstream, enabled=enabled))
        return result

    def close(self) -> None:
        for proxy in self.proxies.values():
            proxy.disable()


async def _enable(proxy: Proxy) -> None:
    try:
        await proxy.enable()
    except OSError as error:
        raise ToxicError(f"could not listen on {proxy.listen}: {error}", 500) from error


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise ToxicError(f"missing required field: {field}")
    return value


def _proxy_fields(body: dict[str, object]) -> tuple[str, str, str, bool]:
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ToxicError("bad request body: enabled must be true or false")
    listen = body.get("listen") or "127.0.0.1:0"
    return (
        _text(body.get("name"), "name"),
        _text(listen, "listen"),
        _text(body.get("upstream"), "upstream"),
        enabled,
    )


class ToxiproxyApi:
    """A deliberately small HTTP/1.1 server (keep-alive, Content-Length bodies only) on the
    same event loop as the proxies, so API calls and data never need a lock."""

    def __init__(self, table: ProxyTable) -> None:
        self.table = table

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except ValueError:
            pass  # an unparseable Content-Length: nothing sensible to answer, drop the client
        except TimeoutError:
            pass  # idle keep-alive connection
        finally:
            writer.close()

    async def _one_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _IDLE_TIMEOUT)
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ")
        except ValueError:
            await _respond(writer, 400, {"error": "bad request line", "status": 400}, False)
            return False
        headers = {}
        for line in lines[1:]:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        if "transfer-encoding" in headers:
            await _respond(writer, 400, {"error": "chunked bodies are not supported"}, False)
            return False
        length = int(headers.get("content-length", "0") or "0")
        if not 0 <= length <= _MAX_BODY:
            await _respond(writer, 400, {"error": "body too large", "status": 400}, False)
            return False
        body = await asyncio.wait_for(reader.readexactly(length), _IDLE_TIMEOUT) if length else b""
        status: int
        payload: object
        if headers.get("user-agent", "").startswith("Mozilla/"):
            status, payload = 403, {"error": "User agent not allowed", "status": 403}
        else:
            status, payload = await self.dispatch(method, urlsplit(target).path, body)
        await _respond(writer, status, payload, keep_alive)
        return keep_alive

    async def dispatch(self, method: str, path: str, raw: bytes) -> tuple[int, object]:
        """(status, JSON payload) for one request; errors in Toxiproxy's ``{error, status}``."""
        try:
            body: object = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return 400, {"error": "bad request body: not JSON", "status": 400}
        parts = [unquote(p) for p in path.strip("/").split("/")] if path.strip("/") else []
        try:
            return await self._route(method, parts, body)
        except ToxicError as error:
            message = error.message
            return error.status, {"error": message, "status": error.status}

    async def _route(self, method: str, parts: list[str], body: object) -> tuple[int, object]:
        table = self.table
        match parts, method:
            case ["version"], "GET":
                return 200, {"version": VERSION}
            case ["reset"], "POST":
                await table.reset()
                return 204, None
            case ["proxies"], "GET":
                return 200, {name: proxy_json(p) for name, p in table.proxies.items()}
            case ["proxies"], "POST":
                name, listen, upstream, enabled = _proxy_fields(_object(body))
                proxy = await table.create(name, listen, upstream, enabled=enabled)
                return 201, proxy_json(proxy)
            case ["populate"], "POST":
                proxies = await table.populate(body)
                return 201, {"proxies": [proxy_json(p) for p in proxies]}
            case ["proxies", name], "GET":
                return 200, proxy_json(table.get(name))
            case ["proxies", name], "POST" | "PATCH":
                proxy = table.get(name)
                await table.update(proxy, _object(body))
                return 200, proxy_json(proxy)
            case ["proxies", name], "DELETE":
                table.delete(name)
                return 204, None
            case ["proxies", name, "toxics"], "GET":
                return 200, [t.to_json() for t in table.get(name).toxics()]
            case ["proxies", name, "toxics"], "POST":
                proxy = table.get(name)
                toxic = parse_toxic(body)
                proxy.add_toxic(toxic)
                return 200, toxic.to_json()  # 200, not 201: as Toxiproxy answers
            case ["proxies", name, "toxics", toxic_name], "GET":
                return 200, _toxic(table.get(name), toxic_name).to_json()
            case ["proxies", name, "toxics", toxic_name], "POST" | "PATCH":
                proxy = table.get(name)
                updated = update_toxic(_toxic(proxy, toxic_name), body)
                proxy.update_toxic(updated)
                return 200, updated.to_json()
            case ["proxies", name, "toxics", toxic_name], "DELETE":
                table.get(name).remove_toxic(toxic_name)
                return 204, None
            case ((["version"] | ["reset"] | ["proxies", *_] | ["populate"]), _):
                return 405, {"error": f"method {method} not allowed", "status": 405}
        return 404, {"error": "not found", "status": 404}


def _object(body: object) -> dict[str, object]:
    if not isinstance(body, dict):
        raise ToxicError("bad request body: expected a JSON object")
    return body


def _toxic(proxy: Proxy, name: str) -> Toxic:
    toxic = proxy.toxic(name)
    if toxic is None:
        raise ToxicError("toxic not found", 404)
    return toxic


async def _respond(
    writer: asyncio.StreamWriter, status: int, payload: object, keep_alive: bool
) -> None:
    body = b"" if status == 204 or payload is None else json.dumps(payload).encode() + b"\n"
    head = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
        f"Content-Length: {len(body)}",
        f"Connection: {'keep-alive' if keep_alive else 'close'}",
    ]
    if body:
        head.append("Content-Type: application/json")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
    await writer.drain()


async def serve(
    api: str,
    specs: Sequence[ProxySpec],
    *,
    stop: asyncio.Event,
    ready: asyncio.Future[tuple[int, ProxyTable]] | None = None,
    loopback_only: bool = True,
) -> None:
    """Create the proxies, serve the API on ``api`` until ``stop`` is set, then close all."""
    table = ProxyTable(loopback_only=loopback_only)
    server: asyncio.Server | None = None
    try:
        for spec in specs:
            await table.create(spec.name, spec.listen, spec.upstream, enabled=True)
        host, port = parse_address(api, loopback=loopback_only)
        server = await asyncio.start_server(
            ToxiproxyApi(table).handle, host, port, reuse_address=True, limit=_MAX_HEAD
        )
        api_port = int(server.sockets[0].getsockname()[1])
        if ready is not None:
            ready.set_result((api_port, table))
        await stop.wait()
    except BaseException as error:
        if ready is not None and not ready.done():
            ready.set_exception(error)
        raise
    finally:
        table.close()
        if server is not None:
            server.close()


async def _watch_parent(parent: int, stop: asyncio.Event) -> None:
    # When the parent dies we are re-parented; polling is the portable way to notice.
    while not stop.is_set():
        if os.getppid() != parent:
            log.warning("parent %d is gone: exiting", parent)
            stop.set()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


async def _main(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    ready: asyncio.Future[tuple[int, ProxyTable]] = loop.create_future()
    watcher = (
        None if args.parent_pid is None else loop.create_task(_watch_parent(args.parent_pid, stop))
    )
    serving = loop.create_task(
        serve(args.api, args.proxy, stop=stop, ready=ready, loopback_only=not args.listen_any)
    )
    try:
        api_port, table = await ready
    except BaseException:
        with contextlib.suppress(BaseException):
            await serving  # the same error; retrieved here so asyncio does not warn about it
        raise
    for proxy in table.proxies.values():
        log.info("proxy %s: %s -> %s", proxy.name, proxy.listen, proxy.upstream)
    log.info("API on http://%s:%d", parse_address(args.api)[0], api_port)
    await serving
    if watcher is not None:
        watcher.cancel()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alertdrill.faults.proxy_server")
    parser.add_argument("--api", default="127.0.0.1:8474", help="host:port of the HTTP API")
    parser.add_argument("--proxy", type=ProxySpec.parse, action="append", default=[])
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when it is gone")
    parser.add_argument(
        "--listen-any",
        action="store_true",
        help="allow listeners off loopback: only for a container on a private network, whose "
        "loopback the service in another container cannot reach (the host harness never "
        "passes it: there the proxy must answer on 127.0.0.1 only)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(levelname)s %(message)s"
    )
    try:
        asyncio.run(_main(args))
    except ToxicError as error:
        log.error("%s", error.message)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
