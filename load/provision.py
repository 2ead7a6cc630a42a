"""Create the tenants and users the load users log in as (standard library only).

Idempotent: a tenant or user that already exists (409) is kept, so several Locust processes,
or a second run against the same service, can all call it. Accounts are named from a prefix::

    tenant  <prefix>-t<i>                 (slug)
    user    user<j>@<prefix>-t<i>.test    (role member; user0 of each tenant is its admin)

All users share one password. The superuser's credentials are needed only here, never by
the load users of a tenant.

The harness runs this as a script (so its own process never imports Locust or gevent)::

    LOAD_SUPERUSER_PASSWORD=... LOAD_ACCOUNT_PASSWORD=... \\
      python load/provision.py --host http://127.0.0.1:8000 --prefix load-ab12 --tenants 4

and the locustfile imports it for ``--provision`` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass

__all__ = ["AccountSpec", "ProvisionError", "account_email", "provision", "tenant_slug"]

TIMEOUT = 10.0


class ProvisionError(RuntimeError):
    pass


@dataclass(frozen=True)
class AccountSpec:
    prefix: str
    tenants: int
    users_per_tenant: int
    password: str

    def __post_init__(self) -> None:
        if self.tenants < 1 or self.users_per_tenant < 1:
            raise ValueError("need at least one tenant and one user per tenant")
        if len(self.password) < 8:
            raise ValueError("the service refuses passwords shorter than 8 characters")

    def emails(self) -> list[str]:
        return [
            account_email(self.prefix, t, u)
            for u in range(self.users_per_tenant)
            for t in range(self.tenants)
        ]


def tenant_slug(prefix: str, tenant: int) -> str:
    return f"{prefix}-t{tenant}"


def account_email(prefix: str, tenant: int, user: int) -> str:
    return f"user{user}@{tenant_slug(prefix, tenant)}.test"


def _call(
    host: str, method: str, path: str, body: object = None, token: str | None = None
) -> tuple[int, object]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{host.rstrip('/')}{path}", data=data, method=method)  # noqa: S310 — http(s) URL given by the operator
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None
    except (urllib.error.URLError, TimeoutError) as error:
        raise ProvisionError(f"{method} {path}: {error}") from error


def _expect(status: int, allowed: tuple[int, ...], what: str) -> None:
    if status not in allowed:
        raise ProvisionError(f"{what}: HTTP {status}")


def provision(host: str, superuser: tuple[str, str], spec: AccountSpec) -> dict[str, int]:
    """Create what is missing; returns how many tenants and users were created this time."""
    status, body = _call(
        host, "POST", "/api/auth/login", {"email": superuser[0], "password": superuser[1]}
    )
    _expect(status, (200,), "superuser login")
    assert isinstance(body, dict)
    token = str(body["token"])
    created = {"tenants": 0, "users": 0}
    slugs = {tenant_slug(spec.prefix, t): t for t in range(spec.tenants)}
    for slug in slugs:
        status, _ = _call(host, "POST", "/api/tenants", {"slug": slug, "name": slug}, token)
        _expect(status, (201, 409), f"create tenant {slug}")
        created["tenants"] += status == 201
    ids = _tenant_ids(host, token, set(slugs))
    for slug, t in slugs.items():
        for u in range(spec.users_per_tenant):
            user = {
                "email": account_email(spec.prefix, t, u),
                "password": spec.password,
                "role": "admin" if u == 0 else "member",
            }
            status, _ = _call(host, "POST", f"/api/tenants/{ids[slug]}/users", user, token)
            _expect(status, (201, 409), f"create user {user['email']}")
            created["users"] += status == 201
    _call(host, "POST", "/api/auth/logout", None, token)
    return created


def _tenant_ids(host: str, token: str, wanted: set[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    offset = 0
    while wanted - found.keys():
        status, body = _call(host, "GET", f"/api/tenants?limit=100&offset={offset}", None, token)
        _expect(status, (200,), "list tenants")
        assert isinstance(body, dict)
        page = body["tenants"]
        found.update({t["slug"]: t["id"] for t in page if t["slug"] in wanted})
        offset += len(page)
        if not page or offset >= body["total"]:
            break
    if missing := wanted - found.keys():
        raise ProvisionError(f"tenants not found after creating them: {sorted(missing)}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--prefix", default="load")
    parser.add_argument("--tenants", type=int, default=4)
    parser.add_argument("--users-per-tenant", type=int, default=5)
    parser.add_argument("--superuser-email", default="admin@alertdrill.test")
    args = parser.parse_args(argv)
    # Secrets come from the environment: argv is visible to every user of the machine.
    superuser_password = os.environ.get("LOAD_SUPERUSER_PASSWORD", "")
    password = os.environ.get("LOAD_ACCOUNT_PASSWORD", "")
    if not superuser_password or not password:
        print("LOAD_SUPERUSER_PASSWORD and LOAD_ACCOUNT_PASSWORD must be set", file=sys.stderr)
        return 2
    try:
        spec = AccountSpec(args.prefix, args.tenants, args.users_per_tenant, password)
        created = provision(args.host, (args.superuser_email, superuser_password), spec)
    except (ProvisionError, ValueError) as error:
        print(f"provisioning failed: {error}", file=sys.stderr)
        return 1
    print(json.dumps({"prefix": spec.prefix, **created}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
