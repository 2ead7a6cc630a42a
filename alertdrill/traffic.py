"""A small built-in traffic driver: steady, light, bounded request streams for drills.

Alerts on rates need traffic: "errors per second" is zero without requests. This driver sends
requests from one background thread at a fixed rate, bounded in time (``max_duration``) and
count (``max_requests``), and counts every outcome exactly, so a test can compare its own counts
with the service's counters. Heavy load is Locust's job (in a subprocess), not this one's.

Pacing is deadline-based: request *i* is due at ``start + i / rate``, and the thread waits on a
``threading.Event`` until that moment. The schedule, not the previous response, sets the pace,
so response times below the interval do not lower the rate; and ``stop()`` sets the event, so
the thread wakes at once instead of finishing a sleep. When the service is slower than the
interval the driver does not burst to catch up (a burst is a different experiment): it
re-anchors the schedule and the rate drops to what one sequential client gets.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import httpx

from alertdrill.lifecycle import StartStopContext

__all__ = ["DEFAULT_PATHS", "RequestFactory", "TrafficDriver", "TrafficRequest", "TrafficStats"]

#: Served without authentication and counted by the service's metrics middleware:
#: the public status page (touches PostgreSQL and Redis) and the shallow health check.
#: ``/health`` is exempt from service faults; ``/api/status`` is not.
DEFAULT_PATHS: tuple[str, ...] = ("/api/status", "/health")


@dataclass(frozen=True)
class TrafficRequest:
    """One request the driver sends; ``body`` is sent as JSON when not None."""

    path: str
    method: str = "GET"
    body: object = None
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


#: Builds request number ``i`` (0-based): for mixes, authenticated calls, request bodies.
RequestFactory = Callable[[int], TrafficRequest]


@dataclass(frozen=True)
class TrafficStats:
    """What the driver did: ``sent`` = responses (by status) + ``errors`` (no response)."""

    sent: int
    by_status: Mapping[int, int]
    errors: int
    """Requests that got no response: refused, reset, timed out."""
    elapsed: float
    """Seconds from start() to the last request (or to now, while running)."""
    last_error: str = ""

    @property
    def responses(self) -> int:
        return sum(self.by_status.values())

    def count(self, predicate: Callable[[int], bool]) -> int:
        """Responses whose status satisfies ``predicate``, e.g. ``lambda s: s >= 500``."""
        return sum(n for status, n in self.by_status.items() if predicate(status))

    @property
    def rate(self) -> float:
        """Requests per second actually sent."""
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0


class TrafficDriver(StartStopContext):
    """Requests to ``base_url`` at ``rate_per_second`` for at most ``max_duration`` seconds."""

    def __init__(
        self,
        base_url: str,
        *,
        rate_per_second: float,
        max_duration: float,
        paths: Sequence[str] | RequestFactory = DEFAULT_PATHS,
        max_requests: int | None = None,
        headers: Mapping[str, str] | None = None,
        token: str | None = None,
        timeout: float = 2.0,
    ) -> None:
        """``paths`` are used round-robin, or ``paths`` is a factory of requests.

        ``token`` adds ``Authorization: Bearer <token>`` to every request (authenticated paths);
        ``headers`` are added to every request too. ``timeout`` bounds each request.
        """
        if not (rate_per_second > 0 and math.isfinite(rate_per_second)):
            raise ValueError(f"rate_per_second must be positive, got {rate_per_second}")
        if not (max_duration > 0 and math.isfinite(max_duration)):
            raise ValueError(f"max_duration must be positive seconds, got {max_duration}")
        if max_requests is not None and max_requests < 0:
            raise ValueError(f"max_requests must be >= 0, got {max_requests}")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        if isinstance(paths, str):
            raise TypeError("paths is a sequence of paths (or a factory), not one string")
        if not callable(paths) and not paths:
            raise ValueError("paths must not be empty")
        self.base_url = base_url.rstrip("/")
        self.rate_per_second = float(rate_per_second)
        self.max_duration = float(max_duration)
        self.max_requests = max_requests
        self.timeout = timeout
        self._factory: RequestFactory = paths if callable(paths) else _round_robin(tuple(paths))
        self._headers = dict(headers or {})
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._by_status: Counter[int] = Counter()
        self._errors = 0
        self._last_error = ""
        self._started_at: float | None = None
        self._ended_at: float | None = None
        self._thread: threading.Thread | None = None

    # -- control -------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("a TrafficDriver runs once; create a new one")
        self._started_at = time.monotonic()
        self._thread = threading.Thread(
            target=self._run,
            name=f"traffic-{self.base_url}",
            # Daemon: a driver forgotten by a crashed test must not keep pytest alive;
            # it stops on its own at max_duration anyway.
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> TrafficStats:
        """Stop now (the pacing wait wakes at once; an in-flight request finishes or times
        out) and return the final stats."""
        self._stop.set()
        self._join()
        return self.stats()

    def wait(self) -> TrafficStats:
        """Block until the run ends by itself (``max_duration`` or ``max_requests``)."""
        self._join()
        return self.stats()

    def _join(self) -> None:
        thread = self._thread
        if thread is None:
            return
        # The run can last max_duration plus one request still in flight.
        thread.join(self.max_duration + self.timeout + 1.0)
        if thread.is_alive():
            raise RuntimeError(f"traffic thread did not end within {self.max_duration:g}s")

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stats(self) -> TrafficStats:
        """A snapshot; safe to call while running."""
        with self._lock:
            by_status = dict(sorted(self._by_status.items()))
            errors, last_error = self._errors, self._last_error
            started, ended = self._started_at, self._ended_at
        if started is None:
            elapsed = 0.0
        else:
            elapsed = (ended if ended is not None else time.monotonic()) - started
        return TrafficStats(
            sent=sum(by_status.values()) + errors,
            by_status=MappingProxyType(by_status),
            errors=errors,
            elapsed=elapsed,
            last_error=last_error,
        )

    # -- the thread ------------------------------------------------------------

    def _run(self) -> None:
        assert self._started_at is not None
        interval = 1.0 / self.rate_per_second
        anchor = self._started_at
        end = self._started_at + self.max_duration
        limit = self.max_requests
        index = 0
        with httpx.Client(base_url=self.base_url, timeout=self.timeout) as client:
            try:
                while limit is None or index < limit:
                    due = anchor + index * interval
                    now = time.monotonic()
                    if now - due > interval:
                        # Behind by more than a slot: re-anchor rather than burst.
                        anchor, due = now - index * interval, now
                    if due >= end:
                        break
                    # The deadline-based pacing wait (see the module docstring).
                    if self._stop.wait(max(0.0, due - time.monotonic())):
                        break
                    self._send(client, self._factory(index))
                    index += 1
            finally:
                with self._lock:
                    self._ended_at = time.monotonic()

    def _send(self, client: httpx.Client, request: TrafficRequest) -> None:
        headers = {**self._headers, **request.headers}
        try:
            response = client.request(
                request.method,
                request.path,
                json=request.body,
                headers=headers,
            )
        except httpx.HTTPError as error:
            with self._lock:
                self._errors += 1
                self._last_error = f"{type(error).__name__}: {error}"
            return
        with self._lock:
            self._by_status[response.status_code] += 1

    def __repr__(self) -> str:
        return (
            f"<TrafficDriver {self.base_url} {self.rate_per_second:g}/s "
            f"max {self.max_duration:g}s {'running' if self.running else 'idle'}>"
        )


def _round_robin(paths: tuple[str, ...]) -> RequestFactory:
    def factory(index: int) -> TrafficRequest:
        return TrafficRequest(path=paths[index % len(paths)])

    return factory
