"""What each container of the container backend runs: image, aliases, command, environment,
files and readiness, written against the official images' contracts (the stand-ins keep
them, images/README.md).

Names and ports inside the network are those of docker-compose.monitoring.yml and of the
production ``prometheus.yml`` (``backend:8000``, ``alertmanager:9093``, ``node-exporter:9100``,
...), so the configuration is rendered with production targets; only timing and sinks
change. The service reaches PostgreSQL and Redis through the fault proxy (``fault-proxy:5432``,
``fault-proxy:6379``), like the local backend; the exporters reach them directly.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from alertdrill.errors import StackError
from alertdrill.faults.proxy_client import ProxyHandle, ToxiproxyClient
from alertdrill.stack.components.exporters import DEFAULT_NODE_COLLECTORS, has_metric
from alertdrill.stack.components.prometheus import format_duration
from alertdrill.stack.components.service import ServiceComponent, ServiceCredentials
from alertdrill.stack.containers_component import (
    ContainerComponent,
    ContainerSpec,
    FileSpec,
    Ready,
)
from alertdrill.stack.local import SERVICE_LIMITS
from alertdrill.stack.render import Profile, RenderedConfig, ScrapeEndpoints

__all__ = [
    "PORTS",
    "ContainerSettings",
    "FaultProxyContainer",
    "PostgresContainer",
    "build_specs",
    "scrape_endpoints",
]

NOBODY = 65534
#: component -> container port (the first one is the component's main port).
PORTS: Mapping[str, tuple[int, ...]] = {
    "prometheus": (9090,),
    "alertmanager": (9093,),
    "postgres": (5432,),
    "redis": (6379,),
    "fault-proxy": (8474, 5432, 6379),
    "service": (8000,),
    "node-exporter": (9100,),
    "postgres-exporter": (9187,),
    "redis-exporter": (9121,),
    "blackbox-exporter": (9115,),
}
_ALIASES: Mapping[str, tuple[str, ...]] = {
    # "backend" is the production name (prometheus.yml, compose); "service" the harness's.
    "service": ("backend", "service"),
}
_HTTP_TIMEOUT = 1.0
#: The fault proxy's listener in front of the service, for blackbox_exporter's probe.
PROBE_PORT = 8080
#: As the local backend: durability is worthless here, speed is not; drills open well over
#: 80 real connections at once.
_POSTGRES_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "32MB",
}
SERVICE_STORAGE = "/var/lib/alertdrill"


class PostgresContainer(ContainerComponent):
    """PostgreSQL's container; ``url`` is a libpq URL with the run's password."""

    def __init__(self, *args: object, password: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.password = password

    @property
    def url(self) -> str:
        return f"postgresql://postgres:{self.password}@{self.host}:{self.port}/postgres"


class FaultProxyContainer(ContainerComponent):
    """The fault proxy (Toxiproxy API subset) between the service and PostgreSQL/Redis."""

    routes = ("postgres", "redis", "probe")

    def handle(self, name: str, client: ToxiproxyClient) -> ProxyHandle:
        if name not in self.routes:
            raise StackError(
                f"no proxy named {name!r} (known: {', '.join(self.routes)})", component=self.name
            )
        return client.handle(name)


def scrape_endpoints() -> ScrapeEndpoints:
    """Production targets (every container answers to its compose service name), but the
    probe goes through the fault proxy."""
    return ScrapeEndpoints(
        backend="backend:8000",
        prometheus="localhost:9090",
        alertmanager="alertmanager:9093",
        node="node-exporter:9100",
        postgres="postgres-exporter:9187",
        redis="redis-exporter:9121",
        blackbox="blackbox-exporter:9115",
        # Through the fault proxy's probe route, as on the local backend.
        probe_url=f"http://fault-proxy:{PROBE_PORT}/health/live",
    )


@dataclass(frozen=True)
class ContainerSettings:
    images: Mapping[str, str]
    """component -> image to run (resolved: official, stand-in or override)."""
    rendered: RenderedConfig
    profile: Profile
    credentials: ServiceCredentials
    postgres_password: str
    sentry_dsn: str
    host_ports: Mapping[str, Mapping[int, int]]
    node_mount_exclude: str
    """node_exporter's mount-points-exclude (keeps other stacks' drill filesystems out)."""
    drill_mountpoint: str | None = None
    """The host's drill filesystem, bind-mounted into node-exporter at the same path."""
    drill_mount_mode: str = "rw,rslave"
    ready_timeout: float = 60.0


