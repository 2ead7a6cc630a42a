"""The container backend: the same stack as ``LocalStack``, each component a container.

Everything runs on one user-defined bridge network created for the run; containers find
each other by the compose service names (``backend``, ``postgres``, ``alertmanager``, ...),
so Prometheus runs the production targets. Every container publishes its ports on 127.0.0.1
only, on host ports the stack chooses (stable across stop/start), and the harness talks to
them there. No container needs any other network: the images are local, DNS outside the
network's own names fails at once.

The receivers stay in the harness process, as in the local backend (the records are read in
memory). Containers reach them through the network's gateway address, which is the host's
own address on this run's bridge: the receivers bind that address (not 0.0.0.0, and not
127.0.0.1, which inside a container is the container itself), and every container maps
``host.docker.internal`` to it (``--add-host``; Docker's ``host-gateway`` would name the
default bridge's gateway instead, which need not exist and is not this network). The
address exists only on this machine's bridge interface: nothing outside the machine can
reach the receivers, and the containers reach nothing but each other and the receivers.

Start: remove the leftovers of earlier runs (their creating process is gone), create the
network, start the receivers on its gateway, resolve the images (official, else stand-in,
else a pull that names ``alertdrill images build`` when it fails), render the configuration,
launch every container but the service at once, the service when PostgreSQL, Redis and the
fault proxy answer, then wait until every container is ready and every scrape target is up.
A failed start removes what it created. Stop removes every container, volume and the network
of the run (by label, so nothing is missed), also from an ``atexit`` hook after Ctrl-C.
"""

from __future__ import annotations

import atexit
import logging
import secrets
import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from alertdrill.errors import ExpectationFailed, StackError
from alertdrill.images.catalog import ImageChoice, env_overrides
from alertdrill.receivers import Receivers
from alertdrill.stack.base import Component
from alertdrill.stack.components.drill_filesystem import (
    DrillFilesystem,
    node_exporter_mount_exclude,
)
from alertdrill.stack.components.service import ServiceCredentials
from alertdrill.stack.containers_component import HOST_ALIAS, ContainerComponent, ContainerSpec
from alertdrill.stack.containers_dns import NxdomainServer
from alertdrill.stack.containers_engine import (
    Leftovers,
    connect,
    new_run_id,
    remove_leftovers,
    remove_run,
    run_labels,
)
from alertdrill.stack.containers_grafana import GRAFANA_PORT, GrafanaProvisioning, grafana_spec
from alertdrill.stack.containers_images import grafana_image, grafana_skip_reason, resolve_images
from alertdrill.stack.containers_specs import (
    PORTS,
    ContainerSettings,
    FaultProxyContainer,
    PostgresContainer,
    build_specs,
    scrape_endpoints,
)
from alertdrill.stack.local import EMAIL_FROM, MONITORING_DIR, PAGERDUTY_ROUTING_KEY
from alertdrill.stack.owned_dirs import make_owned_dir, sweep
from alertdrill.stack.render import FAST, Profile, RenderedConfig, Sinks, render
from alertdrill.stack.shared import (
    OwnedStack,
    mount_drill_filesystem,
    require,
    stop_into,
)
from alertdrill.timing import eventually

if TYPE_CHECKING:
    from testcontainers.core.docker_client import DockerClient

__all__ = ["ContainerStack"]

log = logging.getLogger(__name__)

_RUN_DIR_PREFIX = "alertdrill-containers-"
#: Started first, all at once; the service follows once its dependencies answer.
_FIRST_WAVE = (
    "prometheus",
    "postgres",
    "redis",
    "fault-proxy",
    "alertmanager",
    "node-exporter",
    "postgres-exporter",
    "redis-exporter",
    "blackbox-exporter",
)
_SERVICE_NEEDS = ("postgres", "redis", "fault-proxy")
_IMAGE_COMPONENTS = tuple(name for name in PORTS if name != "fault-proxy")


