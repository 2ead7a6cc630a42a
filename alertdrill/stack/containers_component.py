"""One container of the container backend, behind the same ``Component`` protocol as a local
process: start (and wait until ready), stop (data kept), kill, pause, resume, logs, pid.

What a container needs is a frozen ``ContainerSpec``: image, network aliases, command,
environment, the container ports to publish, and files to copy in before the first start
(configuration goes in with ``put_archive``, owned by the image's user, instead of a bind
mount: no host path or host permission leaks into the container, and a remote engine works
the same). Host ports are chosen by the stack and published on 127.0.0.1 only, so they stay
the same across stop/start and kill/start (an ephemeral published port would move).

Every path the image declares as a VOLUME gets a named volume carrying the run's labels:
otherwise the engine would create anonymous volumes that no label sweep can find. Data thus
survives stop/start and kill/start, as on a real host, and goes when the stack removes its
run.
"""

from __future__ import annotations

import io
import logging
import tarfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alertdrill.errors import ExpectationFailed, StackError
from alertdrill.stack.containers_logs import LogFollower
from alertdrill.stack.containers_logs import now as log_now
from alertdrill.stack.ports import LOCALHOST
from alertdrill.timing import eventually

if TYPE_CHECKING:
    from docker.models.containers import Container
    from testcontainers.core.docker_client import DockerClient

__all__ = ["ContainerComponent", "ContainerSpec", "FileSpec"]

log = logging.getLogger(__name__)

#: Alias containers use for the harness's host (its receivers), like Docker Desktop's name.
HOST_ALIAS = "host.docker.internal"


@dataclass(frozen=True)
class FileSpec:
    """A file copied into the container before its first start."""

    path: str
    """Absolute path inside the container."""
    content: bytes
    mode: int = 0o644
    uid: int = 0
    gid: int = 0


Ready = Callable[["ContainerComponent"], bool]


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    image: str
    ports: tuple[int, ...]
    """Container ports to publish; the first is the component's ``port``/``url``."""
    aliases: tuple[str, ...] = ()
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    files: tuple[FileSpec, ...] = ()
    binds: tuple[tuple[str, str, str], ...] = ()
    """(host path, container path, mode) bind mounts, e.g. ``rw,rslave``."""
    ready: Ready | None = field(default=None, compare=False)
    """True once the component answers a real request (exceptions mean "not yet")."""
    hint: str = ""
    stop_grace: float = 10.0
    ready_timeout: float = 60.0
    scheme: str = "http"


