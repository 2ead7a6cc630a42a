"""The exporters the seed's Prometheus scrapes, each a local process on a free port.

Every exporter is ready when its ``/metrics`` answers 200 (and, where the
exporter reports on another server, contains that server's ``*_up`` metric).
A missing binary raises MissingBinaryError naming the Debian package.
"""

from __future__ import annotations

import abc
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from alertdrill.stack.components.prometheus import ConfigFiles
from alertdrill.stack.components.server import LocalServer
from alertdrill.stack.process import ManagedProcess

__all__ = [
    "DEFAULT_BLACKBOX_CONFIG",
    "DEFAULT_NODE_COLLECTORS",
    "BlackboxExporterComponent",
    "ExporterComponent",
    "NodeExporterComponent",
    "PostgresExporterComponent",
    "RedisExporterComponent",
]

_HTTP_TIMEOUT = 5.0
_READY_HTTP_TIMEOUT = 3.0


class ExporterComponent(LocalServer):
    """An exporter binary serving ``/metrics`` on 127.0.0.1:<free port>."""

    #: Metric name that must appear in /metrics before the exporter counts as ready.
    ready_metric: ClassVar[str | None] = None

    def __init__(
        self,
        *,
        name: str,
        binary: str,
        extra_args: Iterable[str] = (),
        port: int | None = None,
        base_dir: Path | None = None,
        ready_timeout: float = 15.0,
        stop_grace: float = 5.0,
    ) -> None:
        super().__init__(
            name=name,
            port=port,
            base_dir=base_dir,
            ready_timeout=ready_timeout,
            stop_grace=stop_grace,
        )
        self._binary = binary
        self._extra_args = list(extra_args)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def metrics_url(self) -> str:
        return f"{self.url}/metrics"

    @property
    def target(self) -> str:
        """``host:port`` as a scrape config names it."""
        return f"{self.host}:{self.port}"

    def metrics(self, *, timeout: float = _HTTP_TIMEOUT) -> str:
        """The text exposition at /metrics right now."""
        response = httpx.get(self.metrics_url, timeout=timeout)
        response.raise_for_status()
        return response.text

    # -- hooks -------------------------------------------------------------

    @abc.abstractmethod
    def _args(self, run_dir: Path, port: int) -> list[str]: ...

    def _env(self) -> Mapping[str, str] | None:
        return None

    # -- LocalServer hooks -------------------------------------------------

    def _build_process(self, run_dir: Path, port: int) -> ManagedProcess:
        return ManagedProcess(
            self.name,
            self._binary,
            [*self._args(run_dir, port), *self._extra_args],
            package=self.package,
            log_path=run_dir / f"{self.name}.log",
            cwd=run_dir,
            env=self._env(),
            stop_grace=self.stop_grace,
        )

    def _ready(self) -> bool:
        # Not shorter: postgres_exporter 0.11 takes ~1 s per scrape while its database is down.
        response = httpx.get(self.metrics_url, timeout=_READY_HTTP_TIMEOUT)
        if response.status_code != 200:
            return False
        return self.ready_metric is None or has_metric(response.text, self.ready_metric)

    def _hint(self) -> str:
        wanted = f" with {self.ready_metric}" if self.ready_metric else ""
        return f"{self._binary} did not serve {self.host}:{self._port}/metrics{wanted}"


def has_metric(exposition: str, name: str) -> bool:
    """True when the text exposition has a sample of ``name`` (any labels)."""
    return re.search(rf"^{re.escape(name)}[ {{]", exposition, re.MULTILINE) is not None


# -- node_exporter -----------------------------------------------------------

#: What the seed's host alerts need (CPU, memory, disk, load) plus cheap context;
#: the slow or irrelevant ones (hwmon, thermal, rapl, systemd, ...) stay off.
DEFAULT_NODE_COLLECTORS = (
    "cpu",
    "diskstats",
    "filesystem",
    "loadavg",
    "meminfo",
    "netdev",
    "pressure",
    "stat",
    "time",
    "uname",
    "vmstat",
)


