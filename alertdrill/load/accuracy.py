"""Does monitoring count what the load generator sent?

Three counts of the same window are compared, per endpoint and in total:

- Locust's requests and failures (``LoadResult``);
- the service's own counters, read raw from its ``/metrics`` before and after the run
  (``http_requests_total`` by method, route and status; ``errors_total`` by endpoint);
- Prometheus' stored counters at two instants: the latest sample before and after, once
  Prometheus has scraped the value the service had at that instant.

Differences of raw counter values, not ``increase()``/``rate()``: those extrapolate to the
edges of their range (and guess the start of a counter that appears mid-window), so over a
short window they can be off by several percent however exact the counting was. The
extrapolated figure is still reported (``prometheus_increase``) to show how far off it is.

Machine traffic that runs whatever the load does — Prometheus scraping ``/metrics``,
blackbox_exporter probing ``/health/live``, Alertmanager calling the incident webhook when
an alert fires — is left out (``MACHINE_TRAFFIC``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeVar

import httpx
from prometheus_client.parser import text_string_to_metric_families

from alertdrill.clients import PrometheusClient
from alertdrill.load.results import LoadError, LoadResult

__all__ = [
    "MACHINE_TRAFFIC",
    "AccuracyReport",
    "AccuracyRow",
    "CounterSnapshot",
    "compare",
    "prometheus_increase",
    "prometheus_snapshot",
    "scrape_service",
]

K = TypeVar("K")
Key = tuple[str, str]
"""(method, route template)"""

MACHINE_TRAFFIC: frozenset[Key] = frozenset(
    {
        ("GET", "/metrics"),  # Prometheus' scrapes
        ("GET", "/health/live"),  # blackbox_exporter's probe
        ("POST", "/api/webhooks/alertmanager"),  # Alertmanager opening/resolving incidents
    }
)
SCRAPE_TIMEOUT = 5.0


@dataclass(frozen=True)
class CounterSnapshot:
    """Request and error counters at one instant (raw counter values, never rates)."""

    requests: Mapping[Key, float] = field(hash=False)
    """http_requests_total summed over status codes."""
    server_errors: Mapping[Key, float] = field(hash=False)
    """http_requests_total with a 5xx status."""
    errors_5xx: Mapping[str, float] = field(hash=False)
    """errors_total with a 5xx status, by endpoint (route template; it has no method)."""

    def counted(self, *, exclude: Iterable[Key] = MACHINE_TRAFFIC) -> Mapping[Key, float]:
        skip = frozenset(exclude)
        return {k: v for k, v in self.requests.items() if k not in skip}


def _snapshot(
    requests: Iterable[tuple[str, str, str, float]], errors: Iterable[tuple[str, str, float]]
) -> CounterSnapshot:
    total: dict[Key, float] = defaultdict(float)
    server: dict[Key, float] = defaultdict(float)
    by_endpoint: dict[str, float] = defaultdict(float)
    for method, route, status, value in requests:
        total[(method, route)] += value
        if status.startswith("5"):
            server[(method, route)] += value
    for endpoint, status, value in errors:
        if status.startswith("5"):
            by_endpoint[endpoint] += value
    return CounterSnapshot(
        MappingProxyType(dict(total)),
        MappingProxyType(dict(server)),
        MappingProxyType(dict(by_endpoint)),
    )


def parse_exposition(text: str) -> CounterSnapshot:
    """A snapshot from Prometheus text exposition (the service's /metrics)."""
    requests: list[tuple[str, str, str, float]] = []
    errors: list[tuple[str, str, float]] = []
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = sample.labels
                if sample.name == "http_requests_total":
                    requests.append(
                        (
                            labels.get("method", ""),
                            labels.get("route", ""),
                            labels.get("status_code", ""),
                            float(sample.value),
                        )
                    )
                elif sample.name == "errors_total":
                    errors.append(
                        (labels.get("endpoint", ""), labels.get("status_code", ""), sample.value)
                    )
    except ValueError as error:
        raise LoadError(f"the service's /metrics does not parse: {error}") from error
    return _snapshot(requests, errors)


def scrape_service(service_url: str) -> CounterSnapshot:
    """Read the service's counters directly from its /metrics."""
    try:
        response = httpx.get(f"{service_url.rstrip('/')}/metrics", timeout=SCRAPE_TIMEOUT)
    except httpx.HTTPError as error:
        raise LoadError(f"cannot read {service_url}/metrics: {error}") from error
    if response.status_code != 200:
        raise LoadError(f"{service_url}/metrics answered {response.status_code}")
    return parse_exposition(response.text)


def prometheus_snapshot(prometheus: PrometheusClient, *, job: str = "backend") -> CounterSnapshot:
    """Prometheus' latest stored counter values of the service's job."""
    requests = prometheus.query(
        f'sum by (method, route, status_code) (http_requests_total{{job="{job}"}})'
    )
    errors = prometheus.query(f'sum by (endpoint, status_code) (errors_total{{job="{job}"}})')
    return _snapshot(
        (
            (
                s.labels.get("method", ""),
                s.labels.get("route", ""),
                s.labels.get("status_code", ""),
                s.value,
            )
            for s in requests
        ),
        ((s.labels.get("endpoint", ""), s.labels.get("status_code", ""), s.value) for s in errors),
    )


def prometheus_increase(
    prometheus: PrometheusClient, seconds: float, *, job: str = "backend"
) -> Mapping[Key, float]:
    """``increase()`` over the last ``seconds``, by (method, route): extrapolated, shown for
    comparison only."""
    window = f"{max(1, round(seconds * 1000))}ms"
    samples = prometheus.query(
        f'sum by (method, route) (increase(http_requests_total{{job="{job}"}}[{window}]))'
    )
    return {(s.labels.get("method", ""), s.labels.get("route", "")): s.value for s in samples}


def delta(before: CounterSnapshot, after: CounterSnapshot) -> CounterSnapshot:
    """``after - before``; a series absent before counted from 0 (it was created during)."""

    return CounterSnapshot(
        MappingProxyType(_minus(after.requests, before.requests)),
        MappingProxyType(_minus(after.server_errors, before.server_errors)),
        MappingProxyType(_minus(after.errors_5xx, before.errors_5xx)),
    )


def _minus(a: Mapping[K, float], b: Mapping[K, float]) -> dict[K, float]:
    return {k: v - b.get(k, 0.0) for k, v in a.items() if v - b.get(k, 0.0) != 0}


def matches(service: CounterSnapshot, prometheus: CounterSnapshot) -> bool:
    """Prometheus holds exactly the service's values (machine traffic aside, which moves)."""
    return service.counted() == prometheus.counted() and service.errors_5xx == (
        prometheus.errors_5xx
    )


@dataclass(frozen=True)
class AccuracyRow:
    method: str
    name: str
    locust_requests: int
    service_requests: float
    prometheus_requests: float
    locust_failures: int
    service_5xx: float
    prometheus_5xx: float

    @property
    def service_error(self) -> float:
        return _relative(self.service_requests, self.locust_requests)

    @property
    def prometheus_error(self) -> float:
        return _relative(self.prometheus_requests, self.locust_requests)

    def within(self, tolerance: float) -> bool:
        return self.service_error <= tolerance and self.prometheus_error <= tolerance

    def failures_match(self) -> bool:
        return self.locust_failures == self.service_5xx == self.prometheus_5xx


def _relative(measured: float, reference: float) -> float:
    if reference == 0:
        return 0.0 if measured == 0 else float("inf")
    return abs(measured - reference) / reference


@dataclass(frozen=True)
class AccuracyReport:
    rows: tuple[AccuracyRow, ...]
    """One per endpoint Locust or the service counted (machine traffic aside)."""
    total: AccuracyRow
    errors_total_5xx: Mapping[str, tuple[int, float, float]] = field(hash=False)
    """Per route: (Locust failures, service errors_total 5xx, Prometheus errors_total 5xx)."""

    def worst_error(self) -> float:
        return max(
            (max(r.service_error, r.prometheus_error) for r in (*self.rows, self.total)),
            default=0.0,
        )

    def within(self, tolerance: float) -> bool:
        return all(r.within(tolerance) for r in (*self.rows, self.total))

    def failures_match(self) -> bool:
        return all(r.failures_match() for r in (*self.rows, self.total)) and all(
            a == b == c for a, b, c in self.errors_total_5xx.values()
        )

    def render(self) -> str:
        head = (
            f"{'method':<7} {'endpoint':<42} {'locust':>8} {'service':>8} {'prom':>8} "
            f"{'err%':>6} {'fails':>6} {'5xx':>5} {'p5xx':>5}"
        )
        lines = [head, "-" * len(head)]
        for r in (*self.rows, self.total):
            err = 100 * max(r.service_error, r.prometheus_error)
            lines.append(
                f"{r.method:<7} {r.name[:42]:<42} {r.locust_requests:>8d} "
                f"{r.service_requests:>8.0f} {r.prometheus_requests:>8.0f} {err:>6.2f} "
                f"{r.locust_failures:>6d} {r.service_5xx:>5.0f} {r.prometheus_5xx:>5.0f}"
            )
        failing = {k: v for k, v in self.errors_total_5xx.items() if any(v)}
        if failing:
            lines.append("\nerrors_total 5xx by endpoint (Locust failures / service / Prometheus):")
            lines += [f"  {k}: {a} / {b:.0f} / {c:.0f}" for k, (a, b, c) in failing.items()]
        return "\n".join(lines)


def compare(
    result: LoadResult,
    service: tuple[CounterSnapshot, CounterSnapshot],
    prometheus: tuple[CounterSnapshot, CounterSnapshot],
    *,
    exclude: Iterable[Key] = MACHINE_TRAFFIC,
) -> AccuracyReport:
    """Locust's counts against the service's and Prometheus' counter differences."""
    skip = frozenset(exclude)
    svc, prom = delta(*service), delta(*prometheus)
    locust = result.by_key()
    keys = sorted((set(locust) | set(svc.requests) | set(prom.requests)) - skip)
    rows = tuple(
        AccuracyRow(
            method=method,
            name=name,
            locust_requests=locust[(method, name)].requests if (method, name) in locust else 0,
            service_requests=svc.requests.get((method, name), 0.0),
            prometheus_requests=prom.requests.get((method, name), 0.0),
            locust_failures=locust[(method, name)].failures if (method, name) in locust else 0,
            service_5xx=svc.server_errors.get((method, name), 0.0),
            prometheus_5xx=prom.server_errors.get((method, name), 0.0),
        )
        for method, name in keys
    )
    total = AccuracyRow(
        method="",
        name="total",
        locust_requests=sum(r.locust_requests for r in rows),
        service_requests=sum(r.service_requests for r in rows),
        prometheus_requests=sum(r.prometheus_requests for r in rows),
        locust_failures=sum(r.locust_failures for r in rows),
        service_5xx=sum(r.service_5xx for r in rows),
        prometheus_5xx=sum(r.prometheus_5xx for r in rows),
    )
    failures_by_route: dict[str, int] = defaultdict(int)
    for r in rows:
        failures_by_route[r.name] += r.locust_failures
    routes = sorted(set(failures_by_route) | set(svc.errors_5xx) | set(prom.errors_5xx))
    errors = {
        route: (
            failures_by_route.get(route, 0),
            svc.errors_5xx.get(route, 0.0),
            prom.errors_5xx.get(route, 0.0),
        )
        for route in routes
    }
    return AccuracyReport(rows, total, MappingProxyType(errors))
