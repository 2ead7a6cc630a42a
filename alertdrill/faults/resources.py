"""Resource pressure: real database connections, a filling disk.

``DatabaseConnections`` opens ``count`` real, idle PostgreSQL sessions (each a backend process
the server counts in ``pg_stat_activity``), tagged with an ``application_name`` so a person
looking at the server sees who holds them. ``DiskFill`` allocates one file on a small dedicated
filesystem until its free share drops to ``1 - fill_to``; it refuses anything that is not a
mount point or is larger than ``max_filesystem_bytes``, so a wrong path cannot fill a real disk.
CPU and memory pressure come from the service's own hogs (``alertdrill.faults.service``).
"""

from __future__ import annotations

import errno
import math
import os
import uuid
from pathlib import Path

import psycopg

from alertdrill.errors import FaultError
from alertdrill.faults.base import DEFAULT_MAX_DURATION, BaseFault, FaultJournal, FaultRegistry

__all__ = ["DatabaseConnections", "DiskFill"]

#: Most sessions one fault may open: the local PostgreSQL runs with max_connections=200 and the
#: service, the exporter and superuser slots need some too.
MAX_CONNECTIONS = 180
#: Largest filesystem DiskFill will fill: the drill filesystem is 64 MB; a real disk is not
#: something a drill fills.
MAX_FILESYSTEM_BYTES = 1 << 30
_WRITE_CHUNK = 1 << 20


class DatabaseConnections(BaseFault):
    """``count`` idle client connections to ``dsn``, held until reverted."""

    def __init__(
        self,
        dsn: str,
        count: int,
        *,
        application_name: str = "alertdrill-connections",
        connect_timeout: int = 5,
        max_duration: float = DEFAULT_MAX_DURATION,
        journal: FaultJournal | None = None,
        registry: FaultRegistry | None = None,
    ) -> None:
        super().__init__(
            f"db-connections:{count}", max_duration=max_duration, journal=journal, registry=registry
        )
        if (
            isinstance(count, bool)
            or not isinstance(count, int)
            or not 1 <= count <= MAX_CONNECTIONS
        ):
            raise ValueError(f"count must be in 1..{MAX_CONNECTIONS}, got {count!r}")
        self.dsn = dsn
        self.count = count
        self.application_name = application_name
        self.connect_timeout = connect_timeout
        self._connections: list[psycopg.Connection[tuple[object, ...]]] = []

    @property
    def open_connections(self) -> int:
        return len(self._connections)

    def describe(self) -> str:
        return (
            f"{self.count} idle PostgreSQL connections ({self.application_name}) "
            f"held for at most {self.max_duration:g}s"
        )

    def _inject(self) -> str:
        # One by one: a backend fork is a few ms, and a burst of parallel connects would be
        # a load spike of its own. Each is kept as soon as it exists, so a failure part-way
        # leaves every opened one for the revert to close.
        while len(self._connections) < self.count:
            self._connections.append(
                psycopg.connect(
                    self.dsn,
                    autocommit=True,  # idle, not "idle in transaction"
                    connect_timeout=self.connect_timeout,
                    application_name=self.application_name,
                )
            )
        pids = [c.info.backend_pid for c in self._connections]
        return f"opened {len(pids)} connections (backend pids {min(pids)}..{max(pids)})"

    def _revert(self) -> str:
        closed = 0
        while self._connections:
            connection = self._connections.pop()
            connection.close()  # never raises for a connection the server already dropped
            closed += 1
        return f"closed {closed} connections"


class DiskFill(BaseFault):
    """Fill the filesystem mounted at ``path`` until ``fill_to`` of it is in use."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        fill_to: float = 0.95,
        *,
        max_filesystem_bytes: int = MAX_FILESYSTEM_BYTES,
        max_duration: float = DEFAULT_MAX_DURATION,
        journal: FaultJournal | None = None,
        registry: FaultRegistry | None = None,
    ) -> None:
        super().__init__(
            f"disk-fill:{path}", max_duration=max_duration, journal=journal, registry=registry
        )
        if not (0.0 < fill_to < 1.0 and math.isfinite(fill_to)):
            raise ValueError(f"fill_to must be a fraction in (0, 1), got {fill_to!r}")
        self.path = Path(path)
        self.fill_to = fill_to
        self.max_filesystem_bytes = max_filesystem_bytes
        self._file: Path | None = None

    @property
    def fill_file(self) -> Path | None:
        return self._file

    def describe(self) -> str:
        return (
            f"fill {self.path} to {self.fill_to:.0%} used "
            f"(avail {1 - self.fill_to:.0%}) for at most {self.max_duration:g}s"
        )

    def _usage(self) -> tuple[int, int]:
        """(size, avail) in bytes, as node_exporter reports them."""
        st = os.statvfs(self.path)
        return st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize

    def _precheck(self) -> None:
        if not os.path.ismount(self.path):
            raise FaultError(f"{self.name}: {self.path} is not a mount point (refusing to fill it)")
        size, avail = self._usage()
        if size > self.max_filesystem_bytes:
            raise FaultError(
                f"{self.name}: {self.path} is {size / 2**20:.0f} MiB, above the "
                f"{self.max_filesystem_bytes / 2**20:.0f} MiB limit: not a drill filesystem"
            )
        if avail <= (1 - self.fill_to) * size:
            raise FaultError(f"{self.name}: {self.path} is already {1 - avail / size:.0%} used")

    def _inject(self) -> str:
        size, avail = self._usage()
        wanted = avail - math.floor((1 - self.fill_to) * size)
        self._file = self.path / f".alertdrill-fill-{uuid.uuid4().hex}"
        with self._file.open("wb") as handle:
            _allocate(handle.fileno(), wanted)
        _, avail_after = self._usage()
        return f"{self._file.name}: {wanted} bytes, avail now {avail_after / size:.1%}"

    def _revert(self) -> str:
        file, self._file = self._file, None
        if file is None:
            return "no fill file"
        file.unlink(missing_ok=True)
        size, avail = self._usage()
        return f"deleted {file.name}, avail {avail / size:.1%}"


def _allocate(fd: int, length: int) -> None:
    """Really allocate ``length`` bytes (blocks, not a sparse hole): statvfs must see them."""
    try:
        os.posix_fallocate(fd, 0, length)
        return
    except OSError as error:
        if error.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
            raise
    # A filesystem without fallocate: write it out.
    zeros = bytes(_WRITE_CHUNK)
    left = length
    while left > 0:
        left -= os.write(fd, zeros[: min(left, _WRITE_CHUNK)])
    os.fsync(fd)
