"""The seed's SaaS traffic as Locust users, plus the options every locustfile here shares.

Imported by the locustfiles (``locustfile.py``, ``auth_attack.py``); the User classes a
locustfile imports are the ones it runs. Each request is named by the service's route
template (``/api/tenants/{tenant_id}/items``), so Locust's per-endpoint statistics line up
one to one with the service's ``http_requests_total{method, route}``: that is what the
metrics-accuracy check compares. Every task is one request (a logout/login pair aside), so a
graceful stop (``--stop-timeout``) never leaves a request half counted.

What counts as a failure in Locust: a 5xx, no response at all, or a status the flow did not
expect (a 404 for an item this user created). An attacker's 401 is the expected answer and
counts as a success: Locust's failures stay comparable with the service's 5xx counts.
"""

from __future__ import annotations

import itertools
import logging
import random
from typing import Any

from locust import FastHttpUser, constant_pacing, events, tag, task
from locust.env import Environment
from locust.exception import StopUser
from provision import AccountSpec, ProvisionError, account_email, provision

log = logging.getLogger("alertdrill.load")

# Route templates, exactly as the service labels them.
LOGIN = "/api/auth/login"
LOGOUT = "/api/auth/logout"
ME = "/api/auth/me"
TENANTS = "/api/tenants"
TENANT = "/api/tenants/{tenant_id}"
USERS = "/api/tenants/{tenant_id}/users"
ITEMS = "/api/tenants/{tenant_id}/items"
ITEM = "/api/tenants/{tenant_id}/items/{item_id}"
DASHBOARD = "/api/admin/dashboard"
STATUS = "/api/status"
READY = "/health/ready"
SHALLOW = "/health"


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--account-prefix", default="load", help="tenant slug prefix")
    parser.add_argument(
        "--account-password",
        default="",
        env_var="LOCUST_ACCOUNT_PASSWORD",
        is_secret=True,
        help="password of every provisioned tenant user",
    )
    parser.add_argument("--tenants", type=int, default=4, help="tenants to spread users over")
    parser.add_argument("--users-per-tenant", type=int, default=5)
    parser.add_argument("--superuser-email", default="admin@alertdrill.test")
    parser.add_argument(
        "--superuser-password",
        default="",
        env_var="LOCUST_SUPERUSER_PASSWORD",
        is_secret=True,
        help="for the dashboard user, and for --provision",
    )
    parser.add_argument(
        "--provision",
        action="store_true",
        help="create the tenants and users at test start (needs the superuser password)",
    )
    parser.add_argument(
        "--think-time",
        type=float,
        default=1.0,
        help="multiplies every think time (0.5 = twice as busy users, 0 = no pauses)",
    )
    parser.add_argument(
        "--attack-rate",
        type=float,
        default=2.0,
        help="login attempts per second of each AuthAttacker user",
    )


def _options_of(environment: Environment) -> Any:
    if environment.parsed_options is None:
        raise StopUser("no parsed options: run these users through the locust command")
    return environment.parsed_options


@events.init.add_listener
def _prune_untagged(environment: Environment, runner: Any = None, **_kwargs: Any) -> None:
    """With --tags/--exclude-tags a class may have no task left, and Locust would fail
    instantiating it. Drop such classes, so `-T crud` means "only the CRUD traffic"."""
    # Master or single process only: a worker filters with the tags the master sends it, at
    # its first spawn, and Locust filters once per process (so not here, with no tags yet).
    if runner is None or type(runner).__name__ == "WorkerRunner":
        return
    environment._filter_tasks_by_tags()  # what Locust would do at start; it filters once
    kept = [cls for cls in environment.user_classes if cls.tasks]
    dropped = sorted(cls.__name__ for cls in environment.user_classes if not cls.tasks)
    if dropped and kept:
        log.info("no tasks left after tag filtering, not spawning: %s", ", ".join(dropped))
        environment.user_classes = kept


@events.test_start.add_listener
def _provision(environment: Environment, **_kwargs: Any) -> None:
    options = environment.parsed_options
    if options is None or not options.provision:
        return
    # Master or a single process only: workers share what the master created.
    if type(environment.runner).__name__ == "WorkerRunner":
        return
    if not options.superuser_password or not options.account_password:
        raise ProvisionError("--provision needs --superuser-password and --account-password")
    spec = AccountSpec(
        options.account_prefix, options.tenants, options.users_per_tenant, options.account_password
    )
    created = provision(
        environment.host or "", (options.superuser_email, options.superuser_password), spec
    )
    log.info("provisioned %s", created)


_next_account = itertools.count(random.randrange(1_000))


def _think(environment: Environment, low: float, high: float) -> float:
    scale = float(_options_of(environment).think_time)
    return random.uniform(low, high) * max(0.0, scale)


class _Api(FastHttpUser):
    abstract = True
    # Requests never hang a user forever: a response slower than this is a failure.
    network_timeout = 30.0
    connection_timeout = 5.0

    def _call(
        self,
        method: str,
        path: str,
        name: str,
        expected: tuple[int, ...],
        *,
        body: object = None,
        token: str | None = None,
    ) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        with self.client.request(
            method, path, name=name, json=body, headers=headers, catch_response=True
        ) as response:
            if response.status_code in expected:
                response.success()
                return response
            response.failure(f"HTTP {response.status_code} (expected {expected})")
            return None


