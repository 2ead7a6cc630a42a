"""The external backend: drills against a stack alertdrill did not start (staging).

``ExternalStack`` is built from URLs — Prometheus, Alertmanager, the service, and optionally
an alertdrill receiver sink Alertmanager delivers to (``receivers_url``), the Toxiproxy API
of a fault proxy between the service and its dependencies (``fault_proxy_url``) and a
PostgreSQL DSN for connection-pressure drills — plus the credentials drills use
(``ServiceCredentials``: fault-admin token, webhook token, superuser; "" for one not given)
and the set of fault classes it allows. It is a ``DrillStack``, so ``DrillSession`` runs on it
unchanged:

* ``start()`` starts nothing: it waits (``ready_timeout``) until every URL answers ready —
  ``/-/ready``, the service's ``/health/ready``, the sink's read API, the proxy's
  ``/proxies`` — then reads the live configuration (``live_config``). A failure is a
  ``StackError`` naming the URL. ``stop()`` stops nothing: it closes the reader and removes
  the private copy of the live configuration.
* ``rendered``: timing profile, rules and detection floors from what Prometheus and
  Alertmanager have loaded, computed like the rendered configs' (``floors``).
* ``receivers``: a ``RemoteReceivers`` on ``receivers_url``; without one, a
  ``NoReceiverCapture``: every notification expectation fails with "no receiver capture
  configured" (``receiver_capture_skip_reason`` says so up front, for a runner to skip).
* ``component(name)``: StackError. Processes of a stack alertdrill did not start are out of
  its reach; process faults need ``--stack local`` or ``containers``.
* No drill filesystem (``drill_filesystem_skip_reason`` says why), no logs.
  ``monitoring_dir`` is where the production rule files are (the repository's by default):
  the live duration scale is inferred against them, and the coverage recorder digests them.

Fault policy (``alertdrill.faults.classes``): ``allows(fault_class) -> bool`` and
``refusal(fault_class) -> str`` (the reason, "" when allowed). A class is allowed when it is
in ``allow`` (default ``NON_DESTRUCTIVE``: service and traffic, see ``faults.classes`` for
why) and this stack can inject it: network faults need ``fault_proxy_url``, service faults the
fault-admin token; process faults are always refused (no handle on the processes).
``DrillSession`` refuses a fault of a refused class with a ``FaultError`` naming the class and
``--allow-faults``; its reset only clears the service faults and proxy toxics of allowed
classes — on this shared stack only this session's own service faults (by id), never the
proxy-wide reset (``alertdrill.session_scope``).

Shared: ``shared`` is True, so ``DrillSession`` snapshots the alerts active when its first
drill begins and its reset ignores them (and their notifications) instead of waiting for
someone else's alerts to resolve.

Command line (``external_cli``, re-exported here): ``add_external_arguments(parser)`` adds the
flags, ``external_stack_from_args`` builds the stack (each flag falls back to an
``ALERTDRILL_*`` variable; pass secrets through the environment). ``backends.make_stack``
does not build this backend: it cannot be made without URLs.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import httpx

from alertdrill.clients import AlertmanagerClient
from alertdrill.clients._http import JsonHttp
from alertdrill.errors import ConfigError, ExpectationFailed, StackError
from alertdrill.faults.classes import (
    ALLOW_FAULTS_ENV,
    ALLOW_FAULTS_FLAG,
    NON_DESTRUCTIVE,
    FaultClass,
    format_fault_classes,
)
from alertdrill.faults.proxy_client import ProxyHandle, ToxiproxyClient
from alertdrill.lifecycle import StartStopContext
from alertdrill.receivers.capture import NoReceiverCapture, ReceiverCapture
from alertdrill.receivers.remote import RemoteReceivers
from alertdrill.stack.base import Component
from alertdrill.stack.components.drill_filesystem import DrillFilesystem
from alertdrill.stack.components.service import ServiceCredentials
from alertdrill.stack.external_cli import (
    ENVIRONMENT,
    add_external_arguments,
    external_stack_from_args,
)
from alertdrill.stack.live_config import live_rendered_config
from alertdrill.stack.local import MONITORING_DIR
from alertdrill.stack.render import RenderedConfig
from alertdrill.timing import Deadline, eventually

if TYPE_CHECKING:
    from alertdrill.stack.drill_stack import DrillStack

__all__ = [
    "ENVIRONMENT",
    "ExternalEndpoint",
    "ExternalFaultProxy",
    "ExternalStack",
    "add_external_arguments",
    "external_stack_from_args",
]

NO_FILESYSTEM = (
    "an external stack has no drill filesystem: disk-fill drills need --stack local or containers"
)
NO_FAULT_PROXY = "no fault proxy configured (pass --fault-proxy-url: a Toxiproxy API)"
NO_POSTGRES = (
    "no PostgreSQL DSN configured (set ALERTDRILL_POSTGRES_URL: connection-pressure drills "
    "open real sessions on it)"
)
_PROCESS_REFUSAL = (
    "process faults (kill, stop, pause, restart) are refused on an external stack: alertdrill "
    "has no handle on processes it did not start, which --allow-faults cannot change; use "
    "--stack local or containers"
)


@dataclass(frozen=True)
class ExternalEndpoint:
    """One component of the external stack: its name and the URL (or DSN) to reach it."""

    name: str
    url: str

    def __repr__(self) -> str:
        # A DSN may carry a password: never into a log line or a failure message.
        return f"ExternalEndpoint(name={self.name!r}, url={_redacted(self.url)!r})"


@dataclass(frozen=True)
class ExternalFaultProxy:
    """A Toxiproxy API someone else runs; ``url`` "" when none is configured."""

    url: str

    def handle(self, name: str, client: ToxiproxyClient) -> ProxyHandle:
        if not self.url:
            raise StackError(NO_FAULT_PROXY, component="fault-proxy")
        known = client.proxies()
        if name not in known:
            raise StackError(
                f"the fault proxy at {self.url} has no proxy named {name!r} "
                f"(known: {', '.join(sorted(known)) or 'none'})",
                component="fault-proxy",
            )
        return client.handle(name)


class ExternalStack(StartStopContext):
    """A running stack reached by URL; see the module docstring."""

    def __init__(
        self,
        *,
        prometheus_url: str,
        alertmanager_url: str,
        service_url: str,
        credentials: ServiceCredentials,
        receivers_url: str | None = None,
        fault_proxy_url: str | None = None,
        postgres_dsn: str | None = None,
        allow: Collection[FaultClass] = NON_DESTRUCTIVE,
        monitoring_dir: Path = MONITORING_DIR,
        ready_timeout: float = 30.0,
        request_timeout: float = 5.0,
    ) -> None:
        self.prometheus = ExternalEndpoint("prometheus", _http_url("prometheus", prometheus_url))
        self.alertmanager = ExternalEndpoint(
            "alertmanager", _http_url("alertmanager", alertmanager_url)
        )
        self.service = ExternalEndpoint("service", _http_url("service", service_url))
        self.receivers_url = _http_url("receivers", receivers_url) if receivers_url else None
        self.fault_proxy = ExternalFaultProxy(
            _http_url("fault-proxy", fault_proxy_url) if fault_proxy_url else ""
        )
        self._postgres_dsn = postgres_dsn or None
        self.credentials = credentials
        self.allowed: frozenset[FaultClass] = frozenset(allow)
        self.monitoring_dir = monitoring_dir
        self.ready_timeout = ready_timeout
        self.request_timeout = request_timeout
        self.receivers: ReceiverCapture = (
            RemoteReceivers(self.receivers_url, timeout=request_timeout)
            if self.receivers_url
            else NoReceiverCapture()
        )
        self.drill_filesystem_skip_reason: str | None = NO_FILESYSTEM
        self._rendered: RenderedConfig | None = None
        self._config_dir: Path | None = None

    # -- handles ---------------------------------------------------------------

    @property
    def receiver_capture_skip_reason(self) -> str | None:
        """Why notifications cannot be checked here; None when a sink is configured."""
        return None if self.receivers_url else NoReceiverCapture.skip_reason

    @property
    def postgres(self) -> ExternalEndpoint:
        if self._postgres_dsn is None:
            raise StackError(NO_POSTGRES, component="postgres")
        return ExternalEndpoint("postgres", self._postgres_dsn)

    @property
    def drill_filesystem(self) -> DrillFilesystem:
        raise StackError(NO_FILESYSTEM, component="drill-filesystem")

    @property
    def rendered(self) -> RenderedConfig:
        if self._rendered is None:
            raise StackError(
                "the live configuration is not loaded: start() the external stack first",
                component="rendered config",
            )
        return self._rendered

    @property
    def endpoints(self) -> Mapping[str, str]:
        urls = {e.name: e.url for e in (self.prometheus, self.alertmanager, self.service)}
        if self.receivers_url:
            urls["receivers"] = self.receivers_url
        if self.fault_proxy.url:
            urls["fault-proxy"] = self.fault_proxy.url
        if self._postgres_dsn:
            urls["postgres"] = _redacted(self._postgres_dsn)
        return MappingProxyType(urls)

    def component(self, name: str) -> Component:
        raise StackError(
            f"no process access on an external stack: {name!r} cannot be killed, stopped, "
            "paused or restarted from here",
            component=name,
            hint="process faults need --stack local or --stack containers",
        )

    def logs(self, tail: int = 40) -> dict[str, str]:
        """Nothing: the components' logs live with whoever runs them."""
        return {}

    @property
    def shared(self) -> bool:
        """Always: others' alerts and faults live here too. ``DrillSession`` then settles
        only on alerts it caused and deletes only its own faults (``session_scope``)."""
        return True

    # -- fault policy ------------------------------------------------------------

    def allows(self, fault_class: FaultClass) -> bool:
        return not self.refusal(fault_class)

    def refusal(self, fault_class: FaultClass) -> str:
        """Why a drill may not inject ``fault_class`` here; "" when it may."""
        if fault_class is FaultClass.PROCESS:  # allowed or not: impossible here
            return _PROCESS_REFUSAL
        if fault_class not in self.allowed:
            wider = format_fault_classes(self.allowed | {fault_class})
            why = (
                "excluded by the allowed classes"
                if fault_class in NON_DESTRUCTIVE
                else "they are destructive on a stack others use"
            )
            return (
                f"{fault_class.value} faults ({fault_class.description}) are refused on this "
                f"external stack (allowed: {format_fault_classes(self.allowed)}): {why}. "
                f"To allow them, pass {ALLOW_FAULTS_FLAG} {wider} "
                f"(or set {ALLOW_FAULTS_ENV}={wider})"
            )
        if fault_class is FaultClass.NETWORK and not self.fault_proxy.url:
            return f"network faults are allowed but cannot run: {NO_FAULT_PROXY}"
        if fault_class is FaultClass.SERVICE and not self.credentials.faults_token:
            return (
                "service faults are allowed but cannot run: no fault-admin token (set "
                f"{ENVIRONMENT['faults_token']} to the service's FAULTS_TOKEN)"
            )
        return ""

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        """Wait until every URL answers ready, then load the live configuration."""
        try:
            self._wait_ready()
            self._rendered = self._load_live_config()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        deadline = Deadline.after(self.ready_timeout)
        checks = [
            ("prometheus", f"{self.prometheus.url}/-/ready"),
            ("alertmanager", f"{self.alertmanager.url}/-/ready"),
            ("service", f"{self.service.url}/health/ready"),
        ]
        if self.fault_proxy.url:
            checks.append(("fault-proxy", f"{self.fault_proxy.url}/proxies"))
        # One hung URL may not hold the readiness check much beyond its deadline.
        with httpx.Client(timeout=min(self.request_timeout, self.ready_timeout)) as http:
            for name, url in checks:
                self._until(deadline, name, url, functools.partial(_answers_200, http, url))
        if isinstance(self.receivers, RemoteReceivers):
            reader = self.receivers
            self._until(deadline, "receivers", f"{reader.url}/-/records", reader.check)

    def _until(self, deadline: Deadline, name: str, url: str, ready: Callable[[], object]) -> None:
        try:
            eventually(ready, within=deadline.remaining(), every=0.2, what=f"{url} ready")
        except ExpectationFailed as error:
            raise StackError(
                f"{url} not ready within {self.ready_timeout:g}s "
                f"(last: {error.last_observation!s})",
                component=name,
                hint=f"is {name} running and reachable from here at that URL?",
            ) from error

    def _load_live_config(self) -> RenderedConfig:
        prometheus, alertmanager = self.prometheus.url, self.alertmanager.url
        with (
            _naming(prometheus, "/api/v1/status/config, /api/v1/rules"),
            JsonHttp(prometheus, component="prometheus", timeout=self.request_timeout) as http,
        ):
            status = http.json("GET", "/api/v1/status/config")
            rules = http.json("GET", "/api/v1/rules")
        with (
            _naming(alertmanager, "/api/v2/status"),
            AlertmanagerClient(alertmanager, timeout=self.request_timeout) as am,
        ):
            config_yaml = am.status().config_yaml
        self._config_dir = Path(tempfile.mkdtemp(prefix="alertdrill-live-config-"))
        return live_rendered_config(
            status, rules, config_yaml, self._config_dir, monitoring_dir=self.monitoring_dir
        )

    def stop(self) -> None:
        """Stop nothing; close the receiver reader and drop the live-config copy. Idempotent."""
        if isinstance(self.receivers, RemoteReceivers):
            self.receivers.close()
        if self._config_dir is not None:
            shutil.rmtree(self._config_dir, ignore_errors=True)
            self._config_dir = None
        self._rendered = None

    def __repr__(self) -> str:
        return (
            f"<ExternalStack prometheus={self.prometheus.url} service={self.service.url} "
            f"allow={format_fault_classes(self.allowed)}>"
        )


if TYPE_CHECKING:

    def _is_drill_stack(stack: ExternalStack) -> DrillStack:
        return stack  # mypy proves ExternalStack has every handle DrillSession uses


@contextlib.contextmanager
def _naming(url: str, paths: str) -> Iterator[None]:
    """A StackError while reading the live configuration names the URL it came from."""
    try:
        yield
    except StackError as error:
        raise StackError(
            f"reading the live configuration from {url} ({paths}) failed: {error.message}",
            component=error.component,
            hint=error.hint or "does this URL serve the component's HTTP API?",
        ) from error


def _answers_200(http: httpx.Client, url: str) -> bool:
    status = http.get(url).status_code
    if status != 200:
        raise StackError(f"{url} answered {status}")
    return True


def _http_url(name: str, url: str) -> str:
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise ConfigError(f"{name} URL {url!r} is not an http(s) URL")
    return url.rstrip("/")


def _redacted(dsn: str) -> str:
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
