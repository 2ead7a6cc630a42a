"""Every metric the service exposes, registered on the registry passed to `create_app`.

Names follow the seed (`http_request_duration_seconds`, `http_requests_total`,
`active_users_total`, `database_query_duration_seconds`, `errors_total`,
`auth_attempts_total`) so the seed's alert rules and dashboard work unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.gc_collector import GCCollector

# Latency buckets straddle the seed's 2 s p95 threshold densely so histogram_quantile is
# accurate where the alert decides.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 10.0)
# Database buckets straddle the 1 s slow-query threshold.
DB_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0)
SIZE_BUCKETS = (64, 256, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304)

HTTP_LABELS = ("method", "route", "status_code")


@dataclass(frozen=True)
class ServiceMetrics:
    """Typed handles on the service's collectors."""

    registry: CollectorRegistry
    http_request_duration: Histogram
    http_requests: Counter
    http_request_size: Histogram
    http_response_size: Histogram
    http_requests_in_flight: Gauge
    active_users: Gauge
    active_tenants: Gauge
    api_calls: Counter
    database_query_duration: Histogram
    database_pool_connections: Gauge
    errors: Counter
    auth_attempts: Counter
    active_sessions: Gauge
    incidents_open: Gauge
    incident_events: Counter
    memory_limit: Gauge
    cpu_limit: Gauge
    faults_active: Gauge
    service_info: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry, *, service: str, version: str) -> ServiceMetrics:
        # Process/platform/GC collectors are per registry, so a second app instance with its
        # own registry gets its own copies instead of a duplicate-registration error.
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        metrics = cls(
            registry=registry,
            http_request_duration=Histogram(
                "http_request_duration_seconds",
                "HTTP request latency, from first byte received to last byte sent.",
                HTTP_LABELS,
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            http_requests=Counter(
                "http_requests",
                "HTTP requests served.",
                HTTP_LABELS,
                registry=registry,
            ),
            http_request_size=Histogram(
                "http_request_size_bytes",
                "HTTP request body size.",
                HTTP_LABELS,
                buckets=SIZE_BUCKETS,
                registry=registry,
            ),
            http_response_size=Histogram(
                "http_response_size_bytes",
                "HTTP response body size.",
                HTTP_LABELS,
                buckets=SIZE_BUCKETS,
                registry=registry,
            ),
            http_requests_in_flight=Gauge(
                "http_requests_in_flight",
                "HTTP requests being served now.",
                registry=registry,
            ),
            active_users=Gauge(
                "active_users_total",
                "Distinct users with an authenticated request within the activity window.",
                registry=registry,
            ),
            active_tenants=Gauge(
                "active_tenants_total",
                "Distinct tenants with an authenticated request within the activity window.",
                registry=registry,
            ),
            api_calls=Counter(
                "api_calls",
                "Authenticated API calls per tenant.",
                ("tenant",),
                registry=registry,
            ),
            database_query_duration=Histogram(
                "database_query_duration_seconds",
                "Database statement latency, including time waiting for a pool connection.",
                ("operation",),
                buckets=DB_BUCKETS,
                registry=registry,
            ),
            database_pool_connections=Gauge(
                "database_pool_connections",
                "Connections of the service's PostgreSQL pool by state (total/idle/in_use).",
                ("state",),
                registry=registry,
            ),
            errors=Counter(
                "errors",
                "Error responses by error type, route template and status code.",
                ("type", "endpoint", "status_code"),
                registry=registry,
            ),
            auth_attempts=Counter(
                "auth_attempts",
                "Login attempts by result (success/failure) and reason.",
                ("result", "reason"),
                registry=registry,
            ),
            active_sessions=Gauge(
                "active_sessions",
                "Unexpired login sessions held in Redis.",
                registry=registry,
            ),
            incidents_open=Gauge(
                "incidents_open",
                "Incidents currently open.",
                registry=registry,
            ),
            incident_events=Counter(
                "incident_events",
                "Incident lifecycle events (created, updated, resolved, deduplicated).",
                ("event",),
                registry=registry,
            ),
            memory_limit=Gauge(
                "process_memory_limit_bytes",
                "Memory limit of this process (cgroup limit or configured); "
                "compare with process_resident_memory_bytes.",
                registry=registry,
            ),
            cpu_limit=Gauge(
                "process_cpu_limit_cores",
                "CPU cores this process may use (cgroup quota, configured, or the machine's); "
                "compare with rate(process_cpu_seconds_total).",
                registry=registry,
            ),
            faults_active=Gauge(
                "drill_faults_active",
                "Fault-injection faults currently active, by kind (drills only).",
                ("kind",),
                registry=registry,
            ),
            service_info=Gauge(
                "service_info",
                "Constant 1, labelled with the service name and version.",
                ("service", "version"),
                registry=registry,
            ),
        )
        metrics.service_info.labels(service=service, version=version).set(1)
        return metrics