class ContainerStack(OwnedStack):
    """PostgreSQL, Redis, the fault proxy, the service, four exporters, Alertmanager and
    Prometheus as containers; the receivers in this process. Same handles as LocalStack."""

    def __init__(
        self,
        *,
        profile: Profile = FAST,
        monitoring_dir: Path = MONITORING_DIR,
        base_dir: Path | None = None,
        credentials: ServiceCredentials | None = None,
        ready_timeout: float = 60.0,
        images: Mapping[str, str] | None = None,
        drill_filesystem: bool | None = None,
    ) -> None:
        """``drill_filesystem``: as LocalStack's (None: mount one when this machine can)."""
        self.profile = profile
        self.monitoring_dir = monitoring_dir
        self.credentials = credentials or ServiceCredentials()
        self.ready_timeout = ready_timeout
        self._base_dir = base_dir
        self._image_overrides = dict(images or {})
        self.image_choices: tuple[ImageChoice, ...] = ()
        self._want_drill_filesystem = drill_filesystem
        self._drill_filesystem: DrillFilesystem | None = None
        self._drill_shared = False
        self.drill_filesystem_skip_reason: str | None = "the stack is not started"
        self.grafana_skip_reason: str | None = "not started"
        #: Grafana's admin password for this run (when Grafana runs; user "admin").
        self.grafana_password = secrets.token_urlsafe(12)
        self.leftovers_removed = Leftovers()
        self.ready_seconds: float | None = None
        self._engine: DockerClient | None = None
        self._run_id: str | None = None
        self._network_name: str | None = None
        self._receivers: Receivers | None = None
        self._rendered: RenderedConfig | None = None
        self._run_dir: Path | None = None
        """Rendered config (``config/``) and captured container output (``logs/``)."""
        self._components: dict[str, ContainerComponent] = {}
        self._reserved: list[int] = []
        self._nxdomain: NxdomainServer | None = None

    # -- handles -------------------------------------------------------------

    def _get(self, name: str) -> ContainerComponent:
        return require(self._components.get(name), name)

    @property
    def receivers(self) -> Receivers:
        return require(self._receivers, "receivers")

    @property
    def service(self) -> ContainerComponent:
        return self._get("service")

    @property
    def prometheus(self) -> ContainerComponent:
        return self._get("prometheus")

    @property
    def alertmanager(self) -> ContainerComponent:
        return self._get("alertmanager")

    @property
    def redis(self) -> ContainerComponent:
        return self._get("redis")

    @property
    def postgres(self) -> PostgresContainer:
        component = self._get("postgres")
        assert isinstance(component, PostgresContainer)
        return component

    @property
    def fault_proxy(self) -> FaultProxyContainer:
        component = self._get("fault-proxy")
        assert isinstance(component, FaultProxyContainer)
        return component

    @property
    def run_id(self) -> str | None:
        """Value of the ``alertdrill.run`` label on everything this run created."""
        return self._run_id

    @property
    def network(self) -> str:
        return require(self._network_name, "network")

    @property
    def endpoints(self) -> Mapping[str, str]:
        urls = {name: c.url for name, c in self._components.items()}
        if self._receivers is not None and self._receivers.running:
            urls["receivers"] = self._receivers.http_url
            urls["smtp"] = self._receivers.smtp_smarthost
        return urls

    def component(self, name: str) -> Component:
        if name in self._components:
            return self._components[name]
        known = ", ".join(self._components) or "none running"
        raise StackError(f"no component named {name!r} (known: {known})", component=name)

    def components(self) -> tuple[ContainerComponent, ...]:
        return tuple(self._components.values())

    def container(self, name: str) -> ContainerComponent:
        """The container component ``name`` (for container faults)."""
        return self._get(name)

    def logs(self, tail: int = 40) -> dict[str, str]:
        return {name: c.logs(tail) for name, c in self._components.items()}

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        atexit.register(self.stop)
        super().start()

    def _start_all(self) -> None:
        started = time.monotonic()
        # One streaming connection per container follows its logs: room for those and more.
        engine = self._engine = connect(max_pool_size=32)
        self.leftovers_removed = remove_leftovers(engine)
        if self.leftovers_removed:
            log.warning("removed leftovers of earlier runs: %s", self.leftovers_removed.describe())
        run_id = self._run_id = new_run_id()
        labels = run_labels(run_id)
        network = engine.client_networks_create(
            f"alertdrill-{run_id}", {"driver": "bridge", "labels": labels}
        )
        self._network_name = str(network.name)
        network.reload()
        gateway = str(network.attrs["IPAM"]["Config"][0]["Gateway"])
        self._start_dns(gateway)
        receivers = self._receivers = Receivers(host=gateway)
        receivers.start()
        overrides = {**env_overrides(), **self._image_overrides}
        self.image_choices = resolve_images(engine.client, _IMAGE_COMPONENTS, overrides)
        self.grafana_skip_reason = grafana_skip_reason(engine.client, overrides)
        grafana = grafana_image(engine.client, overrides)
        if self.grafana_skip_reason:
            log.warning("%s", self.grafana_skip_reason)
        images = {c.component: c.image for c in self.image_choices}
        host_ports = {name: {p: self._reserve() for p in ports} for name, ports in PORTS.items()}
        if grafana is not None:
            host_ports["grafana"] = {GRAFANA_PORT: self._reserve()}
        # Owned (pid + start time): a later run sweeps it if this one is killed outright.
        sweep(_RUN_DIR_PREFIX, self._base_dir)
        self._run_dir = make_owned_dir(_RUN_DIR_PREFIX, self._base_dir)
        self._rendered = render(
            self.monitoring_dir,
            self._run_dir / "config",
            self.profile,
            scrape_endpoints(),
            self._sinks(receivers, gateway),
        )
        self._mount_drill_filesystem()
        drill_fs = self._drill_filesystem
        postgres_password = secrets.token_urlsafe(18)
        specs = build_specs(
            ContainerSettings(
                images=images,
                rendered=self._rendered,
                profile=self.profile,
                credentials=self.credentials,
                postgres_password=postgres_password,
                sentry_dsn=f"http://public@{HOST_ALIAS}:{receivers.http_port}/1",
                host_ports=host_ports,
                node_mount_exclude=node_exporter_mount_exclude(drill_fs),
                drill_mountpoint=str(drill_fs.mountpoint) if drill_fs is not None else None,
                drill_mount_mode="rw,rslave" if self._drill_shared else "rw",
                ready_timeout=self.ready_timeout,
            )
        )
        if grafana is not None:
            specs["grafana"] = grafana_spec(
                grafana,
                GrafanaProvisioning.read(self.monitoring_dir / "grafana"),
                admin_password=self.grafana_password,
                ready_timeout=self.ready_timeout,
            )
        for name, spec in specs.items():
            self._components[name] = self._component(
                spec, host_ports[name], labels, run_id, gateway, postgres_password
            )
        for name in (*_FIRST_WAVE, "grafana"):
            if name in self._components:
                self._components[name].launch()
        for name in _SERVICE_NEEDS:
            self._components[name].wait_ready()
        self._components["service"].launch()
        for component in self._components.values():
            component.wait_ready()
        receivers.set_forward("incident", f"{self.service.url}/api/webhooks/alertmanager")
        self._wait_targets_up()
        self.ready_seconds = time.monotonic() - started

    def _component(
        self,
        spec: ContainerSpec,
        host_ports: Mapping[int, int],
        labels: Mapping[str, str],
        run_id: str,
        gateway: str,
        postgres_password: str,
    ) -> ContainerComponent:
        engine = self._engine
        assert engine is not None and self._network_name is not None
        kwargs = {
            "network": self._network_name,
            "host_ports": host_ports,
            "labels": labels,
            "run_id": run_id,
            "extra_hosts": {HOST_ALIAS: gateway},
            "dns": (gateway,) if self._nxdomain is not None else ("127.0.0.1",),
            "log_dir": self._run_dir / "logs" if self._run_dir is not None else None,
        }
        if spec.name == "postgres":
            return PostgresContainer(engine, spec, password=postgres_password, **kwargs)
        if spec.name == "fault-proxy":
            return FaultProxyContainer(engine, spec, **kwargs)  # type: ignore[arg-type]
        return ContainerComponent(engine, spec, **kwargs)  # type: ignore[arg-type]

    def _mount_drill_filesystem(self) -> None:
        """As the local backend: by default whenever this machine can (root, loop devices)."""
        self._drill_filesystem, self.drill_filesystem_skip_reason = mount_drill_filesystem(
            self._want_drill_filesystem, self._base_dir, log
        )
        drill_fs = self._drill_filesystem
        if drill_fs is None:
            return
        # Shared, so node-exporter's rslave bind of it also sees filesystems mounted inside
        # it later (the grouping drill mounts a second one there).
        shared = subprocess.run(
            ["mount", "--make-rshared", str(drill_fs.mountpoint)],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        self._drill_shared = shared.returncode == 0
        if not self._drill_shared:
            log.warning("drill filesystem not shared: %s", shared.stderr.strip())

    def _start_dns(self, gateway: str) -> NxdomainServer | None:
        server = NxdomainServer(gateway)
        try:
            server.start()
        except OSError as error:
            log.warning(
                "no NXDOMAIN server on %s:53 (%s): lookups of stopped containers will take "
                "the resolver's timeout (1 s)",
                gateway,
                error,
            )
            return None
        self._nxdomain = server
        return server

    def _sinks(self, receivers: Receivers, gateway: str) -> Sinks:
        """The receivers' URLs as containers reach them (through ``host.docker.internal``)."""
        inside = f"http://{HOST_ALIAS}:{receivers.http_port}"

        def via_host(url: str) -> str:
            return inside + url.removeprefix(receivers.http_url)

        return Sinks(
            slack_url=via_host(receivers.slack_url("alertmanager")),
            pagerduty_url=via_host(receivers.pagerduty_url),
            pagerduty_routing_key=PAGERDUTY_ROUTING_KEY,
            smtp_smarthost=f"{HOST_ALIAS}:{receivers.smtp_port}",
            smtp_username=receivers.smtp_username or "",
            smtp_password=receivers.smtp_password or "",
            email_from=EMAIL_FROM,
            incident_webhook_url=via_host(receivers.webhook_url("incident")),
            incident_webhook_token=self.credentials.webhook_token,
        )

    def _wait_targets_up(self) -> None:
        jobs = set(self.rendered.scrape_intervals)
        url = f"{self.prometheus.url}/api/v1/targets"
        seen: list[tuple[str, str, str]] = []

        def all_up() -> bool:
            response = httpx.get(url, params={"state": "active"}, timeout=2.0)
            response.raise_for_status()
            active = response.json()["data"]["activeTargets"]
            seen[:] = [(t["scrapePool"], t["health"], t.get("lastError", "")) for t in active]
            return jobs <= {job for job, _, _ in seen} and all(h == "up" for _, h, _ in seen)

        try:
            eventually(all_up, within=self.ready_timeout, every=0.1, what="every target up")
        except ExpectationFailed as error:
            problems = [f"{job} is {health}: {err}" for job, health, err in seen if health != "up"]
            problems += [
                f"{job}: no active target" for job in sorted(jobs - {j for j, _, _ in seen})
            ]
            raise StackError(
                "targets not up: " + "; ".join(problems),
                component="prometheus",
                hint="a target 'down' shows the scrape error; 'no active target' means "
                "discovery has not synced yet (~5 s after start)",
                log_tail=self.prometheus.logs(30),
            ) from error

    def stop(self) -> None:
        atexit.unregister(self.stop)
        errors: list[BaseException] = []
        for component in reversed(list(self._components.values())):
            component.remove()
        self._components.clear()
        if self._engine is not None and self._run_id is not None:
            try:
                # Everything carrying this run's label: the network, the named volumes, and
                # any container a failed create left without a handle.
                left = remove_run(self._engine, self._run_id)
                log.debug("removed run %s: %s", self._run_id, left.describe())
            except Exception as error:  # reported with the rest
                errors.append(error)
        self._network_name = None
        drill_fs, self._drill_filesystem = self._drill_filesystem, None
        if drill_fs is not None:
            # After node-exporter, which had it bind-mounted, is gone.
            stop_into(errors, drill_fs.stop)
        if self._nxdomain is not None:
            self._nxdomain.stop()
            self._nxdomain = None
        if self._receivers is not None:
            stop_into(errors, self._receivers.stop)
        if self._run_dir is not None:
            shutil.rmtree(self._run_dir, ignore_errors=True)
            self._run_dir = None
        self._rendered = None
        self._release_ports()
        if errors:
            raise StackError(f"container stack teardown: {errors}")
