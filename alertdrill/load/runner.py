"""Run Locust headless in subprocesses: one process, or one master and N local workers.

    with LoadRun(plan, Path("reports/load/spike"), on_progress=print) as run:
        ...                       # the run is going: inject faults, watch alerts
        result = run.wait()       # bounded by plan.upper_bound(); parses the results

Locust is never imported here: ``import locust`` monkey-patches the interpreter with gevent,
which would break the harness's threads and sockets (and pytest with them). Live progress
comes from the stats-history CSV the master writes every second (``load/runner_hooks.py``
makes Locust flush it every second too). ``stop()`` ends a run early the way Ctrl-C does
(SIGINT: users stop gracefully within the stop timeout, results and the HTML report are
written); leaving the ``with`` block kills whatever is still running.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from alertdrill.load.plan import LoadPlan, RunFiles
from alertdrill.load.results import AGGREGATED, LoadError, LoadResult, parse_result
from alertdrill.stack.ports import free_port, release_port
from alertdrill.timing import Deadline

__all__ = ["LoadRun", "Progress", "run_load"]

#: How often the runner looks at the history file (Locust writes it once a second).
POLL_INTERVAL = 0.5
#: After SIGINT/SIGTERM, how long a process gets before the next, harder signal.
SIGNAL_GRACE = 10.0


@dataclass(frozen=True)
class Progress:
    """One second of a running load test (Locust's Aggregated history row)."""

    elapsed: float
    users: int
    rps: float
    failures_per_s: float
    p95_ms: float
    requests: int
    failures: int

    def line(self) -> str:
        p95 = "  n/a" if math.isnan(self.p95_ms) else f"{self.p95_ms:5.0f}"
        return (
            f"[{self.elapsed:6.1f}s] users {self.users:4d}  rps {self.rps:7.1f}  "
            f"failures/s {self.failures_per_s:5.1f}  p95 {p95} ms  "
            f"requests {self.requests:7d}  failures {self.failures:5d}"
        )


class _HistoryTail:
    """Reads only the complete lines appended to the history CSV since the last call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._columns: list[str] | None = None
        self._first: float | None = None

    def read(self) -> list[Progress]:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except FileNotFoundError:
            return []
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offset += len(complete)
        found: list[Progress] = []
        for raw in complete.decode("utf-8", "replace").splitlines():
            cells = raw.split(",")
            if self._columns is None:
                self._columns = cells
                continue
            row = dict(zip(self._columns, cells, strict=False))
            if row.get("Name") != AGGREGATED or row.get("Type"):
                continue
            progress = self._progress(row)
            if progress is not None:
                found.append(progress)
        return found

    def _progress(self, row: dict[str, str]) -> Progress | None:
        try:
            stamp = float(row["Timestamp"])
            if self._first is None:
                self._first = stamp
            p95 = row.get("95%", "N/A")
            return Progress(
                elapsed=stamp - self._first,
                users=int(row["User Count"]),
                rps=float(row["Requests/s"]),
                failures_per_s=float(row["Failures/s"]),
                p95_ms=math.nan if p95 in ("N/A", "") else float(p95),
                requests=int(row["Total Request Count"]),
                failures=int(row["Total Failure Count"]),
            )
        except (KeyError, ValueError):
            return None  # a line being written when we looked; its complete form follows


class LoadRun:
    """One Locust run (master + local workers when the plan is distributed)."""

    def __init__(
        self,
        plan: LoadPlan,
        directory: Path,
        *,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.plan = plan
        # Absolute: Locust runs in this directory, and would resolve a relative one again.
        self.files = RunFiles(directory.resolve())
        self.on_progress = on_progress
        self.master_port: int | None = None
        self._master: subprocess.Popen[bytes] | None = None
        self._workers: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []
        self._tail = _HistoryTail(self.files.history_csv)
        self.last_progress: Progress | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> Self:
        if self._master is not None:
            raise LoadError("this run was already started")
        self.files.directory.mkdir(parents=True, exist_ok=True)
        for stale in self.files.directory.glob("locust*"):
            stale.unlink()  # a previous run's files would be read as this run's
        if self.plan.distributed:
            # Bound on the plan's interface; the port only has to be free there.
            self.master_port = free_port(self.plan.master_bind_host)
        env = {**os.environ, **self.plan.secrets, "PYTHONUNBUFFERED": "1"}
        try:
            self._master = self._spawn(
                self.plan.master_argv(self.files, master_port=self.master_port),
                self.files.master_log,
                env,
            )
            if self.master_port is not None:
                for i in range(self.plan.workers):
                    worker = self._spawn(
                        self.plan.worker_argv(self.master_port), self.files.worker_log(i), env
                    )
                    self._workers.append(worker)
        except BaseException:
            self.close()
            raise
        return self

    def _spawn(self, argv: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
        handle = log.open("wb")
        self._logs.append(handle)
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            cwd=self.files.directory,
            env=env,
            # Its own process group: the harness decides when Locust gets a signal.
            start_new_session=True,
        )

    @property
    def running(self) -> bool:
        return self._master is not None and self._master.poll() is None

    def poll(self) -> Progress | None:
        """Report every history second written since the last call; the latest, or None."""
        for progress in self._tail.read():
            self.last_progress = progress
            if self.on_progress is not None:
                self.on_progress(progress)
        return self.last_progress

    def wait(self, *, timeout: float | None = None) -> LoadResult:
        """Until Locust has finished (its -t or a stop()), then the parsed results."""
        master = self._require_master()
        deadline = Deadline.after(self.plan.upper_bound() if timeout is None else timeout)
        while master.poll() is None:
            if deadline.expired():
                tail = self.log_tail()
                self.close()
                raise LoadError(
                    f"Locust did not finish within {deadline.seconds:.0f}s; killed it.\n{tail}"
                )
            with contextlib.suppress(subprocess.TimeoutExpired):
                master.wait(timeout=min(POLL_INTERVAL, deadline.remaining()))
            self.poll()
        self.poll()
        self._reap_workers()
        if not self.files.json.exists():
            raise LoadError(
                f"Locust exited with {master.returncode} and wrote no results.\n{self.log_tail()}"
            )
        return parse_result(self.files, master.returncode)

    def stop(self) -> None:
        """End the run early, gracefully: what Ctrl-C does to a headless Locust."""
        if self.running:
            assert self._master is not None
            self._master.send_signal(signal.SIGINT)

    def close(self) -> None:
        """Make sure nothing is left running (harder signals after a grace period each)."""
        processes = [p for p in (self._master, *self._workers) if p is not None]
        for process in processes:
            _terminate(process)
        for handle in self._logs:
            handle.close()
        self._logs.clear()
        if self.master_port is not None:
            release_port(self.master_port)
            self.master_port = None

    def _reap_workers(self) -> None:
        # The master tells its workers to quit when it ends; give them the grace to do so.
        deadline = Deadline.after(SIGNAL_GRACE)
        for worker in self._workers:
            try:
                worker.wait(timeout=max(0.1, deadline.remaining()))
            except subprocess.TimeoutExpired:
                _terminate(worker)

    def _require_master(self) -> subprocess.Popen[bytes]:
        if self._master is None:
            raise LoadError("the run was not started")
        return self._master

    def log_tail(self, lines: int = 30) -> str:
        parts: list[str] = []
        for path in (self.files.master_log, *map(self.files.worker_log, range(self.plan.workers))):
            if path.exists():
                text = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path.name} ---\n" + "\n".join(text))
        return "\n".join(parts)

    def __enter__(self) -> Self:
        return self if self._master is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _terminate(process: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=SIGNAL_GRACE)
        except subprocess.TimeoutExpired:
            continue


def run_load(
    plan: LoadPlan, directory: Path, *, on_progress: Callable[[Progress], None] | None = None
) -> LoadResult:
    """Start, wait, clean up: the whole run in one call."""
    with LoadRun(plan, directory, on_progress=on_progress) as run:
        return run.wait()
