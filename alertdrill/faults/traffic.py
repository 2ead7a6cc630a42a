"""Traffic faults: an authentication-failure storm and a request spike, as real HTTP requests.

Both run ``alertdrill.traffic.TrafficDriver`` (one background thread, deadline-paced), so they
are bounded three ways: a rate cap checked here, the driver's own ``max_duration`` (it stops by
itself), and the fault watchdog. Inject starts the driver, revert stops it and keeps its final
``TrafficStats`` (``fault.stats``) so a test can compare what was sent with what the service
counted.

Thresholds they are sized against (monitoring/prometheus/alerts.yml):

- HighAuthenticationFailures: ``rate(auth_attempts_total{result="failure"}[5m]) > 0.5`` per
  service. Every storm request is one real failed login (a real account, a password that
  cannot be right), so the failure rate equals the storm's rate once its window has filled.
- UnusualAPIActivity: the recorded API request rate (``/metrics`` and ``/health*`` excluded)
  above ``max(3 x its own average of the previous hour, 10 req/s)``. A spike must clear the
  floor *and* three times the baseline; ``spike_rate()`` computes a rate that does, from a
  measured baseline. A spike below the floor is a valid negative control and is allowed.
"""

from __future__ import annotations

import math
import secrets

from alertdrill.faults.base import DEFAULT_MAX_DURATION, BaseFault, FaultJournal, FaultRegistry
from alertdrill.traffic import RequestFactory, TrafficDriver, TrafficRequest, TrafficStats

__all__ = [
    "UNUSUAL_ACTIVITY_FACTOR",
    "UNUSUAL_ACTIVITY_FLOOR",
    "AuthFailureStorm",
    "RequestSpike",
    "spike_rate",
]

#: UnusualAPIActivity's absolute floor (req/s) and its factor over the baseline.
UNUSUAL_ACTIVITY_FLOOR = 10.0
UNUSUAL_ACTIVITY_FACTOR = 3.0
#: Rate caps: enough to fire either alert many times over, little enough for a 2-core runner.
MAX_AUTH_RATE = 20.0
MAX_SPIKE_RATE = 100.0
#: The routes a spike requests by default: the public status page, an API route the recording
#: rule counts (``/health*`` and ``/metrics`` are excluded from it).
SPIKE_PATHS: tuple[str, ...] = ("/api/status",)


def spike_rate(
    baseline: float,
    *,
    floor: float = UNUSUAL_ACTIVITY_FLOOR,
    factor: float = UNUSUAL_ACTIVITY_FACTOR,
    margin: float = 1.5,
) -> float:
    """A request rate that UnusualAPIActivity calls unusual over ``baseline`` req/s, with
    ``margin`` to spare (the recorded rate ramps up over its window, and a loaded machine
    sends a little less than asked)."""
    if not (baseline >= 0 and math.isfinite(baseline)):
        raise ValueError(f"baseline must be a non-negative rate, got {baseline!r}")
    return margin * max(floor, factor * baseline)


def _check_rate(rate: float, maximum: float) -> float:
    if not (0 < rate <= maximum and math.isfinite(rate)):
        raise ValueError(f"rate must be in (0, {maximum:g}] requests/s, got {rate!r}")
    return float(rate)


class _TrafficFault(BaseFault):
    def __init__(
        self,
        name: str,
        service_url: str,
        rate: float,
        *,
        max_rate: float,
        max_duration: float,
        journal: FaultJournal | None,
        registry: FaultRegistry | None,
    ) -> None:
        super().__init__(name, max_duration=max_duration, journal=journal, registry=registry)
        self.service_url = service_url.rstrip("/")
        self.rate = _check_rate(rate, max_rate)
        self._driver: TrafficDriver | None = None
        self._stats: TrafficStats | None = None

    @property
    def stats(self) -> TrafficStats | None:
        """Live counts while injected; the final ones after revert; None before."""
        driver = self._driver
        return driver.stats() if driver is not None else self._stats

    def _requests(self) -> RequestFactory:
        raise NotImplementedError

    def _inject(self) -> str:
        self._stats = None
        driver = TrafficDriver(
            self.service_url,
            rate_per_second=self.rate,
            # Stops by itself at the fault's bound even if nothing reverts it.
            max_duration=self.max_duration,
            paths=self._requests(),
        )
        driver.start()
        self._driver = driver
        return f"{self.rate:g} requests/s to {self.service_url}"

    def _revert(self) -> str:
        driver, self._driver = self._driver, None
        if driver is None:
            return "not running"
        stats = driver.stop()
        self._stats = stats
        statuses = ", ".join(f"{code}: {n}" for code, n in stats.by_status.items())
        return (
            f"sent {stats.sent} in {stats.elapsed:.1f}s ({stats.rate:.1f}/s; {statuses}; "
            f"{stats.errors} without response)"
        )


class AuthFailureStorm(_TrafficFault):
    """Failed logins at ``rate`` per second: a real account (``email``), wrong passwords."""

    def __init__(
        self,
        service_url: str,
        rate: float = 2.0,
        *,
        email: str = "admin@alertdrill.test",
        max_duration: float = DEFAULT_MAX_DURATION,
        journal: FaultJournal | None = None,
        registry: FaultRegistry | None = None,
    ) -> None:
        super().__init__(
            "auth-failure-storm",
            service_url,
            rate,
            max_rate=MAX_AUTH_RATE,
            max_duration=max_duration,
            journal=journal,
            registry=registry,
        )
        self.email = email

    def describe(self) -> str:
        return (
            f"{self.rate:g} failed logins/s as {self.email} on {self.service_url} "
            f"for at most {self.max_duration:g}s"
        )

    def _requests(self) -> RequestFactory:
        # Random per storm: no guess can ever be the account's real (random) password, and no
        # two storms send the same bodies.
        prefix = f"wrong-{secrets.token_hex(8)}"
        email = self.email

        def request(index: int) -> TrafficRequest:
            body = {"email": email, "password": f"{prefix}-{index}"}
            return TrafficRequest(path="/api/auth/login", method="POST", body=body)

        return request


class RequestSpike(_TrafficFault):
    """API requests at ``rate`` per second (see ``spike_rate()`` for a rate that is unusual)."""

    def __init__(
        self,
        service_url: str,
        rate: float,
        *,
        paths: tuple[str, ...] = SPIKE_PATHS,
        max_duration: float = DEFAULT_MAX_DURATION,
        journal: FaultJournal | None = None,
        registry: FaultRegistry | None = None,
    ) -> None:
        super().__init__(
            "request-spike",
            service_url,
            rate,
            max_rate=MAX_SPIKE_RATE,
            max_duration=max_duration,
            journal=journal,
            registry=registry,
        )
        if not paths or any(p.startswith(("/health", "/metrics")) for p in paths):
            raise ValueError(f"paths must be API routes the recording rule counts, got {paths}")
        self.paths = paths

    def describe(self) -> str:
        floor = "above" if self.rate > UNUSUAL_ACTIVITY_FLOOR else "below"
        return (
            f"{self.rate:g} API requests/s ({floor} the {UNUSUAL_ACTIVITY_FLOOR:g}/s floor) to "
            f"{', '.join(self.paths)} for at most {self.max_duration:g}s"
        )

    def _requests(self) -> RequestFactory:
        paths = self.paths

        def request(index: int) -> TrafficRequest:
            return TrafficRequest(path=paths[index % len(paths)])

        return request