def _flags(flag: str, settings: Mapping[str, str]) -> list[str]:
    return [part for key, value in settings.items() for part in (flag, f"{key}={value}")]


# -- readiness ------------------------------------------------------------------------


def _http_ok(path: str) -> Ready:
    def ready(component: ContainerComponent) -> bool:
        return httpx.get(f"{component.url}{path}", timeout=_HTTP_TIMEOUT).status_code == 200

    return ready


def _metric_ready(metric: str | None) -> Ready:
    def ready(component: ContainerComponent) -> bool:
        response = httpx.get(f"{component.url}/metrics", timeout=3.0)
        return response.status_code == 200 and (metric is None or has_metric(response.text, metric))

    return ready


def _redis_ready(component: ContainerComponent) -> bool:
    with socket.create_connection((component.host, component.port), timeout=_HTTP_TIMEOUT) as conn:
        conn.sendall(b"PING\r\n")
        return conn.recv(16).startswith(b"+PONG")


def _postgres_ready(password: str) -> Ready:
    def ready(component: ContainerComponent) -> bool:
        with psycopg.connect(
            host=component.host,
            port=component.port,
            user="postgres",
            password=password,
            dbname="postgres",
            connect_timeout=2,
        ) as conn:
            conn.execute("SELECT 1")
        return True

    return ready


# -- specs ----------------------------------------------------------------------------


def _files(
    directory: Path, target: str, *, uid: int, secret: frozenset[str]
) -> tuple[FileSpec, ...]:
    """Every file under ``directory`` (rendered config), copied to ``target`` for ``uid``."""
    return tuple(
        FileSpec(
            f"{target}/{path.relative_to(directory).as_posix()}",
            path.read_bytes(),
            mode=0o600 if path.name in secret else 0o644,
            uid=uid,
            gid=uid,
        )
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    )


