"""Shared lifecycle of a throwaway local server: temp dir, free port, one process.

PostgreSQL, Redis and later Prometheus/Alertmanager differ only in how they
are prepared, started and probed; what must never differ is the cleanup: a
failed start, ``stop()``, and interpreter exit all leave no process, no temp
dir and no reserved port behind.
"""

from __future__ import annotations

import abc
import atexit
import logging
import shutil
from pathlib import Path
from typing import ClassVar

from alertdrill.errors import StackError
from alertdrill.lifecycle import StartStopContext
from alertdrill.stack.owned_dirs import make_owned_dir
from alertdrill.stack.ports import LOCALHOST, free_port, release_port, wait_port_free
from alertdrill.stack.process import ManagedProcess, chown_tree

__all__ = ["RUN_DIR_PREFIX", "LocalServer"]

#: Every local component's run dir is ``<prefix><component name>-<random>`` in the temp dir.
RUN_DIR_PREFIX = "alertdrill-"

log = logging.getLogger(__name__)


class LocalServer(abc.ABC, StartStopContext):
    """Base class of components that run a local binary on 127.0.0.1.

    ``start()`` creates a temp dir (once), prepares it (once), and starts the
    process; ``shutdown()`` stops only the process, so a later ``start()`` brings
    the same data back on the same port; ``stop()`` tears everything down.
    """

    #: Debian package that provides the binary, named in MissingBinaryError.
    package: ClassVar[str]

    def __init__(
        self,
        *,
        name: str,
        port: int | None = None,
        base_dir: Path | None = None,
        ready_timeout: float = 30.0,
        stop_grace: float = 10.0,
    ) -> None:
        self._name = name
        self._fixed_port = port
        self._base_dir = base_dir
        self.ready_timeout = ready_timeout
        self.stop_grace = stop_grace
        self._port: int | None = None
        self._run_dir: Path | None = None
        self._process: ManagedProcess | None = None

    # -- hooks -------------------------------------------------------------

    def _run_as(self) -> str | None:
        """User to run as when we are root (None: run as ourselves)."""
        return None

    def _prepare(self, run_dir: Path) -> None:  # an optional hook: empty by default
        """One-time setup of a fresh run dir (e.g. initdb)."""

    @abc.abstractmethod
    def _build_process(self, run_dir: Path, port: int) -> ManagedProcess: ...

    @abc.abstractmethod
    def _ready(self) -> bool:
        """True once the server answers a real request (exceptions mean "not yet")."""

    @abc.abstractmethod
    def _hint(self) -> str:
        """What to check first when the server does not become ready."""

    # -- state -------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def host(self) -> str:
        return LOCALHOST

    @property
    def port(self) -> int:
        if self._port is None:
            raise StackError("has no port: not started", component=self._name)
        return self._port

    @property
    def run_dir(self) -> Path | None:
        """The temp dir holding data, sockets and the log, while it exists."""
        return self._run_dir

    @property
    def log_path(self) -> Path | None:
        return self._process.log_path if self._process is not None else None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def is_running(self) -> bool:
        return self._process is not None and self._process.is_running()

    def logs(self, tail: int = 50) -> str:
        return self._process.logs(tail) if self._process is not None else ""

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        """Start (or bring back after shutdown/kill) and wait until ready; no-op if running."""
        if self.is_running():
            return
        # Until stop(): an interrupted session still removes the temp dir.
        atexit.unregister(self._teardown)
        atexit.register(self._teardown)
        try:
            if self._port is None:
                self._port = self._fixed_port if self._fixed_port is not None else free_port()
            else:
                # Coming back after shutdown()/kill(): the old listener must be gone.
                wait_port_free(self._port, timeout=self.stop_grace)
            if self._process is None:
                # Owned (pid + start time): swept by a later run if this one is SIGKILLed.
                run_dir = make_owned_dir(f"{RUN_DIR_PREFIX}{self._name}-", self._base_dir)
                self._run_dir = run_dir
                chown_tree(run_dir, self._run_as())
                self._prepare(run_dir)
                self._process = self._build_process(run_dir, self._port)
            self._process.start(ready=self._ready, timeout=self.ready_timeout, hint=self._hint())
        except BaseException:
            # A failed start cleans up what it started (the error has the log tail).
            self._teardown()
            raise

    def shutdown(self) -> None:
        """Stop the process gracefully but keep the data dir and port for start()."""
        if self._process is not None:
            self._process.stop(grace=self.stop_grace)

    def restart(self) -> None:
        """shutdown() then start(): same port, same data."""
        self.shutdown()
        self.start()

    def stop(self) -> None:
        """Graceful stop, then remove the temp dir and release the port."""
        self._teardown()

    def kill(self) -> None:
        """SIGKILL the server (a crash); start() brings it back with crash recovery.

        Tuned for speed, servers may lose their last moments of writes here
        (PostgreSQL with synchronous_commit=off: up to ~0.6 s of commits).
        """
        if self._process is not None:
            self._process.kill()

    def pause(self) -> None:
        self._require_process().pause()

    def resume(self) -> None:
        self._require_process().resume()

    def _require_process(self) -> ManagedProcess:
        if self._process is None:
            raise StackError("not started", component=self._name)
        return self._process

    def _teardown(self) -> None:
        atexit.unregister(self._teardown)
        process, self._process = self._process, None
        run_dir, self._run_dir = self._run_dir, None
        port, self._port = self._port, None
        try:
            if process is not None:
                process.stop(grace=self.stop_grace)
        finally:
            if run_dir is not None:
                try:
                    shutil.rmtree(run_dir)
                except OSError as error:
                    log.warning("%s: could not remove %s: %s", self._name, run_dir, error)
            if port is not None and port != self._fixed_port:
                release_port(port)

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        where = f"{LOCALHOST}:{self._port}" if self._port is not None else "no port"
        return f"<{type(self).__name__} {self._name} {where} {state}>"
