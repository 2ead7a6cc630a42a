"""Alertmanager as a local process, clustering off, storage owned by this run.

Storage (notification log and silences) lives in the component's temp run dir,
so it is fresh for every new component and for every ``start()`` after
``stop()``. That matters: a reused storage path makes Alertmanager remember
that it already notified a group and silently stay quiet for
``repeat_interval``. A restart (``shutdown()``/``kill()`` then ``start()``, or
``restart()``) keeps the storage, as restarting a real Alertmanager does.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import httpx

from alertdrill.errors import StackError
from alertdrill.stack.components.prometheus import ConfigFiles
from alertdrill.stack.components.server import LocalServer
from alertdrill.stack.process import ManagedProcess

__all__ = ["AlertmanagerComponent"]


class AlertmanagerComponent(LocalServer):
    """prometheus-alertmanager on 127.0.0.1:<free port>, single node, fresh storage per run.

    ``config`` is ``ConfigFiles`` or a path to the rendered ``alertmanager.yml``
    (or to the directory holding it, with its templates).
    """

    package = "prometheus-alertmanager"

    def __init__(
        self,
        config: ConfigFiles | str | os.PathLike[str],
        *,
        name: str = "alertmanager",
        binary: str = "prometheus-alertmanager",
        log_level: str = "info",
        extra_args: Iterable[str] = (),
        port: int | None = None,
        base_dir: Path | None = None,
        ready_timeout: float = 30.0,
        stop_grace: float = 10.0,
    ) -> None:
        super().__init__(
            name=name,
            port=port,
            base_dir=base_dir,
            ready_timeout=ready_timeout,
            stop_grace=stop_grace,
        )
        self.config = ConfigFiles.coerce(config, main="alertmanager.yml")
        self._binary = binary
        self._log_level = log_level
        self._extra_args = list(extra_args)
        self._config_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v2"

    @property
    def target(self) -> str:
        """``host:port`` as Prometheus' ``alerting`` and scrape configs name it."""
        return f"{self.host}:{self.port}"

    @property
    def config_path(self) -> Path:
        if self._config_path is None:
            raise StackError("not started", component=self.name)
        return self._config_path

    @property
    def storage_path(self) -> Path:
        """Notification log and silences of this run; kept across restarts only."""
        if self.run_dir is None:
            raise StackError("not started", component=self.name)
        return self.run_dir / "storage"

    def reload(self) -> None:
        """POST /-/reload: re-read the config and templates; a bad config raises StackError."""
        try:
            response = httpx.post(f"{self.url}/-/reload", timeout=10.0)
        except httpx.HTTPError as error:
            raise StackError(
                f"reload failed: {error}", component=self.name, log_tail=self.logs(20)
            ) from error
        if response.status_code != 200:
            raise StackError(
                f"reload refused ({response.status_code}): {response.text.strip()}",
                component=self.name,
                hint=f"check {self._config_path} with: amtool check-config",
                log_tail=self.logs(20),
            )

    # -- LocalServer hooks -------------------------------------------------

    def _prepare(self, run_dir: Path) -> None:
        # Runs once per run dir: a new component, or start() after stop().
        (run_dir / "storage").mkdir()

    def _build_process(self, run_dir: Path, port: int) -> ManagedProcess:
        config_path = self.config.materialize(run_dir, component=self.name)
        self._config_path = config_path
        args = [
            f"--config.file={config_path}",
            f"--storage.path={run_dir / 'storage'}",
            f"--web.listen-address={self.host}:{port}",
            # Links in notifications ({{ .ExternalURL }}) point at this instance.
            f"--web.external-url=http://{self.host}:{port}/",
            # Empty: no gossip listener, no peers, no settle wait before /-/ready.
            "--cluster.listen-address=",
            f"--log.level={self._log_level}",
        ]
        return ManagedProcess(
            self.name,
            self._binary,
            [*args, *self._extra_args],
            package=self.package,
            log_path=run_dir / "alertmanager.log",
            cwd=run_dir,
            stop_grace=self.stop_grace,
        )

    def _ready(self) -> bool:
        return httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200

    def _hint(self) -> str:
        return (
            f"Alertmanager did not report ready on {self.host}:{self._port}; "
            f"check {self._config_path} with 'amtool check-config' and look for "
            "'Loading configuration file failed' below"
        )