def build_specs(s: ContainerSettings) -> dict[str, ContainerSpec]:
    """The spec of every container, by component name."""
    rendered = s.rendered
    prometheus_files = tuple(
        FileSpec(f"/etc/prometheus/{path.name}", path.read_bytes(), uid=NOBODY, gid=NOBODY)
        for path in [
            rendered.prometheus_yml,
            *sorted({r.parent / r.name for r in _rule_files(rendered)}),
        ]
    )
    alertmanager_files = (
        FileSpec(
            "/etc/alertmanager/alertmanager.yml",
            rendered.alertmanager_yml.read_bytes(),
            mode=0o600,  # holds the sinks' credentials
            uid=NOBODY,
            gid=NOBODY,
        ),
        *_files(
            rendered.directory / "templates",
            "/etc/alertmanager/templates",
            uid=NOBODY,
            secret=frozenset(),
        ),
    )
    pg_password = s.postgres_password
    database_url = f"postgresql://postgres:{pg_password}@fault-proxy:5432/postgres"
    service_env = ServiceComponent(
        database_url=database_url,
        redis_url="redis://fault-proxy:6379/0",
        credentials=s.credentials,
        sentry_dsn=s.sentry_dsn,
        # Declared limits, as on the local backend (SERVICE_LIMITS says why these values).
        # Not enforced as cgroup limits: the memory drill's hog is sized against the declared
        # limit and would be OOM-killed by a real one before HighMemoryUsage could fire.
        extra_env=SERVICE_LIMITS,
    ).environment(Path(SERVICE_STORAGE), 8000)
    service_env["HOST"] = "0.0.0.0"  # in the container; published on 127.0.0.1 only

    def spec(name: str, *, image: str | None = None, **kwargs: object) -> ContainerSpec:
        return ContainerSpec(
            name=name,
            image=image or s.images[name],
            ports=PORTS[name],
            aliases=_ALIASES.get(name, (name,)),
            ready_timeout=s.ready_timeout,
            **kwargs,  # type: ignore[arg-type]
        )

    specs = [
        spec(
            "prometheus",
            command=(
                "--config.file=/etc/prometheus/prometheus.yml",
                "--storage.tsdb.path=/prometheus",
                "--web.enable-lifecycle",
                # As the local backend: re-send firing alerts every evaluation.
                f"--rules.alert.resend-delay={format_duration(s.profile.evaluation_interval)}",
                f"--web.external-url=http://127.0.0.1:{s.host_ports['prometheus'][9090]}/",
            ),
            files=prometheus_files,
            ready=_http_ok("/-/ready"),
            hint="check the rendered prometheus.yml with promtool",
        ),
        spec(
            "alertmanager",
            command=(
                "--config.file=/etc/alertmanager/alertmanager.yml",
                "--storage.path=/alertmanager",
                f"--web.external-url=http://127.0.0.1:{s.host_ports['alertmanager'][9093]}/",
                # Single node: no gossip, no settle wait before /-/ready.
                "--cluster.listen-address=",
            ),
            files=alertmanager_files,
            ready=_http_ok("/-/ready"),
            hint="check the rendered alertmanager.yml with amtool check-config",
        ),
        spec(
            "postgres",
            environment={
                "POSTGRES_PASSWORD": pg_password,
                "POSTGRES_INITDB_ARGS": "--no-sync",
            },
            command=("postgres", *_flags("-c", _POSTGRES_SETTINGS)),
            ready=_postgres_ready(pg_password),
            stop_grace=15.0,
        ),
        spec(
            "redis",
            command=("redis-server", "--save", "", "--appendonly", "no"),
            ready=_redis_ready,
            scheme="redis",
        ),
        spec(
            "fault-proxy",
            image=s.images["service"],
            entrypoint=("python3", "-m", "alertdrill.faults.proxy_server", "--listen-any"),
            command=(
                "--api=0.0.0.0:8474",
                "--proxy=postgres=0.0.0.0:5432=postgres:5432",
                "--proxy=redis=0.0.0.0:6379=redis:6379",
                # The prober's path to the service, as on the local backend: outage("probe")
                # is ServiceDown's second leg while the service keeps serving.
                f"--proxy=probe=0.0.0.0:{PROBE_PORT}=backend:8000",
            ),
            ready=_http_ok("/proxies"),
            stop_grace=5.0,
        ),
        spec(
            "service",
            environment=service_env,
            ready=_http_ok("/health/ready"),
            hint="the service did not report ready: are postgres, redis and the fault proxy up?",
        ),
        spec(
            "node-exporter",
            command=(
                "--collector.disable-defaults",
                *(f"--collector.{c}" for c in DEFAULT_NODE_COLLECTORS),
                # This run's drill filesystem, not those of other stacks on the host.
                f"--collector.filesystem.mount-points-exclude={s.node_mount_exclude}",
            ),
            # The drill filesystem at the host's path, so the mountpoint label is the path the
            # disk drills fill. Read-write: a read-only mount reads as
            # node_filesystem_readonly 1, which LowDiskSpace rightly ignores (node_exporter
            # never writes). rslave: filesystems a drill mounts inside it later show up too.
            binds=(
                ((s.drill_mountpoint, s.drill_mountpoint, s.drill_mount_mode),)
                if s.drill_mountpoint
                else ()
            ),
            ready=_metric_ready(None),
            stop_grace=5.0,
        ),
        spec(
            "postgres-exporter",
            environment={
                "DATA_SOURCE_NAME": (
                    f"postgresql://postgres:{pg_password}@postgres:5432/postgres?sslmode=disable"
                )
            },
            ready=_metric_ready("pg_up"),
            stop_grace=5.0,
        ),
        spec(
            "redis-exporter",
            environment={"REDIS_ADDR": "redis://redis:6379"},
            # Below the scrape timeout: a frozen Redis reads as redis_up 0, not a failed scrape.
            command=("-connection-timeout=1s",),
            ready=_metric_ready("redis_up"),
            stop_grace=5.0,
        ),
        spec(
            "blackbox-exporter",
            command=("--config.file=/etc/blackbox_exporter/config.yml", "--timeout-offset=0.05"),
            files=(
                FileSpec(
                    "/etc/blackbox_exporter/config.yml",
                    rendered.blackbox_yml.read_bytes(),
                ),
            ),
            ready=_metric_ready(None),
            stop_grace=5.0,
        ),
    ]
    return {sp.name: sp for sp in specs}


def _rule_files(rendered: RenderedConfig) -> list[Path]:
    """The rendered rule files (every YAML beside prometheus.yml but the other configs)."""
    others = {
        rendered.prometheus_yml.name,
        rendered.alertmanager_yml.name,
        rendered.blackbox_yml.name,
    }
    return [p for p in sorted(rendered.directory.glob("*.yml")) if p.name not in others]
