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
    CpuHog,
    ErrorRate,
    FaultJournal,
    FaultRegistry,
    KillProcess,
    Latency,
    MemoryHog,
    PauseProcess,
    RevertReport,
    SlowQueries,
    StopProcess,
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
        """Revert every fault still injected, then clear service-side faults as well."""
        report = self.registry.revert_all()
        self.service.clear_faults()
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
            for client in (self.prometheus, self.alertmanager, self.service):
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
