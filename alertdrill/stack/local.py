"""The local backend: the whole monitoring chain as processes on 127.0.0.1.

Start order follows the dependencies: receivers (in this process), PostgreSQL, Redis, the
fault proxy, the service (its Sentry DSN points at the receivers), the exporters, then the
configs are rendered for the profile with every real port, and Alertmanager and Prometheus
start. Ready means every scrape target is up. Stop runs in reverse; a failed start stops what
already started, so nothing is left behind whichever step fails.

The service reaches PostgreSQL and Redis through the fault proxy, from the start: the kernel
here has no netem, so network faults between the service and its dependencies are toxics on
that proxy. Only the service goes through it. The exporters (and drills that open database
connections) talk to PostgreSQL and Redis directly, so a network fault between the service
and its database stays what it is in production: the service suffers, postgres_exporter still
sees a healthy server (pg_up 1), and DatabaseDown does not fire for a broken path.

blackbox_exporter's probe of the service's /health/live goes through the same proxy (route
``probe``), Prometheus' scrape of /metrics does not: a broken path from the prober to the
service (``outage("probe")``) is ServiceDown's second leg while the service itself keeps
serving, which is how a drill has ServiceDown and the alerts it inhibits active at once.

The service declares resource limits (``SERVICE_LIMITS``), as a container's would be: the
resource alerts divide by them, and without them a bounded memory or CPU hog could never
reach 90 % of the machine's RAM or 80 % of all its cores.

Optionally (by default whenever possible: root, loop devices) a small ext4 filesystem is
mounted for disk-space drills; node_exporter reports it like any other filesystem.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from alertdrill.errors import StackError
from alertdrill.receivers import Receivers
from alertdrill.stack.base import Component
from alertdrill.stack.components.alertmanager import AlertmanagerComponent
from alertdrill.stack.components.drill_filesystem import (
    DrillFilesystem,
    node_exporter_mount_exclude,
)
from alertdrill.stack.components.exporters import (
    BlackboxExporterComponent,
    NodeExporterComponent,
    PostgresExporterComponent,
    RedisExporterComponent,
)
from alertdrill.stack.components.fault_proxy import FaultProxyComponent, ProxyRoute
from alertdrill.stack.components.postgres import PostgresComponent
from alertdrill.stack.components.prometheus import PrometheusComponent
from alertdrill.stack.components.redis import RedisComponent
from alertdrill.stack.components.server import RUN_DIR_PREFIX, LocalServer
from alertdrill.stack.components.service import ServiceComponent, ServiceCredentials
from alertdrill.stack.owned_dirs import make_owned_dir, sweep
from alertdrill.stack.render import (
    FAST,
    Profile,
    RenderedConfig,
    ScrapeEndpoints,
    Sinks,
    render,
)
from alertdrill.stack.shared import (
    OwnedStack,
    mount_drill_filesystem,
    require,
    stop_into,
)

__all__ = ["MONITORING_DIR", "SERVICE_LIMITS", "LocalStack"]

#: The run dirs a local stack makes (component names, and its rendered config).
_COMPONENT_DIRS = (
    "config",
    "postgres",
    "redis",
    "service",
    "prometheus",
    "alertmanager",
    "node-exporter",
    "postgres-exporter",
    "redis-exporter",
    "blackbox-exporter",
    "fault-proxy",
)

log = logging.getLogger(__name__)

MONITORING_DIR = Path(__file__).resolve().parents[2] / "monitoring"
#: The drill service's limits, reported as ``process_memory_limit_bytes`` and
#: ``process_cpu_limit_cores`` (HighMemoryUsage: resident > 90 % of it; HighCPUUsage: CPU
#: rate > 80 % of it). 512 MiB is ~4x what the service keeps resident under drill traffic,
#: so a memory hog of a few hundred MB crosses 90 % and steady traffic never comes near it.
#: Half a core: one CPU-hog thread crosses 80 % of it even when a busy 2-core runner gives
#: that thread only half a core (measured: one thread got 0.5-0.6 of a core, two threads
#: 0.8, while other stacks ran), and it leaves the second core to the rest of the stack;
#: drill traffic keeps the service well under 0.4 core.
SERVICE_LIMITS: Mapping[str, str] = MappingProxyType(
    {
        "MEMORY_LIMIT_BYTES": str(512 * 1024 * 1024),
        "CPU_LIMIT_CORES": "0.5",
        # A restart (a deploy drill) drains for 1 s, not 5: the fast profile's alert windows
        # are 5 s, and a restart longer than a window resolves the alert it runs under
        # (measured: 1 s restarts, but 6-11 s when a request or pooled connection lingered).
        "SHUTDOWN_GRACE_SECONDS": "1",
    }
)
PAGERDUTY_ROUTING_KEY = "alertdrill-drill-routing-key"
EMAIL_FROM = "alertmanager@alertdrill.test"


class LocalStack(OwnedStack):
    """PostgreSQL, Redis, the fault proxy, the service, four exporters, Alertmanager,
    Prometheus and the receivers, each a throwaway local process (receivers: threads in this
    process), and the drill filesystem.

    ``drill_filesystem``: None (default) mounts it when this machine can (see
    ``drill_filesystem_skip_reason`` when it could not), True requires it, False never.
    ``service_env``: extra environment for the service, over ``SERVICE_LIMITS``.
    """

    def __init__(
        self,
        *,
        profile: Profile = FAST,
        monitoring_dir: Path = MONITORING_DIR,
        base_dir: Path | None = None,
        credentials: ServiceCredentials | None = None,
        ready_timeout: float = 30.0,
        drill_filesystem: bool | None = None,
        service_env: Mapping[str, str] | None = None,
    ) -> None:
        self.profile = profile
        self.service_env = {**SERVICE_LIMITS, **(service_env or {})}
        self.monitoring_dir = monitoring_dir
        self.credentials = credentials or ServiceCredentials()
        self.ready_timeout = ready_timeout
        self._base_dir = base_dir
        self.receivers = Receivers()
        self.postgres = PostgresComponent(base_dir=base_dir)
        self.redis = RedisComponent(base_dir=base_dir)
        self._service: ServiceComponent | None = None
        self._prometheus: PrometheusComponent | None = None
        self._alertmanager: AlertmanagerComponent | None = None
        self._fault_proxy: FaultProxyComponent | None = None
        self._want_drill_filesystem = drill_filesystem
        self._drill_filesystem: DrillFilesystem | None = None
        self.drill_filesystem_skip_reason: str | None = None
        self._rendered: RenderedConfig | None = None
        self._config_dir: Path | None = None
        self._started: list[LocalServer] = []
        self._reserved: list[int] = []

    # -- handles -------------------------------------------------------------

    @property
    def service(self) -> ServiceComponent:
        return require(self._service, "service")

    @property
    def prometheus(self) -> PrometheusComponent:
        return require(self._prometheus, "prometheus")

    @property
    def alertmanager(self) -> AlertmanagerComponent:
        return require(self._alertmanager, "alertmanager")

    @property
    def fault_proxy(self) -> FaultProxyComponent:
        """The proxy between the service and PostgreSQL (``postgres``) / Redis (``redis``)."""
        return require(self._fault_proxy, "fault-proxy")

    @property
    def endpoints(self) -> Mapping[str, str]:
        urls = {c.name: str(getattr(c, "url", f"{c.host}:{c.port}")) for c in self._started}
        if self.receivers.running:
            urls["receivers"] = self.receivers.http_url
            urls["smtp"] = self.receivers.smtp_smarthost
        return urls

    def component(self, name: str) -> Component:
        for c in self._started:
            if c.name == name:
                return c
        known = ", ".join(c.name for c in self._started) or "none running"
        raise StackError(f"no component named {name!r} (known: {known})", component=name)

    def components(self) -> tuple[LocalServer, ...]:
        return tuple(self._started)

    def logs(self, tail: int = 40) -> dict[str, str]:
        """The last lines of every component's log, for a failing test's report."""
        return {c.name: c.logs(tail) for c in self._started}

    # -- lifecycle -----------------------------------------------------------

    def _start(self, component: LocalServer) -> None:
        component.start()
        self._started.append(component)

    def _start_all(self) -> None:
        base = self._base_dir
        # Run dirs of local stacks killed outright (SIGKILL: no stop(), no atexit).
        for name in _COMPONENT_DIRS:
            sweep(f"{RUN_DIR_PREFIX}{name}-", base)
        self.receivers.start()
        # Every port is chosen first, so the configs can be rendered and Prometheus launched
        # before anything else: its first scrape comes ~5 s after launch whatever we do, and
        # the other components start within that window instead of before it.
        pg_port, redis_port, service_port = self._reserve(), self._reserve(), self._reserve()
        prometheus_port, alertmanager_port = self._reserve(), self._reserve()
        proxy_api, pg_proxy, redis_proxy = self._reserve(), self._reserve(), self._reserve()
        probe_proxy = self._reserve()
        pg_url = f"postgresql://postgres@127.0.0.1:{pg_port}/postgres"
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        self.postgres = PostgresComponent(port=pg_port, base_dir=base)
        self.redis = RedisComponent(port=redis_port, base_dir=base)
        fault_proxy = FaultProxyComponent(
            (
                ProxyRoute("postgres", pg_proxy, f"127.0.0.1:{pg_port}"),
                ProxyRoute("redis", redis_proxy, f"127.0.0.1:{redis_port}"),
                # The prober's path to the service (see the module docstring).
                ProxyRoute("probe", probe_proxy, f"127.0.0.1:{service_port}"),
            ),
            port=proxy_api,
            base_dir=base,
        )
        # Only the service goes through the proxy; the exporters below keep the direct URLs
        # (see the module docstring: a broken path is not a database that is down).
        service = ServiceComponent(
            database_url=f"postgresql://postgres@{fault_proxy.address('postgres')}/postgres",
            redis_url=f"redis://{fault_proxy.address('redis')}/0",
            credentials=self.credentials,
            sentry_dsn=self.receivers.sentry_dsn(),
            extra_env=self.service_env,
            port=service_port,
            base_dir=base,
        )
        node, pg_exp, redis_exp, blackbox = (self._reserve() for _ in range(4))
        # Mounted before node_exporter is configured: it must see this stack's drill
        # filesystem and not the ones of other stacks on the host.
        self._mount_drill_filesystem()
        exporters = (
            NodeExporterComponent(
                port=node,
                base_dir=base,
                mount_points_exclude=node_exporter_mount_exclude(self._drill_filesystem),
            ),
            PostgresExporterComponent(pg_url, port=pg_exp, base_dir=base),
            RedisExporterComponent(redis_url, port=redis_exp, base_dir=base),
            BlackboxExporterComponent(port=blackbox, base_dir=base),
        )
        self._config_dir = make_owned_dir(f"{RUN_DIR_PREFIX}config-", base)
        self._rendered = render(
            self.monitoring_dir,
            self._config_dir,
            self.profile,
            ScrapeEndpoints(
                backend=f"127.0.0.1:{service_port}",
                prometheus=f"127.0.0.1:{prometheus_port}",
                alertmanager=f"127.0.0.1:{alertmanager_port}",
                node=f"127.0.0.1:{node}",
                postgres=f"127.0.0.1:{pg_exp}",
                redis=f"127.0.0.1:{redis_exp}",
                blackbox=f"127.0.0.1:{blackbox}",
                probe_url=f"http://{fault_proxy.address('probe')}/health/live",
            ),
            self._sinks(),
        )
        self._prometheus = PrometheusComponent(
            self._rendered.prometheus_yml, port=prometheus_port, base_dir=base
        )
        self._start(self._prometheus)
        self._start(self.postgres)
        self._start(self.redis)
        self._fault_proxy = fault_proxy
        self._start(fault_proxy)
        self._service = service
        self._start(service)
        # The incident webhook goes through the receivers' relay: recorded (so the exact set
        # of receivers includes it), then forwarded unchanged to the service.
        self.receivers.set_forward("incident", f"{service.url}/api/webhooks/alertmanager")
        for exporter in exporters:
            self._start(exporter)
        self._alertmanager = AlertmanagerComponent(
            self._rendered.alertmanager_yml, port=alertmanager_port, base_dir=base
        )
        self._start(self._alertmanager)
        self._prometheus.wait_targets_up(timeout=self.ready_timeout)

    def _mount_drill_filesystem(self) -> None:
        self._drill_filesystem, self.drill_filesystem_skip_reason = mount_drill_filesystem(
            self._want_drill_filesystem, self._base_dir, log
        )

    def _sinks(self) -> Sinks:
        r = self.receivers
        return Sinks(
            slack_url=r.slack_url("alertmanager"),
            pagerduty_url=r.pagerduty_url,
            pagerduty_routing_key=PAGERDUTY_ROUTING_KEY,
            smtp_smarthost=r.smtp_smarthost,
            smtp_username=r.smtp_username or "",
            smtp_password=r.smtp_password or "",
            email_from=EMAIL_FROM,
            incident_webhook_url=r.webhook_url("incident"),
            incident_webhook_token=self.credentials.webhook_token,
        )

    def stop(self) -> None:
        errors: list[BaseException] = []
        while self._started:
            component = self._started.pop()
            try:
                component.stop()
            except Exception as error:  # keep stopping the rest, report after
                log.warning("stopping %s failed: %s", component.name, error)
                errors.append(error)
        self._service = self._prometheus = self._alertmanager = None
        self._fault_proxy = None
        drill_fs, self._drill_filesystem = self._drill_filesystem, None
        if drill_fs is not None:
            stop_into(errors, drill_fs.stop)
        stop_into(errors, self.receivers.stop)
        if self._config_dir is not None:
            shutil.rmtree(self._config_dir, ignore_errors=True)
            self._config_dir = None
        self._rendered = None
        self._release_ports()
        if errors:
            raise StackError(f"{len(errors)} component(s) failed to stop: {errors}")
