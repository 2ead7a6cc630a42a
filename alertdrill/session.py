"""A drill session: one running stack plus everything a drill or scenario uses on it —
clients, receivers, fault factories, traffic, a per-drill timeline and the expectations.

The pytest plugin and the CLI both build on this, so a scenario and `make drill` exercise the
same code. `begin(name)` resets between drills: leftover faults reverted, every alert resolved
and every resolved notification delivered, receivers cleared, a fresh timeline. On a shared
stack (external) "every" means every one this session caused (alertdrill.session_scope).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from alertdrill.clients import AlertmanagerClient, PrometheusClient, ServiceClient
from alertdrill.errors import ExpectationFailed
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
from alertdrill.faults.classes import (
    FaultClass,
    factory_class,
    fault_allowed,
    require_fault_allowed,
)
from alertdrill.receivers.records import (
    Email,
    Notification,
    PagerDutyEvent,
    SlackMessage,
    WebhookDelivery,
)
from alertdrill.report.journal import write_report
from alertdrill.report.timeline import JsonValue, Timeline
from alertdrill.session_scope import NO_BASELINE, AlertBaseline, OwnFaultsServiceClient, is_shared
from alertdrill.stack.drill_stack import DrillStack
from alertdrill.timing import eventually
from alertdrill.traffic import TrafficDriver

__all__ = ["DrillSession"]

# Longest a reset may wait for the previous drill's alerts to resolve. The slowest resolve
# floor of the fast profile is ~6 s; this leaves room for a loaded 2-core machine.
RESET_TIMEOUT = 45.0
# Alertmanager's notify.MinTimeout: the least time one flush of a group may take, retries
# of a failing receiver included.
ALERTMANAGER_FLUSH_TIMEOUT = 10.0


class DrillSession:
    def __init__(self, stack: DrillStack, *, slack: float = 2.0) -> None:
        self.stack = stack
        self.slack = slack
        creds = stack.credentials
        self.prometheus = PrometheusClient(stack.prometheus.url)
        self.alertmanager = AlertmanagerClient(stack.alertmanager.url)
        # A shared stack (external: staging) holds others' alerts and faults too: the reset
        # settles only on alerts this session caused and deletes only its own service
        # faults (session_scope). On the harness's own stacks everything there is ours.
        self.shared = is_shared(stack)
        self.baseline: AlertBaseline = NO_BASELINE
        self._baseline_taken = False
        self._own_faults: OwnFaultsServiceClient | None = None
        service_client = OwnFaultsServiceClient if self.shared else ServiceClient
        # An empty credential (an external stack given none) is no credential: the client
        # then says which one is missing instead of sending an empty bearer token.
        self.service = service_client(
            stack.service.url,
            faults_token=creds.faults_token or None,
            webhook_token=creds.webhook_token or None,
            superuser=(creds.superuser_email, creds.superuser_password)
            if creds.superuser_password
            else None,
        )
        if isinstance(self.service, OwnFaultsServiceClient):
            self._own_faults = self.service
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
            # Read at each check: the baseline is taken by the first begin().
            foreign=self.foreign_notification if self.shared else None,
        )

    # -- between drills --------------------------------------------------------------

    def revert_faults(self) -> RevertReport:
        """Revert every fault still injected, then clear service-side faults and every proxy
        toxic as well (proxies enabled, no toxics: Toxiproxy's reset)."""
        report = self.registry.revert_all()
        # Only what this session may have injected: a stack refusing a class (an external
        # one) may share its service and proxy with others, or have no proxy at all.
        if fault_allowed(self.stack, FaultClass.SERVICE):
            if self._own_faults is not None:
                # Shared: by id, only the faults this session added (a revert that failed,
                # or a fault injected outside the registry); others' stay.
                self._own_faults.clear_own_faults()
            else:
                self.service.clear_faults()
        # Shared: no proxy-wide reset (it would drop others' toxics); the registry's revert
        # above removed this session's toxics by name.
        if fault_allowed(self.stack, FaultClass.NETWORK) and not self.shared:
            self.fault_proxy.reset()
        return report

    def take_baseline(self) -> AlertBaseline:
        """On a shared stack, snapshot the alerts active now as not this session's (once:
        the first ``begin()`` does it, before any drill of this session ran)."""
        if self.shared and not self._baseline_taken:
            self.baseline = AlertBaseline.take(self.prometheus, self.alertmanager)
            self._baseline_taken = True
        return self.baseline

    def foreign_notification(self, note: Notification) -> bool:
        """About someone else's alerts only (shared stack, session_scope); never on the
        harness's own stacks. For checks that count every notification (a quiet window)."""
        return self.baseline.foreign_notification(note)

    def settle(self) -> None:
        """Wait until no alert is pending or firing and Alertmanager holds no active alert,
        so the previous drill's resolved notifications cannot land in the next one.

        On a shared stack, alerts of the baseline (active before the session started) are
        not waited for, nor are their notifications (``session_scope``)."""
        scope = f" ({self.baseline.describe()})" if self.shared else ""
        eventually(
            lambda: not self.baseline.ours_in_prometheus(self.prometheus.alerts()),
            within=RESET_TIMEOUT,
            what=f"every Prometheus alert of the previous drill to resolve{scope}",
        )
        eventually(
            lambda: not self.baseline.ours_in_alertmanager(self.alertmanager.alerts()),
            within=RESET_TIMEOUT,
            what=f"Alertmanager to hold no active alert{scope}",
        )
        group_interval = self.stack.rendered.profile.group_interval
        # Every receiver told of a firing alert gets its all-clear, usually on the next tick;
        # later when that route's group is still busy with an earlier flush (a slow or
        # failing webhook being retried), which a short quiet window alone misses.
        # Alertmanager gives a flush up to max(group_interval, 10 s); one still owed after
        # that was abandoned (its receiver stayed down): it can no longer land anywhere.
        with contextlib.suppress(ExpectationFailed):
            eventually(
                lambda: not self._owed_all_clear(),
                within=max(group_interval, ALERTMANAGER_FLUSH_TIMEOUT) + 2 * group_interval,
                what="every all-clear Alertmanager owes the receivers",
            )
        # Resolved notifications go out on the next group_interval tick: give them a few.
        eventually(
            lambda: self._quiet_for(max(0.5, 5 * group_interval)),
            within=RESET_TIMEOUT,
            what="receivers to go quiet",
        )

    def _owed_all_clear(self) -> list[tuple[str, str]]:
        """(receiver, alertname) whose last delivered notification says firing. A relayed
        webhook its upstream refused does not count as delivered (Alertmanager retries it,
        or gives up and then owes nothing); one still awaiting the verdict does."""
        last: dict[tuple[str, str], str] = {}
        for record in self.receivers.records():
            if not isinstance(record, SlackMessage | PagerDutyEvent | WebhookDelivery | Email):
                continue
            if isinstance(record, WebhookDelivery) and not _accepted(record.forwarded_status):
                continue
            for note in record.notifications():
                if self.baseline.foreign_notification(note):
                    continue  # someone else's alert: its all-clear is not ours to await
                for alertname in note.alertnames or (note.alertname,):
                    last[(note.receiver, alertname)] = note.status
        return sorted(key for key, status in last.items() if status == "firing")

    def _quiet_for(self, seconds: float) -> bool:
        notes = [
            n for n in self.receivers.notifications() if not self.baseline.foreign_notification(n)
        ]
        if not notes:
            return True
        return self.timeline.now() - notes[-1].arrived_at >= seconds

    def begin(self, name: str) -> None:
        """Reset for the next drill named `name`."""
        self.take_baseline()
        self.revert_faults().raise_if_failed()
        self.settle()
        self.receivers.clear()
        self.journal = FaultJournal()
        self.timeline = Timeline(name)
        self.expect = self._expect()

    def write_report(
        self, path: Path, *, outcome: str, extra: Mapping[str, JsonValue] | None = None
    ) -> Path:
        """``extra``: e.g. a drill run's journal (alertdrill.drills.runner.drill_extra)."""
        return write_report(
            path,
            name=self.timeline.name,
            outcome=outcome,  # type: ignore[arg-type]  # checked by write_report
            timeline=self.expect.timeline,
            floors=self.floors,
            extra=extra,
        )

    def close(self) -> None:
        try:
            self.registry.revert_all()
        finally:
            for client in (self.prometheus, self.alertmanager, self.service, self.fault_proxy):
                client.close()

    # -- faults ------------------------------------------------------------------------

    def _allow(self, factory: str) -> None:
        """FaultError when the stack refuses the class of ``factory`` (faults.classes)."""
        require_fault_allowed(self.stack, factory_class(factory))

    def error_rate(
        self, *, routes: str | Sequence[str] = "*", probability: float = 1.0
    ) -> ErrorRate:
        self._allow("error_rate")
        return ErrorRate(
            self.service,
            routes=routes,
            probability=probability,
            journal=self.journal,
            registry=self.registry,
        )

    def latency(self, *, routes: str | Sequence[str] = "*", delay_ms: int = 2500) -> Latency:
        self._allow("latency")
        return Latency(
            self.service,
            routes=routes,
            delay_ms=delay_ms,
            journal=self.journal,
            registry=self.registry,
        )

    def slow_queries(self, *, delay_ms: int = 1500) -> SlowQueries:
        self._allow("slow_queries")
        return SlowQueries(
            self.service, delay_ms=delay_ms, journal=self.journal, registry=self.registry
        )

    def memory_hog(self, *, megabytes: int) -> MemoryHog:
        self._allow("memory_hog")
        return MemoryHog(
            self.service, megabytes=megabytes, journal=self.journal, registry=self.registry
        )

    def cpu_hog(self, *, threads: int = 1) -> CpuHog:
        self._allow("cpu_hog")
        return CpuHog(self.service, threads=threads, journal=self.journal, registry=self.registry)

    def kill(self, component: str) -> KillProcess:
        self._allow("kill")
        return KillProcess(
            self.stack.component(component), journal=self.journal, registry=self.registry
        )

    def stop(self, component: str) -> StopProcess:
        self._allow("stop")
        return StopProcess(
            self.stack.component(component), journal=self.journal, registry=self.registry
        )

    def pause(self, component: str) -> PauseProcess:
        self._allow("pause")
        return PauseProcess(
            self.stack.component(component), journal=self.journal, registry=self.registry
        )

    def restart(self, component: str) -> RestartProcess:
        """Graceful stop and start of `component`, data kept; done when inject() returns."""
        self._allow("restart")
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
        self._allow("dependency_latency")
        return DependencyLatency(
            self._proxy(dependency),
            latency_ms,
            jitter_ms,
            journal=self.journal,
            registry=self.registry,
        )

    def blackhole(self, dependency: str) -> Blackhole:
        """The service's connections to `dependency` hang (data dropped both ways)."""
        self._allow("blackhole")
        return Blackhole(self._proxy(dependency), journal=self.journal, registry=self.registry)

    def reset_peer(self, dependency: str) -> ResetPeer:
        """The service's connections to `dependency` are reset on their next request."""
        self._allow("reset_peer")
        return ResetPeer(self._proxy(dependency), journal=self.journal, registry=self.registry)

    def bandwidth(self, dependency: str, *, kbps: int) -> Bandwidth:
        """Responses from `dependency` limited to `kbps` KB/s."""
        self._allow("bandwidth")
        return Bandwidth(
            self._proxy(dependency), kbps, journal=self.journal, registry=self.registry
        )

    def outage(self, dependency: str) -> Outage:
        """`dependency` unreachable from the service only (its exporter still reaches it)."""
        self._allow("outage")
        return Outage(self._proxy(dependency), journal=self.journal, registry=self.registry)

    # -- resource pressure and traffic -----------------------------------------------------

    def db_connections(self, count: int = 90) -> DatabaseConnections:
        """`count` real idle PostgreSQL sessions (DatabaseConnectionIssues: more than 80)."""
        self._allow("db_connections")
        return DatabaseConnections(
            self.stack.postgres.url, count, journal=self.journal, registry=self.registry
        )

    def disk_fill(self, *, fill_to: float = 0.95) -> DiskFill:
        """Fill the stack's drill filesystem to `fill_to` used (LowDiskSpace: avail < 10 %).
        StackError, with the reason, when the stack has none (not root, no loop devices):
        check `stack.drill_filesystem_skip_reason` to skip instead."""
        self._allow("disk_fill")
        return DiskFill(
            self.stack.drill_filesystem.mountpoint,
            fill_to,
            journal=self.journal,
            registry=self.registry,
        )

    def auth_storm(self, *, rate: float = 2.0) -> AuthFailureStorm:
        """Failed logins at `rate`/s (HighAuthenticationFailures: above 0.5/s)."""
        self._allow("auth_storm")
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
        self._allow("request_spike")
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


def _accepted(forwarded_status: int | None) -> bool:
    """A relayed webhook's upstream took it, or has not answered yet (None)."""
    return forwarded_status is None or 200 <= forwarded_status < 300


def _promql_ms(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"
