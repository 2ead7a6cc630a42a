"""A drill session: one running stack plus everything a drill or scenario uses on it —
clients, receivers, fault factories, traffic, a per-drill timeline and the expectations.

The pytest plugin and the CLI both build on this, so a scenario and `make drill` exercise the
same code. `begin(name)` resets between drills: leftover faults reverted, every alert resolved
and every resolved notification delivered, receivers cleared, a fresh timeline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from alertdrill.clients import AlertmanagerClient, PrometheusClient, ServiceClient
from alertdrill.expect import Expect
from alertdrill.faults import (
    AuthFailureStorm,
    Bandwidth,
    Blackhole,
    CpuHog,
    DatabaseConnections,
    DependencyLatency,
    DiskFill,
    ErrorRate,
    FaultJournal,
    FaultRegistry,
    KillProcess,
    Latency,
    MemoryHog,
    Outage,
    PauseProcess,
    ProxyHandle,
    RequestSpike,
    ResetPeer,
    RestartProcess,
    RevertReport,
    SlowQueries,
    StopProcess,
    ToxiproxyClient,
    spike_rate,
)
from alertdrill.report.journal import write_report
from alertdrill.report.timeline import Timeline
from alertdrill.stack.local import LocalStack
from alertdrill.timing import eventually
from alertdrill.traffic import TrafficDriver

__all__ = ["DrillSession"]

# Longest a reset may wait for the previous drill's alerts to resolve. The slowest resolve
# floor of the fast profile is ~6 s; this leaves room for a loaded 2-core machine.
RESET_TIMEOUT = 45.0


class DrillSession:
    def __init__(self, stack: LocalStack, *, slack: float = 2.0) -> None:
        self.stack = stack
        self.slack = slack
        creds = stack.credentials
        self.prometheus = PrometheusClient(stack.prometheus.url)
        self.alertmanager = AlertmanagerClient(stack.alertmanager.url)
        self.service = ServiceClient(
            stack.service.url,
            faults_token=creds.faults_token,
            webhook_token=creds.webhook_token,
            superuser=(creds.superuser_email, creds.superuser_password),
        )
        self.receivers = stack.receivers
        # The fault proxy's Toxiproxy API: network faults between the service and its
        # dependencies (``postgres``, ``redis``).
        self.fault_proxy = ToxiproxyClient(stack.fault_proxy.url)
        self.registry = FaultRegistry()
        self.journal = FaultJournal()
        self.timeline = Timeline()
        self.expect = self._expect()

    @property
    def floors(self) -> Mapping[str, float]:
        return {name: floor.total for name, floor in self.stack.rendered.floors().items()}

    def _expect(self) -> Expect:
        return Expect(
            self.prometheus,
            self.alertmanager,
            self.receivers,
            self.service,
            self.timeline,
            self.stack.rendered.floors(),
            self.slack,
            fault_journal=self.journal,
            # Only this drill's incidents count: the stack (and its database) is shared.
            incidents_since=datetime.now(UTC),
        )

    # -- between drills --------------------------------------------------------------

    def revert_faults(self) -> RevertReport:
        """Revert every fault still injected, then clear service-side faults and every proxy
        toxic as well (proxies enabled, no toxics: Toxiproxy's reset)."""
        report = self.registry.revert_all()
        self.service.clear_faults()
        self.fault_proxy.reset()
        return report

    def settle(self) -> None:
        """Wait until no alert is pending or firing and Alertmanager holds no active alert,
        so the previous drill's resolved notifications cannot land in the next one."""
        eventually(
            lambda: not self.prometheus.alerts(),
            within=RESET_TIMEOUT,
            what="every Prometheus alert of the previous drill to resolve",
        )
        eventually(
            lambda: not self.alertmanager.alerts(),
            within=RESET_TIMEOUT,
            what="Alertmanager to hold no active alert",
        )
        group_interval = self.stack.rendered.profile.group_interval
        # Resolved notifications go out on the next group_interval tick: give them a few.
        eventually(
            lambda: self._quiet_for(max(0.5, 5 * group_interval)),
            within=RESET_TIMEOUT,
            what="receivers to go quiet",
        )

    def _quiet_for(self, seconds: float) -> bool:
        notes = self.receivers.notifications()
        if not notes:
            return True
        return self.timeline.now() - notes[-1].arrived_at >= seconds

    def begin(self, name: str) -> None:
        """Reset for the next drill named `name`."""
        self.revert_faults().raise_if_failed()
        self.settle()
        self.receivers.clear()
        self.journal = FaultJournal()
        self.timeline = Timeline(name)
        self.expect = self._expect()

    def write_report(self, path: Path, *, outcome: str) -> Path:
        return write_report(
            path,
            name=self.timeline.name,
            outcome=outcome,  # type: ignore[arg-type]  # checked by write_report
            timeline=self.expect.timeline,
            floors=self.floors,
        )

    def close(self) -> None:
        try:
            self.registry.revert_all()
        finally:
            for client in (self.prometheus, self.alertmanager, self.service, self.fault_proxy):
                client.close()

    # -- faults ------------------------------------------------------------------------

    def error_rate(
        self, *, routes: str | Sequence[str] = "*", probability: float = 1.0
    ) -> ErrorRate:
        return ErrorRate(
            self.service,
            routes=routes,
            probability=probability,
            journal=self.journal,
            registry=self.registry,
        )

    def latency(self, *, routes: str | Sequence[str] = "*", delay_ms: int = 2500) -> Latency:
        return Latency(
            self.service,
            routes=routes,
            delay_ms=delay_ms,
            journal=self.journal,
            registry=self.registry,
        )

    def slow_queries(self, *, delay_ms: int = 1500) -> SlowQueries:
        return SlowQueries(
            self.service, delay_ms=delay_ms, journal=self.journal, registry=self.registry
        )

    def memory_hog(self, *, megabytes: int) -> MemoryHog:
        return MemoryHog(
            self.service, megabytes=megabytes, journal=self.journal, registry=self.registry
        )

    def cpu_hog(self, *, threads: int = 1) -> CpuHog:
        return CpuHog(self.service, threads=threads, journal=self.journal, registry=self.registry)

    def kill(self, component: str) -> KillProcess:
        return KillProcess(
            self.stack.component(component), journal=self.journal, registry=self.registry
        )

    def stop(self, component: str) -> StopProcess:
        return StopProcess(
            self.stack.component(component), journal=self.journal, registry=self.registry
        )

    def pause(self, component: str) -> PauseProcess:
        return PauseProcess(
            self.stack.component(component), journal=self.journal, registry=self.registry
        )

    def restart(self, component: str) -> RestartProcess:
        """Graceful stop and start of `component`, data kept; done when inject() returns."""
        return RestartProcess(
            self.stack.component(component), journal=self.journal, registry=self.registry
        )

    # -- network faults between the service and a dependency ("postgres", "redis") -------

    def _proxy(self, dependency: str) -> ProxyHandle:
        return self.stack.fault_proxy.handle(dependency, self.fault_proxy)

    def dependency_latency(
        self, dependency: str, *, latency_ms: int = 1500, jitter_ms: int = 0
    ) -> DependencyLatency:
        """Every response from `dependency` to the service arrives `latency_ms` later."""
        return DependencyLatency(
            self._proxy(dependency),
            latency_ms,
            jitter_ms,
            journal=self.journal,
            registry=self.registry,
        )

    def blackhole(self, dependency: str) -> Blackhole:
        """The service's connections to `dependency` hang (data dropped both ways)."""
        return Blackhole(self._proxy(dependency), journal=self.journal, registry=self.registry)

    def reset_peer(self, dependency: str) -> ResetPeer:
        """The service's connections to `dependency` are reset on their next request."""
        return ResetPeer(self._proxy(dependency), journal=self.journal, registry=self.registry)

    def bandwidth(self, dependency: str, *, kbps: int) -> Bandwidth:
        """Responses from `dependency` limited to `kbps` KB/s."""
        return Bandwidth(
            self._proxy(dependency), kbps, journal=self.journal, registry=self.registry
        )

    def outage(self, dependency: str) -> Outage:
        """`dependency` unreachable from the service only (its exporter still reaches it)."""
        return Outage(self._proxy(dependency), journal=self.journal, registry=self.registry)

    # -- resource pressure and traffic -----------------------------------------------------

    def db_connections(self, count: int = 90) -> DatabaseConnections:
        """`count` real idle PostgreSQL sessions (DatabaseConnectionIssues: more than 80)."""
        return DatabaseConnections(
            self.stack.postgres.url, count, journal=self.journal, registry=self.registry
        )

    def disk_fill(self, *, fill_to: float = 0.95) -> DiskFill:
        """Fill the stack's drill filesystem to `fill_to` used (LowDiskSpace: avail < 10 %).
        StackError, with the reason, when the stack has none (not root, no loop devices):
        check `stack.drill_filesystem_skip_reason` to skip instead."""
        return DiskFill(
            self.stack.drill_filesystem.mountpoint,
            fill_to,
            journal=self.journal,
            registry=self.registry,
        )

    def auth_storm(self, *, rate: float = 2.0) -> AuthFailureStorm:
        """Failed logins at `rate`/s (HighAuthenticationFailures: above 0.5/s)."""
        return AuthFailureStorm(
            self.stack.service.url,
            rate,
            email=self.stack.credentials.superuser_email,
            journal=self.journal,
            registry=self.registry,
        )

    def request_spike(self, *, rate: float | None = None) -> RequestSpike:
        """API requests at `rate`/s; by default a rate UnusualAPIActivity calls unusual over
        the baseline Prometheus holds right now (the floor of 10/s at least)."""
        if rate is None:
            rate = spike_rate(self.api_baseline())
        return RequestSpike(
            self.stack.service.url, rate, journal=self.journal, registry=self.registry
        )

    def api_baseline(self) -> float:
        """UnusualAPIActivity's baseline now (req/s): the recorded API rate averaged over the
        rule's scaled hour before its scaled 5 minutes, or the current rate if higher (what
        flows now is in the baseline soon)."""
        scale = self.stack.rendered.profile.duration_scale
        window, offset = _promql_ms(3600 * scale), _promql_ms(300 * scale)
        baseline = self.prometheus.query_value(
            f"max(avg_over_time(service:http_requests:rate5m[{window}] offset {offset}))"
        )
        current = self.prometheus.query_value("max(service:http_requests:rate5m)")
        return max(baseline or 0.0, current or 0.0)

    def traffic(
        self, *, rate: float = 10.0, duration: float = 60.0, paths: Sequence[str] | None = None
    ) -> TrafficDriver:
        """Light steady traffic (bounded by `duration`), stopped when its `with` block ends."""
        if paths is None:
            return TrafficDriver(
                self.stack.service.url, rate_per_second=rate, max_duration=duration
            )
        return TrafficDriver(
            self.stack.service.url, rate_per_second=rate, max_duration=duration, paths=paths
        )


def _promql_ms(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"