class NodeExporterComponent(ExporterComponent):
    """prometheus-node-exporter with a chosen set of collectors.

    node_exporter 1.5 has no mount-point include flag: to see a drill
    filesystem under an excluded prefix (``/mnt``, ``/run``, ...), pass
    ``mount_points_exclude`` that does not match it. ``textfile_dir`` enables
    the textfile collector on that directory.
    """

    package = "prometheus-node-exporter"

    def __init__(
        self,
        *,
        name: str = "node-exporter",
        binary: str = "prometheus-node-exporter",
        collectors: Iterable[str] = DEFAULT_NODE_COLLECTORS,
        mount_points_exclude: str | None = None,
        textfile_dir: str | os.PathLike[str] | None = None,
        extra_args: Iterable[str] = (),
        port: int | None = None,
        base_dir: Path | None = None,
        ready_timeout: float = 15.0,
        stop_grace: float = 5.0,
    ) -> None:
        super().__init__(
            name=name,
            binary=binary,
            extra_args=extra_args,
            port=port,
            base_dir=base_dir,
            ready_timeout=ready_timeout,
            stop_grace=stop_grace,
        )
        self.collectors = tuple(collectors)
        self.mount_points_exclude = mount_points_exclude
        self.textfile_dir = Path(textfile_dir) if textfile_dir is not None else None

    def _args(self, run_dir: Path, port: int) -> list[str]:
        args = [
            f"--web.listen-address={self.host}:{port}",
            "--collector.disable-defaults",
            *(f"--collector.{collector}" for collector in self.collectors),
        ]
        if self.mount_points_exclude is not None:
            args.append(f"--collector.filesystem.mount-points-exclude={self.mount_points_exclude}")
        if self.textfile_dir is not None:
            args += ["--collector.textfile", f"--collector.textfile.directory={self.textfile_dir}"]
        return args


# -- postgres_exporter -------------------------------------------------------


def with_sslmode_disabled(dsn: str) -> str:
    """``dsn`` with ``sslmode=disable`` unless it sets sslmode already.

    postgres_exporter 0.11 uses lib/pq, whose default is ``sslmode=require``:
    against a local server without TLS every scrape would report ``pg_up 0``.
    """
    if "sslmode" in dsn:
        return dsn
    parts = urlsplit(dsn)
    if parts.scheme in ("postgres", "postgresql"):
        query = urlencode([*parse_qsl(parts.query), ("sslmode", "disable")])
        return urlunsplit(parts._replace(query=query))
    return f"{dsn} sslmode=disable"  # key=value form


class PostgresExporterComponent(ExporterComponent):
    """prometheus-postgres-exporter for one PostgreSQL server (``DATA_SOURCE_NAME``).

    Ready when /metrics has ``pg_up`` (0 or 1: the exporter works even while the
    database is down, which is what a database drill needs). Settings metrics
    (``pg_settings_*``, e.g. max_connections) stay on by default; auto-discovery
    of databases stays off (one connection, the named database).
    """

    package = "prometheus-postgres-exporter"
    ready_metric = "pg_up"

    def __init__(
        self,
        data_source_name: str,
        *,
        name: str = "postgres-exporter",
        binary: str = "prometheus-postgres-exporter",
        settings_metrics: bool = True,
        auto_discover_databases: bool = False,
        extra_args: Iterable[str] = (),
        port: int | None = None,
        base_dir: Path | None = None,
        ready_timeout: float = 15.0,
        stop_grace: float = 5.0,
    ) -> None:
        super().__init__(
            name=name,
            binary=binary,
            extra_args=extra_args,
            port=port,
            base_dir=base_dir,
            ready_timeout=ready_timeout,
            stop_grace=stop_grace,
        )
        self.data_source_name = with_sslmode_disabled(data_source_name)
        self.settings_metrics = settings_metrics
        self.auto_discover_databases = auto_discover_databases

    def _args(self, run_dir: Path, port: int) -> list[str]:
        args = [f"--web.listen-address={self.host}:{port}"]
        if not self.settings_metrics:
            args.append("--disable-settings-metrics")
        if self.auto_discover_databases:
            args.append("--auto-discover-databases")
        return args

    def _env(self) -> Mapping[str, str]:
        # In the environment, not argv: the DSN may carry a password.
        return {"DATA_SOURCE_NAME": self.data_source_name}

    def _hint(self) -> str:
        return f"{super()._hint()}; is the DSN right? ({_redact(self.data_source_name)})"


