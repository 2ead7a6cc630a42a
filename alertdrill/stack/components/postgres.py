"""A throwaway PostgreSQL server: initdb into a temp dir, run on a free port.

Tuned for tests, not durability (fsync off), and run as the ``postgres`` system
user when we are root, because PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

import psycopg
from psycopg import sql

from alertdrill.errors import MissingBinaryError, StackError
from alertdrill.stack.components.server import LocalServer
from alertdrill.stack.process import ManagedProcess, run_as_user, run_command

__all__ = ["PostgresComponent", "find_bindir"]

_DEBIAN_BINDIRS = Path("/usr/lib/postgresql")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
# Admin statements must not hang a test session on a stuck lock.
_ADMIN_OPTIONS = "-c statement_timeout=30000 -c lock_timeout=10000"


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.name)) or (0,)


def find_bindir() -> Path:
    """PostgreSQL's server bindir: ``pg_config --bindir``, else the newest Debian one.

    On Debian ``pg_config`` may come from libpq-dev without any server, so the
    answer only counts if ``postgres`` is actually there.
    """
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        answer = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=False
        )
        if answer.returncode == 0:
            candidates.append(Path(answer.stdout.strip()))
    if _DEBIAN_BINDIRS.is_dir():
        versions = sorted(_DEBIAN_BINDIRS.iterdir(), key=_version_key, reverse=True)
        candidates.extend(v / "bin" for v in versions)
    for bindir in candidates:
        if os.access(bindir / "postgres", os.X_OK):
            return bindir
    raise MissingBinaryError(
        "postgres",
        package="postgresql",
        component="postgres",
        searched=tuple(str(c) for c in candidates),
    )


class PostgresComponent(LocalServer):
    """PostgreSQL on 127.0.0.1:<free port>, superuser ``postgres``, trust auth."""

    package = "postgresql"

    def __init__(
        self,
        *,
        name: str = "postgres",
        bindir: str | os.PathLike[str] | None = None,
        port: int | None = None,
        base_dir: Path | None = None,
        extra_args: Sequence[str] = (),
        max_connections: int = 200,
        ready_timeout: float = 30.0,
        stop_grace: float = 15.0,
    ) -> None:
        super().__init__(
            name=name,
            port=port,
            base_dir=base_dir,
            ready_timeout=ready_timeout,
            stop_grace=stop_grace,
        )
        self._bindir_arg = Path(bindir) if bindir is not None else None
        self._extra_args = list(extra_args)
        self._max_connections = max_connections
        self._user = run_as_user("postgres")

    # -- connection details ------------------------------------------------

    @property
    def user(self) -> str:
        """Database superuser (not the OS user the server runs as)."""
        return "postgres"

    @property
    def dbname(self) -> str:
        return "postgres"

    @property
    def os_user(self) -> str | None:
        """OS user the server runs as when we are root; None when we are not."""
        return self._user

    @property
    def url(self) -> str:
        return self.url_for(self.dbname)

    def url_for(self, dbname: str) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname}"

    @property
    def data_dir(self) -> Path:
        return self._require_run_dir() / "data"

    @property
    def socket_dir(self) -> Path:
        return self._require_run_dir()

    def _require_run_dir(self) -> Path:
        if self.run_dir is None:
            raise StackError("not started", component=self.name)
        return self.run_dir

    # -- databases ---------------------------------------------------------

    def create_database(self, name: str) -> str:
        """CREATE DATABASE ``name`` and return its URL."""
        with self._admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(_check(name))))
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """DROP DATABASE IF EXISTS, disconnecting its sessions (WITH FORCE)."""
        with self._admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(_check(name))
                )
            )

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        # CREATE/DROP DATABASE cannot run inside a transaction block.
        return psycopg.connect(self.url, autocommit=True, connect_timeout=5, options=_ADMIN_OPTIONS)

    # -- LocalServer hooks -------------------------------------------------

    def _bindir(self) -> Path:
        return self._bindir_arg if self._bindir_arg is not None else find_bindir()

    def _run_as(self) -> str | None:
        return self._user

    def _prepare(self, run_dir: Path) -> None:
        args = [
            "-D", str(run_dir / "data"),
            "--auth=trust", "-U", "postgres", "--no-sync",
            "-E", "UTF8", "--locale=C",
        ]  # fmt: skip
        run_command(
            f"{self.name}-initdb",
            self._bindir() / "initdb",
            args,
            package=self.package,
            log_path=run_dir / "postgres.log",
            timeout=120.0,
            hint="initdb failed; see its output below",
            user=self._user,
            cwd=run_dir,
        )

    def _build_process(self, run_dir: Path, port: int) -> ManagedProcess:
        settings = {
            # Durability is worthless for a throwaway database; speed is not.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            # Drills open well over 80 real connections at once.
            "max_connections": str(self._max_connections),
            "shared_buffers": "32MB",
            "listen_addresses": self.host,
            # stderr goes to the ManagedProcess log file.
            "logging_collector": "off",
            "log_destination": "stderr",
        }
        args = ["-D", str(run_dir / "data"), "-k", str(run_dir), "-h", self.host, "-p", str(port)]
        for key, value in settings.items():
            args += ["-c", f"{key}={value}"]
        return ManagedProcess(
            self.name,
            self._bindir() / "postgres",
            [*args, *self._extra_args],
            package=self.package,
            log_path=run_dir / "postgres.log",
            cwd=run_dir,
            user=self._user,
            # SIGINT is PostgreSQL's "fast" shutdown: abort sessions, checkpoint, exit.
            stop_signal=signal.SIGINT,
            stop_grace=self.stop_grace,
        )

    def _ready(self) -> bool:
        with psycopg.connect(self.url, connect_timeout=1) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)

    def _hint(self) -> str:
        return (
            f"PostgreSQL did not accept connections on {self.host}:{self._port}; "
            "look for FATAL lines below (bad -c setting, port in use, shared memory)"
        )


def _check(name: str) -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a plain database name: {name!r}")
    return name