class ContainerComponent:
    """A container created on first ``start()`` and removed by ``remove()`` (the stack's)."""

    def __init__(
        self,
        engine: DockerClient,
        spec: ContainerSpec,
        *,
        network: str,
        host_ports: Mapping[int, int],
        labels: Mapping[str, str],
        run_id: str,
        extra_hosts: Mapping[str, str] | None = None,
        dns: tuple[str, ...] = ("127.0.0.1",),
        log_dir: Path | None = None,
    ) -> None:
        missing = [p for p in spec.ports if p not in host_ports]
        if missing:
            raise ValueError(f"{spec.name}: no host port for container port(s) {missing}")
        self.spec = spec
        self._engine = engine
        self._network = network
        self._host_ports = dict(host_ports)
        self._labels = dict(labels)
        self._run_id = run_id
        self._extra_hosts = dict(extra_hosts or {})
        self._dns = dns
        self._logs = LogFollower(log_dir / f"{spec.name}.log") if log_dir is not None else None
        self._container: Container | None = None

    # -- identity and addresses ------------------------------------------------------

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def container_name(self) -> str:
        return f"alertdrill-{self._run_id}-{self.spec.name}"

    @property
    def container(self) -> Container:
        if self._container is None:
            raise StackError("not created", component=self.name)
        return self._container

    @property
    def container_id(self) -> str | None:
        return None if self._container is None else str(self._container.id)

    @property
    def host(self) -> str:
        return LOCALHOST

    @property
    def port(self) -> int:
        """The host port of the first published container port."""
        return self._host_ports[self.spec.ports[0]]

    def host_port(self, container_port: int) -> int:
        return self._host_ports[container_port]

    @property
    def url(self) -> str:
        return f"{self.spec.scheme}://{self.host}:{self.port}"

    @property
    def target(self) -> str:
        """``alias:port`` as other containers (and the rendered config) reach it."""
        alias = self.spec.aliases[0] if self.spec.aliases else self.spec.name
        return f"{alias}:{self.spec.ports[0]}"

    @property
    def network(self) -> str:
        return self._network

    # -- state -------------------------------------------------------------------------

    def _state(self) -> Mapping[str, Any]:
        if self._container is None:
            return {}
        try:
            self._container.reload()
        except Exception:  # removed underneath us: not running
            return {}
        state = self._container.attrs.get("State") or {}
        return state if isinstance(state, dict) else {}

    @property
    def pid(self) -> int | None:
        """Host pid of the container's main process (None when not running)."""
        state = self._state()
        pid = state.get("Pid")
        return int(pid) if state.get("Running") and pid else None

    def is_running(self) -> bool:
        """True while the container runs, paused or not (a frozen process still runs)."""
        return bool(self._state().get("Running"))

    def is_paused(self) -> bool:
        return bool(self._state().get("Paused"))

    @property
    def log_path(self) -> Path | None:
        """The container's output, captured on this host as it is written (kept after the
        container is removed, until the stack's run directory goes)."""
        return self._logs.path if self._logs is not None else None

    def logs(self, tail: int = 50) -> str:
        if self._container is None:
            return ""
        try:
            raw = self._container.logs(tail=tail, timestamps=False)
        except Exception as error:  # the log tail is best effort, never the failure itself
            return f"(no logs: {error})"
        return bytes(raw).decode("utf-8", "replace")

    # -- lifecycle -------------------------------------------------------------------

    def create(self) -> None:
        """Create the container (volumes, files) without starting it; idempotent."""
        if self._container is not None:
            return
        spec = self.spec
        client = self._engine.client
        image = client.images.get(spec.image)
        volumes = {}
        for index, path in enumerate(
            sorted((image.attrs.get("Config") or {}).get("Volumes") or {})
        ):
            volume = client.volumes.create(
                name=f"{self.container_name}-{index}", labels=self._labels
            )
            volumes[volume.name] = {"bind": path, "mode": "rw"}
        for host_path, container_path, mode in spec.binds:
            volumes[host_path] = {"bind": container_path, "mode": mode}
        ports = {f"{p}/tcp": (LOCALHOST, self._host_ports[p]) for p in spec.ports}
        kwargs: dict[str, Any] = {
            "name": self.container_name,
            "network": self._network,
            # Aliases go in at create time, so the name resolves from the first start on.
            "networking_config": {
                self._network: client.api.create_endpoint_config(aliases=list(spec.aliases) or None)
            },
            "hostname": spec.name,
            "volumes": volumes,
            # Where the engine's embedded DNS forwards names that are not the network's
            # aliases: never a real resolver (see containers_dns for why not 127.0.0.1).
            "dns": list(self._dns),
            # If that server is not answering, give up quickly rather than after 20 s.
            "dns_opt": ["timeout:1", "attempts:1"],
            "extra_hosts": self._extra_hosts,
            "restart_policy": {"Name": "no"},
        }
        if spec.entrypoint is not None:
            kwargs["entrypoint"] = list(spec.entrypoint)
        container = self._engine.create(
            spec.image,
            command=list(spec.command) if spec.command is not None else None,
            environment=dict(spec.environment),
            ports=ports,
            labels=self._labels,
            detach=True,
            **kwargs,
        )
        self._container = container
        if spec.files:
            container.put_archive("/", _tar(spec.files))

    def start(self) -> None:
        """Start (or bring back after stop/kill) and wait until ready; no-op if running."""
        self.create()
        state = self._state()
        if state.get("Paused"):
            self.container.unpause()
        elif not state.get("Running"):
            self._start_container()
        self.wait_ready()

    def launch(self) -> None:
        """Create and start without waiting (the stack waits for every container at once)."""
        self.create()
        if not self._state().get("Running"):
            self._start_container()

    def _start_container(self) -> None:
        since = log_now()
        self.container.start()
        if self._logs is not None:
            self._logs.follow(self.container, since=since)

    def wait_ready(self, timeout: float | None = None) -> None:
        spec = self.spec
        within = spec.ready_timeout if timeout is None else timeout
        exited: list[str] = []

        def ready() -> bool:
            state = self._state()
            if not state.get("Running"):
                # Ends the wait at once: a container that exited will not become ready.
                status = state.get("Status", "gone")
                exited.append(f"container {status} (exit code {state.get('ExitCode')})")
                return True
            return spec.ready is None or spec.ready(self)

        try:
            eventually(ready, within=within, every=0.1, what=f"{self.name} ready")
        except ExpectationFailed as error:
            raise StackError(
                f"not ready within {within:g}s",
                component=self.name,
                hint=spec.hint or f"image {spec.image}; read the container's log below",
                log_tail=self.logs(30),
            ) from error
        if exited:
            raise StackError(
                exited[-1],
                component=self.name,
                hint=spec.hint or f"image {spec.image}; read the container's log below",
                log_tail=self.logs(30),
            )

    def ready_now(self) -> bool:
        try:
            return self.spec.ready is None or self.spec.ready(self)
        except Exception:
            return False

    def stop(self) -> None:
        """Graceful stop (SIGTERM or the image's stop signal); data and ports kept."""
        if self._container is not None and self._state().get("Running"):
            self.container.stop(timeout=int(self.spec.stop_grace))

    def shutdown(self) -> None:
        """Same as stop(): a container keeps its data until the stack removes it."""
        self.stop()

    def restart(self) -> None:
        """stop() then start(): same ports, same data, waited until ready."""
        self.stop()
        self.start()

    def kill(self) -> None:
        """SIGKILL the container's main process: a crash, no shutdown hooks."""
        if self._container is not None and self._state().get("Running"):
            self.container.kill(signal="SIGKILL")
            eventually(
                lambda: not self._state().get("Running"),
                within=10.0,
                every=0.05,
                what=f"{self.name} dead",
            )

    def pause(self) -> None:
        """Freeze every process of the container (cgroup freezer): connections hang."""
        self.container.pause()

    def resume(self) -> None:
        if self.is_paused():
            self.container.unpause()

    # -- network (container faults) ----------------------------------------------------

    def ip_address(self) -> str | None:
        """The container's address on the run's network (None while disconnected/stopped)."""
        self._state()
        networks = (self.container.attrs.get("NetworkSettings") or {}).get("Networks") or {}
        address = (networks.get(self._network) or {}).get("IPAddress")
        return str(address) if address else None

    def subnet(self) -> str:
        """The run's network in CIDR notation (every peer, the gateway included)."""
        network = self._engine.client.networks.get(self._network)
        return str(network.attrs["IPAM"]["Config"][0]["Subnet"])

    def is_connected(self) -> bool:
        self._state()
        networks = (self.container.attrs.get("NetworkSettings") or {}).get("Networks") or {}
        return self._network in networks

    def disconnect(self) -> None:
        """Take the container off the run's network: every peer and published port is gone."""
        self._engine.client.networks.get(self._network).disconnect(self.container)

    def reconnect(self) -> None:
        """Back on the network under the same aliases (maybe another address: peers resolve
        the aliases again, published ports follow)."""
        self._engine.client.networks.get(self._network).connect(
            self.container, aliases=list(self.spec.aliases) or None
        )

    def remove(self) -> None:
        """Remove the container and its volumes (the stack's teardown)."""
        container, self._container = self._container, None
        if self._logs is not None:
            self._logs.close()
        if container is not None:
            try:
                container.remove(force=True, v=True)
            except Exception as error:  # the label sweep removes what this missed
                log.warning("removing %s failed: %s", self.container_name, error)

    def __repr__(self) -> str:
        return f"<ContainerComponent {self.name} {self.spec.image} {self.url}>"


def _tar(files: tuple[FileSpec, ...]) -> bytes:
    buffer = io.BytesIO()
    now = time.time()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for file in files:
            info = tarfile.TarInfo(file.path.lstrip("/"))
            info.size = len(file.content)
            info.mode = file.mode
            info.uid, info.gid = file.uid, file.gid
            info.mtime = int(now)
            archive.addfile(info, io.BytesIO(file.content))
    return buffer.getvalue()
