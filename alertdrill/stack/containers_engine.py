"""The Docker engine the container backend talks to: connection, labels, leftover cleanup.

Connection goes through testcontainers' ``DockerClient`` (DOCKER_HOST, docker contexts, TC_HOST
all honoured as testcontainers users expect). Its Ryuk reaper is never used: it is an image
that would have to be pulled, and no registry is reachable here. Instead every container,
network and volume the backend creates carries ``alertdrill.run=<run id>`` (and
``alertdrill.owner=alertdrill``); a stack removes its own run on stop, and every new stack
first removes the leftovers of earlier runs whose owning process is gone (a SIGKILLed pytest,
a machine that lost power).

testcontainers reads its configuration from the environment when first imported: the
defaults are set just before that import (``connect()``), never at module import.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from alertdrill.errors import StackError

if TYPE_CHECKING:
    from testcontainers.core.docker_client import DockerClient

__all__ = [
    "OWNER_LABEL",
    "PID_LABEL",
    "RUN_LABEL",
    "Leftovers",
    "connect",
    "engine_unavailable_reason",
    "new_run_id",
    "remove_leftovers",
    "remove_run",
]

log = logging.getLogger(__name__)

OWNER_LABEL = "alertdrill.owner"
RUN_LABEL = "alertdrill.run"
#: ``<hostname>:<pid>`` of the process that created the resource: leftovers of a process that
#: still runs (a parallel session) are not touched.
PID_LABEL = "alertdrill.pid"

_DEFAULT_SOCKET = "unix:///var/run/docker.sock"
_ENV_DEFAULTS = {
    # The reaper image cannot be pulled here; cleanup is by label (see the module docstring).
    "TESTCONTAINERS_RYUK_DISABLED": "true",
    # Published ports are reached on the engine's host, not through a gateway or bridge IP.
    "TESTCONTAINERS_CONNECTION_MODE": "docker_host",
    "TC_HOST": "127.0.0.1",
}


def _set_env_defaults() -> None:
    for key, value in _ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)


def connect(*, timeout: float = 60.0, max_pool_size: int = 10) -> DockerClient:
    """A testcontainers DockerClient for the configured engine; StackError if none answers."""
    _set_env_defaults()
    from testcontainers.core.docker_client import DockerClient, get_docker_host

    unreachable = _unix_socket_unreachable(get_docker_host() or _DEFAULT_SOCKET)
    if unreachable is not None:
        raise StackError(
            f"no Docker engine answers: {unreachable}",
            component="docker",
            hint="start one with scripts/start-dockerd.sh (root), or set DOCKER_HOST",
        )
    client: DockerClient | None = None
    try:
        client = DockerClient(timeout=timeout, max_pool_size=max_pool_size)
        client.client.ping()
    except Exception as error:  # docker raises many unrelated types for "no engine"
        if client is not None:
            client.client.close()  # its half-open socket would leak
        raise StackError(
            f"no Docker engine answers: {error}",
            component="docker",
            hint="start one with scripts/start-dockerd.sh (root), or set DOCKER_HOST",
        ) from error
    return client


def _unix_socket_unreachable(host: str) -> str | None:
    """Why the engine's unix socket does not accept a connection (None: it does, or the
    engine is not behind a unix socket). Checked before docker-py touches it: docker-py's
    unix transport leaks the socket of a failed connect, a ResourceWarning in every test."""
    if not host.startswith("unix://"):
        return None
    path = host.removeprefix("unix://")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(2.0)
        try:
            probe.connect(path)
        except OSError as error:
            return f"{host}: {error.strerror or error}"
    return None


def engine_unavailable_reason() -> str | None:
    """None when a Docker engine answers, else why not (for a pytest skip)."""
    try:
        client = connect(timeout=5.0)
    except StackError as error:
        return error.message
    client.client.close()
    return None


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def owner_tag() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_labels(run_id: str) -> dict[str, str]:
    return {OWNER_LABEL: "alertdrill", RUN_LABEL: run_id, PID_LABEL: owner_tag()}


@dataclass(frozen=True)
class Leftovers:
    containers: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.containers or self.networks or self.volumes)

    def describe(self) -> str:
        return (
            f"{len(self.containers)} container(s), {len(self.networks)} network(s), "
            f"{len(self.volumes)} volume(s)"
        )


def _owner_alive(labels: dict[str, str] | None) -> bool:
    """Whether the process that created a resource is still running on this host."""
    host, _, pid = (labels or {}).get(PID_LABEL, "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_run(client: DockerClient, run_id: str) -> Leftovers:
    """Remove every container, network and volume of ``run_id`` (errors logged, not raised)."""
    return _remove(client, lambda labels: labels.get(RUN_LABEL) == run_id)


def remove_leftovers(client: DockerClient) -> Leftovers:
    """Remove what earlier runs left behind: every alertdrill resource whose creating process
    is gone. Resources of a process that still runs (a parallel session) are kept."""
    return _remove(client, lambda labels: not _owner_alive(labels))


def _remove(client: DockerClient, selected: Callable[[dict[str, str]], bool]) -> Leftovers:
    docker = client.client
    owned = {"label": f"{OWNER_LABEL}=alertdrill"}
    containers: list[str] = []
    for container in docker.containers.list(all=True, filters=owned):
        if selected(container.labels or {}):
            _quietly(f"remove container {container.name}", container.remove, force=True, v=True)
            containers.append(container.name)
    networks: list[str] = []
    for network in docker.networks.list(filters=owned):
        if selected(network.attrs.get("Labels") or {}):
            _quietly(f"remove network {network.name}", network.remove)
            networks.append(network.name)
    volumes: list[str] = []
    for volume in docker.volumes.list(filters=owned):
        if selected(volume.attrs.get("Labels") or {}):
            _quietly(f"remove volume {volume.name}", volume.remove, force=True)
            volumes.append(volume.name)
    return Leftovers(tuple(containers), tuple(networks), tuple(volumes))


def _quietly(what: str, action: Callable[..., Any], **kwargs: Any) -> None:
    try:
        action(**kwargs)
    except Exception as error:  # cleanup goes on; the next run's sweep retries
        log.warning("%s failed: %s", what, error)
