"""A throwaway Redis server: no persistence, temp dir, free port on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import redis as redis_py
from redis.backoff import NoBackoff
from redis.retry import Retry

from alertdrill.stack.components.server import LocalServer
from alertdrill.stack.process import ManagedProcess

__all__ = ["RedisComponent"]


class RedisComponent(LocalServer):
    """redis-server on 127.0.0.1:<free port>, nothing written to disk."""

    package = "redis-server"

    def __init__(
        self,
        *,
        name: str = "redis",
        binary: str = "redis-server",
        port: int | None = None,
        base_dir: Path | None = None,
        extra_args: Sequence[str] = (),
        ready_timeout: float = 15.0,
        stop_grace: float = 10.0,
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
        return self.url_for(0)

    def url_for(self, db: int) -> str:
        return f"redis://{self.host}:{self.port}/{db}"

    def client(self, *, db: int = 0, timeout: float = 2.0) -> redis_py.Redis:
        """A client with socket timeouts and no retries; close it (or use ``with``)."""
        return redis_py.Redis(
            host=self.host,
            port=self.port,
            db=db,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            # A fault test wants the first failure, not three hidden retries.
            retry=Retry(NoBackoff(), 0),
        )

    def flushall(self) -> None:
        with self.client() as client:
            client.flushall()

    # -- LocalServer hooks -------------------------------------------------

    def _build_process(self, run_dir: Path, port: int) -> ManagedProcess:
        args = [
            "--port", str(port),
            "--bind", self.host,
            "--protected-mode", "yes",
            "--daemonize", "no",
            # Throwaway data: never write an RDB or AOF file.
            "--save", "",
            "--appendonly", "no",
            "--dir", str(run_dir),
            # "" = stdout, which ManagedProcess sends to the log file.
            "--logfile", "",
        ]  # fmt: skip
        return ManagedProcess(
            self.name,
            self._binary,
            [*args, *self._extra_args],
            package=self.package,
            log_path=run_dir / "redis.log",
            cwd=run_dir,
            stop_grace=self.stop_grace,
        )

    def _ready(self) -> bool:
        with self.client(timeout=1.0) as client:
            return bool(client.ping())

    def _hint(self) -> str:
        return (
            f"redis-server did not answer PING on {self.host}:{self._port}; "
            "look for 'Bad directive' or 'Address already in use' below"
        )
