"""``LoadTarget``: load runs against one service whose superuser the harness knows — the
local stack's, or any other backend's (``alertdrill load --host``).

It provisions the load accounts once (fresh names per target, so runs never trip over an
earlier run's passwords) and fills every plan with the host, the accounts and the
superuser, so a scenario only says what is specific to it::

    target = LoadTarget.of_stack(drill.stack, artifacts=Path("reports/load"))
    plan = target.plan(users=8, duration=20, think_time=0.5)
    with target.start(plan, "latency") as run:
        ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from alertdrill.load.accounts import LoadAccounts, Superuser, provision_accounts
from alertdrill.load.plan import LOCUSTFILE, LoadPlan
from alertdrill.load.results import LoadResult
from alertdrill.load.runner import LoadRun, Progress
from alertdrill.stack.local import LocalStack

__all__ = ["LoadTarget"]


class LoadTarget:
    def __init__(
        self,
        host: str,
        superuser: Superuser,
        *,
        artifacts: Path,
        accounts: LoadAccounts | None = None,
    ) -> None:
        self.host = host.rstrip("/")
        self.superuser = superuser
        self.artifacts = artifacts
        self.accounts = accounts or LoadAccounts.fresh()
        self._provisioned = False

    @classmethod
    def of_stack(cls, stack: LocalStack, *, artifacts: Path) -> LoadTarget:
        creds = stack.credentials
        return cls(
            stack.service.url,
            Superuser(creds.superuser_email, creds.superuser_password),
            artifacts=artifacts,
        )

    def provision(self) -> Mapping[str, int]:
        """Create the accounts (once per target)."""
        created = provision_accounts(self.host, self.superuser, self.accounts)
        self._provisioned = True
        return created

    def plan(
        self,
        *,
        users: int,
        duration: float,
        spawn_rate: float | None = None,
        profile: str | None = None,
        locustfiles: Sequence[Path] = (LOCUSTFILE,),
        user_classes: Sequence[str] = (),
        tags: Sequence[str] = (),
        exclude_tags: Sequence[str] = (),
        workers: int = 0,
        remote_workers: int = 0,
        master_bind_host: str = "127.0.0.1",
        think_time: float = 1.0,
        stop_timeout: float = 10.0,
        options: Mapping[str, str | bool] | None = None,
    ) -> LoadPlan:
        """A plan for the SaaS locustfiles of load/ with accounts and superuser filled in."""
        return LoadPlan(
            host=self.host,
            users=users,
            duration=duration,
            spawn_rate=spawn_rate,
            profile=profile,
            locustfiles=tuple(locustfiles),
            user_classes=tuple(user_classes),
            tags=tuple(tags),
            exclude_tags=tuple(exclude_tags),
            workers=workers,
            remote_workers=remote_workers,
            master_bind_host=master_bind_host,
            stop_timeout=stop_timeout,
            options={
                **self.accounts.options(),
                **self.superuser.options(),
                "think-time": f"{think_time:g}",
                **(options or {}),
            },
            secrets={**self.accounts.secrets(), **self.superuser.secrets()},
        )

    def start(
        self, plan: LoadPlan, name: str, *, on_progress: Callable[[Progress], None] | None = None
    ) -> LoadRun:
        """A started run (use it as a context manager); artifacts in ``artifacts/name``."""
        if not self._provisioned:
            self.provision()
        return LoadRun(plan, self.artifacts / name, on_progress=on_progress).start()

    def run(
        self, plan: LoadPlan, name: str, *, on_progress: Callable[[Progress], None] | None = None
    ) -> LoadResult:
        with self.start(plan, name, on_progress=on_progress) as run:
            return run.wait()