class TenantUser(_Api):
    """A member of a tenant at work: browses and edits the tenant's items, now and then
    checks who they are, looks at the tenant and its users, and logs in again."""

    weight = 12

    def wait_time(self) -> float:
        return _think(self.environment, 1.0, 3.0)

    def on_start(self) -> None:
        options = _options_of(self.environment)
        if not options.account_password:
            raise StopUser("TenantUser needs --account-password (and provisioned accounts)")
        n = next(_next_account)
        tenant = n % options.tenants
        self.email = account_email(
            options.account_prefix, tenant, (n // options.tenants) % options.users_per_tenant
        )
        self.password = str(options.account_password)
        self.items: list[str] = []
        self._login()

    def _login(self) -> None:
        response = self._call(
            "POST", LOGIN, LOGIN, (200,), body={"email": self.email, "password": self.password}
        )
        if response is None:
            raise StopUser(f"{self.email} cannot log in")
        payload = response.json()
        self.token = str(payload["token"])
        self.tenant = str(payload["user"]["tenant_id"])

    def _items(self) -> str:
        return f"/api/tenants/{self.tenant}/items"

    @tag("browse")
    @task(6)
    def list_items(self) -> None:
        self._call("GET", f"{self._items()}?limit=20", ITEMS, (200,), token=self.token)

    @tag("browse")
    @task(4)
    def get_item(self) -> None:
        if not self.items:
            self.list_items()
            return
        item = random.choice(self.items)
        self._call("GET", f"{self._items()}/{item}", ITEM, (200,), token=self.token)

    @tag("crud")
    @task(3)
    def create_item(self) -> None:
        body = {
            "name": f"item {random.randrange(10**6)}",
            "description": "created under load",
            "quantity": random.randrange(100),
        }
        response = self._call("POST", self._items(), ITEMS, (201,), body=body, token=self.token)
        if response is not None:
            self.items.append(str(response.json()["id"]))

    @tag("crud")
    @task(1)
    def update_item(self) -> None:
        if not self.items:
            self.create_item()
            return
        item = random.choice(self.items)
        body = {"name": f"renamed {random.randrange(10**6)}", "quantity": random.randrange(100)}
        self._call("PUT", f"{self._items()}/{item}", ITEM, (200,), body=body, token=self.token)

    @tag("crud")
    @task(1)
    def delete_item(self) -> None:
        if not self.items:
            self.create_item()
            return
        item = self.items.pop(random.randrange(len(self.items)))
        self._call("DELETE", f"{self._items()}/{item}", ITEM, (204,), token=self.token)

    @tag("browse")
    @task(2)
    def me(self) -> None:
        self._call("GET", ME, ME, (200,), token=self.token)

    @tag("browse")
    @task(1)
    def tenant_page(self) -> None:
        self._call("GET", f"/api/tenants/{self.tenant}", TENANT, (200,), token=self.token)

    @tag("browse")
    @task(1)
    def tenant_users(self) -> None:
        path = f"/api/tenants/{self.tenant}/users?limit=20"
        self._call("GET", path, USERS, (200,), token=self.token)

    @tag("login")
    @task(1)
    def log_in_again(self) -> None:
        self._call("POST", LOGOUT, LOGOUT, (204,), token=self.token)
        self._login()


class SuperUser(_Api):
    """Operations staff on the superuser dashboard."""

    weight = 1

    def wait_time(self) -> float:
        return _think(self.environment, 3.0, 8.0)

    def on_start(self) -> None:
        options = _options_of(self.environment)
        if not options.superuser_password:
            raise StopUser("SuperUser needs --superuser-password")
        body = {"email": options.superuser_email, "password": options.superuser_password}
        response = self._call("POST", LOGIN, LOGIN, (200,), body=body)
        if response is None:
            raise StopUser("the superuser cannot log in")
        self.token = str(response.json()["token"])

    @tag("dashboard")
    @task(3)
    def dashboard(self) -> None:
        self._call("GET", DASHBOARD, DASHBOARD, (200,), token=self.token)

    @tag("dashboard")
    @task(1)
    def tenants(self) -> None:
        self._call("GET", f"{TENANTS}?limit=50", TENANTS, (200,), token=self.token)


class Visitor(_Api):
    """Anonymous visitors of the public status page."""

    weight = 3

    def wait_time(self) -> float:
        return _think(self.environment, 2.0, 6.0)

    @tag("status")
    @task
    def status_page(self) -> None:
        self._call("GET", STATUS, STATUS, (200,))


class HealthProbe(_Api):
    """An orchestrator's readiness and liveness checks (machine traffic: the alert rules
    leave /health* out of API rates and latencies)."""

    weight = 1

    def wait_time(self) -> float:
        return _think(self.environment, 2.0, 2.0)

    @tag("health")
    @task(3)
    def ready(self) -> None:
        # 503 is a valid answer of a readiness probe (a dependency down), not a probe failure.
        self._call("GET", READY, READY, (200, 503))

    @tag("health")
    @task(1)
    def shallow(self) -> None:
        self._call("GET", SHALLOW, SHALLOW, (200,))


class AuthAttacker(_Api):
    """Credential stuffing: real account names (and some that do not exist), wrong passwords,
    at a fixed pace per user (--attack-rate). The service's 401 is the expected answer."""

    weight = 1

    def wait_time(self) -> float:
        rate = float(_options_of(self.environment).attack_rate)
        # Pacing, not a pause: the attempt's own response time is part of the interval.
        return float(constant_pacing(1.0 / rate if rate > 0 else 1.0)(self))

    @tag("attack")
    @task
    def stuff_credentials(self) -> None:
        options = _options_of(self.environment)
        if random.random() < 0.8:
            email = account_email(
                options.account_prefix,
                random.randrange(options.tenants),
                random.randrange(options.users_per_tenant),
            )
        else:
            email = f"nobody{random.randrange(10**6)}@example.com"
        body = {"email": email, "password": f"guess-{random.randrange(10**9)}"}
        self._call("POST", LOGIN, LOGIN, (401,), body=body)
