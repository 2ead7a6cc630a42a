"""The fault proxy (``alertdrill.faults.proxy_server``) as a stack component: its own process.

Why a process of its own rather than a thread of the harness: the proxy is in the path of every
query the service makes. In the harness's interpreter it would share the GIL with receivers,
traffic drivers, watchdogs and polling loops, and a thread waiting for the GIL waits up to the
5 ms switch interval: that noise would land in ``database_query_duration_seconds`` whenever the
harness is busy. As a process it is also a ``Component`` like any other (logs, pid; killing it
is a network partition), and it is driven only through Toxiproxy's HTTP API, so the proxy
faults are Toxiproxy clients and work unchanged against a real Toxiproxy.

The proxy's listeners have fixed ports (chosen by the stack before anything starts), so a
restart after a kill brings them back where the service expects them. ``--parent-pid`` makes
the proxy exit when the harness is gone, however it died.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from alertdrill.errors import StackError
from alertdrill.faults.proxy_client import ProxyHandle, ToxiproxyClient
from alertdrill.stack.components.server import LocalServer
from alertdrill.stack.ports import LOCALHOST
from alertdrill.stack.process import ManagedProcess

__all__ = ["FaultProxyComponent", "ProxyRoute"]


@dataclass(frozen=True)
class ProxyRoute:
    """Proxy ``name``: ``127.0.0.1:listen_port`` forwards to ``upstream`` (``host:port``)."""

    name: str
    listen_port: int
    upstream: str

    @property
    def listen(self) -> str:
        return f"{LOCALHOST}:{self.listen_port}"


class FaultProxyComponent(LocalServer):
    """One proxy process with a listener per route and Toxiproxy's API on ``port``."""

    package = "python3"

    def __init__(
        self,
        routes: Sequence[ProxyRoute],
        *,
        name: str = "fault-proxy",
        port: int | None = None,
        base_dir: Path | None = None,
        ready_timeout: float = 15.0,
        stop_grace: float = 5.0,
    ) -> None:
        super().__init__(
            name=name,
            port=port,
            base_dir=base_dir,
            ready_timeout=ready_timeout,
            stop_grace=stop_grace,
        )
        names = [route.name for route in routes]
        if len(set(names)) != len(names):
            raise ValueError(f"proxy names must be unique: {names}")
        self.routes = tuple(routes)

    @property
    def url(self) -> str:
        """The Toxiproxy API."""
        return f"http://{self.host}:{self.port}"

    def route(self, name: str) -> ProxyRoute:
        for route in self.routes:
            if route.name == name:
                return route
        known = ", ".join(r.name for r in self.routes)
        raise StackError(f"no proxy named {name!r} (known: {known})", component=self.name)

    def address(self, name: str) -> str:
        """``127.0.0.1:port`` a client of dependency ``name`` connects to."""
        return self.route(name).listen

    def client(self, *, timeout: float = 5.0) -> ToxiproxyClient:
        """A new API client; the caller closes it."""
        return ToxiproxyClient(self.url, timeout=timeout)

    def handle(self, name: str, client: ToxiproxyClient) -> ProxyHandle:
        self.route(name)  # fail here, naming the known proxies, rather than with a 404 later
        return client.handle(name)

    def _build_process(self, run_dir: Path, port: int) -> ManagedProcess:
        args = ["-m", "alertdrill.faults.proxy_server", "--api", f"{self.host}:{port}"]
        args += ["--parent-pid", str(os.getpid())]
        for route in self.routes:
            args += ["--proxy", f"{route.name}={route.listen}={route.upstream}"]
        return ManagedProcess(
            self.name,
            sys.executable,
            args,
            package=self.package,
            log_path=run_dir / "fault-proxy.log",
            cwd=run_dir,
            env={"PYTHONUNBUFFERED": "1"},
            stop_grace=self.stop_grace,
        )

    def _ready(self) -> bool:
        response = httpx.get(f"{self.url}/proxies", timeout=1.0)
        if response.status_code != 200:
            return False
        proxies = response.json()
        return all(proxies.get(r.name, {}).get("enabled") is True for r in self.routes)

    def _hint(self) -> str:
        ports = ", ".join(f"{r.name} {r.listen}" for r in self.routes)
        return f"the fault proxy did not serve its API on {self.host}:{self._port} ({ports})"
