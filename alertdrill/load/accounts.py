"""The tenants and users a load run logs in as, and how they get created.

Creation runs ``load/provision.py`` (standard library only, the same code a standalone
``locust --provision`` run uses) as a subprocess with a timeout: one implementation, and
still nothing of the Locust side is imported here. Passwords travel in the environment,
never in argv.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

from alertdrill.load.plan import LOAD_DIR
from alertdrill.load.results import LoadError

__all__ = ["PROVISION_SCRIPT", "LoadAccounts", "Superuser", "provision_accounts"]

PROVISION_SCRIPT = LOAD_DIR / "provision.py"
PROVISION_TIMEOUT = 60.0


@dataclass(frozen=True)
class Superuser:
    email: str
    password: str = field(repr=False)

    def options(self) -> dict[str, str | bool]:
        return {"superuser-email": self.email}

    def secrets(self) -> dict[str, str]:
        return {"LOCUST_SUPERUSER_PASSWORD": self.password}


@dataclass(frozen=True)
class LoadAccounts:
    """``tenants`` tenants named ``<prefix>-t<i>`` with ``users_per_tenant`` users each."""

    prefix: str
    tenants: int = 4
    users_per_tenant: int = 5
    password: str = field(default="", repr=False)

    @classmethod
    def fresh(cls, *, tenants: int = 4, users_per_tenant: int = 5) -> LoadAccounts:
        """New names and a new password: nothing collides with an earlier run's accounts."""
        return cls(
            prefix=f"load-{secrets.token_hex(3)}",
            tenants=tenants,
            users_per_tenant=users_per_tenant,
            password=secrets.token_urlsafe(18),
        )

    def options(self) -> dict[str, str | bool]:
        return {
            "account-prefix": self.prefix,
            "tenants": str(self.tenants),
            "users-per-tenant": str(self.users_per_tenant),
        }

    def secrets(self) -> dict[str, str]:
        return {"LOCUST_ACCOUNT_PASSWORD": self.password}


def provision_accounts(
    host: str, superuser: Superuser, accounts: LoadAccounts, *, timeout: float = PROVISION_TIMEOUT
) -> Mapping[str, int]:
    """Create the accounts (what exists already is kept); returns what was created."""
    argv = [
        sys.executable,
        str(PROVISION_SCRIPT),
        "--host", host,
        "--prefix", accounts.prefix,
        "--tenants", str(accounts.tenants),
        "--users-per-tenant", str(accounts.users_per_tenant),
        "--superuser-email", superuser.email,
    ]  # fmt: skip
    env = {
        **os.environ,
        "LOAD_SUPERUSER_PASSWORD": superuser.password,
        "LOAD_ACCOUNT_PASSWORD": accounts.password,
    }
    try:
        done = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise LoadError(f"provisioning load accounts took over {timeout:g}s") from error
    if done.returncode != 0:
        raise LoadError(f"provisioning load accounts failed: {done.stderr.strip()[-500:]}")
    try:
        summary: object = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError) as error:
        raise LoadError(f"provisioning printed no summary: {done.stdout[-300:]!r}") from error
    if not isinstance(summary, dict):
        raise LoadError(f"provisioning summary is not an object: {summary!r}")
    return {k: v for k, v in summary.items() if isinstance(v, int)}