def _redact(dsn: str) -> str:
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


# -- redis_exporter ----------------------------------------------------------


class RedisExporterComponent(ExporterComponent):
    """prometheus-redis-exporter for one Redis server.

    ``connection_timeout`` bounds how long a scrape waits for Redis: keep it
    below Prometheus' scrape timeout, so a frozen Redis reads as ``redis_up 0``
    instead of a failed scrape of the exporter.
    """

    package = "prometheus-redis-exporter"
    ready_metric = "redis_up"

    def __init__(
        self,
        redis_url: str,
        *,
        name: str = "redis-exporter",
        binary: str = "prometheus-redis-exporter",
        connection_timeout: str = "1s",
        extra_args: Iterable[str] = (),
        port: int | None = None,
        base_dir: Path | None = None,
        ready_timeout: float = 15.0,
        stop_grace: float = 5.0,
    ) -> None:
        super().__init__(
            name=name,
            binary=binary,
            extra_args=extra_args,
            port=port,
            base_dir=base_dir,
            ready_timeout=ready_timeout,
            stop_grace=stop_grace,
        )
        self.redis_url = redis_url
        self.connection_timeout = connection_timeout

    def _args(self, run_dir: Path, port: int) -> list[str]:
        return [
            f"-redis.addr={self.redis_url}",
            f"-web.listen-address={self.host}:{port}",
            f"-connection-timeout={self.connection_timeout}",
        ]


# -- blackbox_exporter -------------------------------------------------------

#: Used when no config is given: HTTP 2xx and TCP connect probes over IPv4.
DEFAULT_BLACKBOX_CONFIG = """\
modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
  tcp_connect:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
"""


class BlackboxExporterComponent(ExporterComponent):
    """prometheus-blackbox-exporter; ``config`` defaults to DEFAULT_BLACKBOX_CONFIG.

    A probe's timeout is the smaller of the module's ``timeout`` and
    Prometheus' scrape timeout minus ``timeout_offset`` (the exporter's default
    offset, 0.5 s, exceeds a fast profile's whole scrape timeout, in which case
    the module timeout would apply and the scrape itself would time out first).
    """

    package = "prometheus-blackbox-exporter"

    def __init__(
        self,
        config: ConfigFiles | str | os.PathLike[str] | None = None,
        *,
        name: str = "blackbox-exporter",
        binary: str = "prometheus-blackbox-exporter",
        timeout_offset: float = 0.05,
        extra_args: Iterable[str] = (),
        port: int | None = None,
        base_dir: Path | None = None,
        ready_timeout: float = 15.0,
        stop_grace: float = 5.0,
    ) -> None:
        super().__init__(
            name=name,
            binary=binary,
            extra_args=extra_args,
            port=port,
            base_dir=base_dir,
            ready_timeout=ready_timeout,
            stop_grace=stop_grace,
        )
        self.config = (
            ConfigFiles.from_text(DEFAULT_BLACKBOX_CONFIG, main="blackbox.yml")
            if config is None
            else ConfigFiles.coerce(config, main="blackbox.yml")
        )
        self.timeout_offset = timeout_offset

    def probe_url(self, target: str, module: str = "http_2xx") -> str:
        """The URL Prometheus scrapes to probe ``target`` with ``module``."""
        return f"{self.url}/probe?{urlencode({'module': module, 'target': target})}"

    def probe(self, target: str, module: str = "http_2xx", *, timeout: float = 10.0) -> str:
        """Run one probe now and return its text exposition (``probe_success`` etc.)."""
        response = httpx.get(self.probe_url(target, module), timeout=timeout)
        response.raise_for_status()
        return response.text

    def _args(self, run_dir: Path, port: int) -> list[str]:
        config_path = self.config.materialize(run_dir, component=self.name)
        return [
            f"--config.file={config_path}",
            f"--web.listen-address={self.host}:{port}",
            f"--timeout-offset={self.timeout_offset:g}",
        ]
