"""Network faults between the service and a dependency, applied by the fault proxy in between.

Each fault is one or two Toxiproxy toxics (or a disabled proxy), added through the Toxiproxy
API, so the same faults drive a real Toxiproxy. What the service sees, per fault:

- ``DependencyLatency``: every response from the dependency arrives ``latency_ms`` ± ``jitter_ms``
  later (a ``latency`` toxic on the downstream stream: one delay per round trip).
- ``Blackhole``: connections hang; data both ways is dropped, new connections are accepted and
  hang too (``timeout`` toxics, both streams). Revert closes the connections that were held,
  as Toxiproxy does: their byte streams lost data, so the client must reconnect.
- ``ResetPeer``: the next data a client sends gets both ends reset (RST: "connection reset by
  peer"); new connections are reset on their first message.
- ``Bandwidth``: the link is limited to ``kbps`` KB/s (1 KB = 1000 bytes, Toxiproxy's unit).
- ``Outage``: the proxy stops listening and closes every connection: the dependency is gone
  for the service (connection refused), while it still runs and its exporter still reaches it.

Revert removes exactly the toxics the fault added (a toxic already gone, e.g. after the proxy
restarted, counts as removed) or re-enables the proxy.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

from alertdrill.clients._http import ApiError
from alertdrill.errors import FaultError
from alertdrill.faults.base import DEFAULT_MAX_DURATION, BaseFault, FaultJournal, FaultRegistry
from alertdrill.faults.proxy_client import ProxyHandle, ProxyInfo

__all__ = ["Bandwidth", "Blackhole", "DependencyLatency", "Outage", "ResetPeer"]

#: Upper bound of an injected delay: longer is an outage, and should be one.
MAX_LATENCY_MS = 60_000
_serial = itertools.count(1)


class _ProxyFault(BaseFault):
    kind = ""

    def __init__(
        self,
        proxy: ProxyHandle,
        *,
        max_duration: float = DEFAULT_MAX_DURATION,
        journal: FaultJournal | None = None,
        registry: FaultRegistry | None = None,
    ) -> None:
        super().__init__(
            f"{self.kind}:{proxy.name}",
            max_duration=max_duration,
            journal=journal,
            registry=registry,
        )
        self.proxy = proxy

    def _info(self) -> ProxyInfo:
        try:
            return self.proxy.info()
        except ApiError as error:
            if error.status_code == 404:
                raise FaultError(f"{self.name}: no proxy named {self.proxy.name!r}") from error
            raise

    def _precheck(self) -> None:
        if not self._info().enabled:
            raise FaultError(f"{self.name}: proxy {self.proxy.name} is disabled (an outage?)")


class _ToxicFault(_ProxyFault):
    """Adds one toxic per (type, stream, attributes) in ``_toxics()``; revert removes them."""

    def __init__(
        self,
        proxy: ProxyHandle,
        *,
        max_duration: float = DEFAULT_MAX_DURATION,
        journal: FaultJournal | None = None,
        registry: FaultRegistry | None = None,
    ) -> None:
        super().__init__(proxy, max_duration=max_duration, journal=journal, registry=registry)
        self._added: list[str] = []

    def _toxics(self) -> list[tuple[str, str, Mapping[str, int]]]:
        raise NotImplementedError

    def _inject(self) -> str:
        serial = next(_serial)  # unique names: two faults of one kind on one proxy may overlap
        for toxic_type, stream, attributes in self._toxics():
            name = f"alertdrill-{self.kind}-{serial}-{stream}"
            self.proxy.client.add_toxic(
                self.proxy.name, toxic_type, attributes, name=name, stream=stream
            )
            self._added.append(name)  # as soon as it exists: a failed next one reverts it
        return f"toxics {', '.join(self._added)} on {self.proxy.name}"

    def _revert(self) -> str:
        removed: list[str] = []
        while self._added:
            name = self._added[-1]
            present = self.proxy.client.remove_toxic(self.proxy.name, name)
            removed.append(name if present else f"{name} (already gone)")
            self._added.pop()
        return f"removed {', '.join(removed) or 'nothing'}"


def _check_ms(value: int, what: str, *, maximum: int = MAX_LATENCY_MS) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise ValueError(f"{what} must be an integer number of ms in 0..{maximum}, got {value!r}")
    return value


def _check_stream(stream: str) -> str:
    if stream not in ("upstream", "downstream"):
        raise ValueError(f"stream must be 'upstream' or 'downstream', got {stream!r}")
    return stream


class DependencyLatency(_ToxicFault):
    kind = "dependency-latency"

    def __init__(
        self,
        proxy: ProxyHandle,
        latency_ms: int,
        jitter_ms: int = 0,
        *,
        stream: str = "downstream",
        max_duration: float = DEFAULT_MAX_DURATION,
        journal: FaultJournal | None = None,
        registry: FaultRegistry | None = None,
    ) -> None:
        super().__init__(proxy, max_duration=max_duration, journal=journal, registry=registry)
        self.latency_ms = _check_ms(latency_ms, "latency_ms")
        self.jitter_ms = _check_ms(jitter_ms, "jitter_ms")
        self.stream = _check_stream(stream)

    def describe(self) -> str:
        jitter = f" ± {self.jitter_ms} ms" if self.jitter_ms else ""
        return (
            f"{self.latency_ms} ms{jitter} added to {self.proxy.name} ({self.stream}) "
            f"for at most {self.max_duration:g}s"
        )

    def _toxics(self) -> list[tuple[str, str, Mapping[str, int]]]:
        return [("latency", self.stream, {"latency": self.latency_ms, "jitter": self.jitter_ms})]


class Blackhole(_ToxicFault):
    kind = "blackhole"

    def __init__(
        self,
        proxy: ProxyHandle,
        *,
        timeout_ms: int = 0,
        max_duration: float = DEFAULT_MAX_DURATION,
        journal: FaultJournal | None = None,
        registry: FaultRegistry | None = None,
    ) -> None:
        super().__init__(proxy, max_duration=max_duration, journal=journal, registry=registry)
        # 0: hang until reverted; else Toxiproxy closes a connection after that long idle.
        self.timeout_ms = _check_ms(timeout_ms, "timeout_ms", maximum=86_400_000)

    def describe(self) -> str:
        closes = f", closed after {self.timeout_ms} ms" if self.timeout_ms else ""
        return (
            f"{self.proxy.name} blackholed (connections hang{closes}) "
            f"for at most {self.max_duration:g}s"
        )

    def _toxics(self) -> list[tuple[str, str, Mapping[str, int]]]:
        # Both streams: a request that still reached the database would still run there.
        return [
            ("timeout", stream, {"timeout": self.timeout_ms})
            for stream in ("upstream", "downstream")
        ]


class ResetPeer(_ToxicFault):
    kind = "reset-peer"

    def __init__(
        self,
        proxy: ProxyHandle,
        *,
        timeout_ms: int = 0,
        stream: str = "upstream",
        max_duration: float = DEFAULT_MAX_DURATION,
        journal: FaultJournal | None = None,
        registry: FaultRegistry | None = None,
    ) -> None:
        super().__init__(proxy, max_duration=max_duration, journal=journal, registry=registry)
        self.timeout_ms = _check_ms(timeout_ms, "timeout_ms")
        # Upstream by default: PostgreSQL and Redis clients speak first, so the reset comes
        # on the client's next request, new connections included.
        self.stream = _check_stream(stream)

    def describe(self) -> str:
        return (
            f"connections to {self.proxy.name} reset (RST) on their next {self.stream} data"
            f"{f' after {self.timeout_ms} ms' if self.timeout_ms else ''}, "
            f"for at most {self.max_duration:g}s"
        )

    def _toxics(self) -> list[tuple[str, str, Mapping[str, int]]]:
        return [("reset_peer", self.stream, {"timeout": self.timeout_ms})]


class Bandwidth(_ToxicFault):
    kind = "bandwidth"

    def __init__(
        self,
        proxy: ProxyHandle,
        kbps: int,
        *,
        stream: str = "downstream",
        max_duration: float = DEFAULT_MAX_DURATION,
        journal: FaultJournal | None = None,
        registry: FaultRegistry | None = None,
    ) -> None:
        super().__init__(proxy, max_duration=max_duration, journal=journal, registry=registry)
        if isinstance(kbps, bool) or not isinstance(kbps, int) or kbps < 1:
            raise ValueError(f"kbps (KB/s) must be a positive integer, got {kbps!r}")
        self.kbps = kbps
        self.stream = _check_stream(stream)

    def describe(self) -> str:
        return (
            f"{self.proxy.name} limited to {self.kbps} KB/s ({self.stream}) "
            f"for at most {self.max_duration:g}s"
        )

    def _toxics(self) -> list[tuple[str, str, Mapping[str, int]]]:
        return [("bandwidth", self.stream, {"rate": self.kbps})]


class Outage(_ProxyFault):
    """The proxy is disabled: listener closed (connections refused), open connections closed."""

    kind = "outage"

    def describe(self) -> str:
        return (
            f"{self.proxy.name} unreachable from the service (proxy down) "
            f"for at most {self.max_duration:g}s"
        )

    def _inject(self) -> str:
        self.proxy.client.set_enabled(self.proxy.name, False)
        return f"proxy {self.proxy.name} disabled"

    def _revert(self) -> str:
        info = self.proxy.client.set_enabled(self.proxy.name, True)
        return f"proxy {self.proxy.name} listening again on {info.listen}"
