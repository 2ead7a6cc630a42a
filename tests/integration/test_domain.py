"""The SaaS domain against real PostgreSQL and Redis: login and sessions, tenant isolation, item
CRUD with its audit trail, the superuser dashboard, bad input, and the activity metrics."""

from __future__ import annotations

import hashlib
import io
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
import redis as redis_sync
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from psycopg import sql as pgsql
from psycopg.rows import dict_row
from pydantic import SecretStr

from system_under_test import audit
from system_under_test.accounts import bootstrap_superuser
from system_under_test.activity import (
    ACTIVE_USERS_KEY,
    PLATFORM_TENANT_LABEL,
    refresh_activity_gauges,
)
from system_under_test.app import create_app
from system_under_test.services import Services
from system_under_test.sessions import SESSIONS_BY_EXPIRY_KEY
from system_under_test.settings import Settings
from tests.helpers import wait_ready

pytestmark = pytest.mark.integration

SUPER_EMAIL = "root@example.com"
SUPER_PASSWORD = "root-password-9f3k"
TTL = 900
WINDOW = 300


@dataclass
class Env:
    client: TestClient
    registry: CollectorRegistry
    logs: io.StringIO
    services: Services
    database_url: str
    redis: redis_sync.Redis

    def sql(self, query: str, params: Any = None) -> list[dict[str, Any]]:
        with psycopg.connect(self.database_url, autocommit=True, row_factory=dict_row) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    def count(self, table: str, where: str = "TRUE", params: Any = None) -> int:
        query = pgsql.SQL("SELECT count(*) AS n FROM {} WHERE {}").format(
            pgsql.Identifier(table), pgsql.SQL(where)
        )
        with psycopg.connect(self.database_url, autocommit=True, row_factory=dict_row) as conn:
            row = conn.execute(query, params).fetchone()
        assert row is not None
        return int(row["n"])

    def metric(self, name: str, labels: dict[str, str] | None = None) -> float:
        return self.registry.get_sample_value(name, labels or {}) or 0.0

    def login(self, email: str, password: str) -> str:
        response = self.client.post("/api/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return str(response.json()["token"])

    def superuser(self) -> dict[str, str]:
        return bearer(self.login(SUPER_EMAIL, SUPER_PASSWORD))

    def create_tenant(self, headers: dict[str, str], slug: str) -> str:
        response = self.client.post(
            "/api/tenants", json={"slug": slug, "name": slug.title()}, headers=headers
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def create_user(
        self, headers: dict[str, str], tenant_id: str, email: str, role: str = "admin"
    ) -> dict[str, Any]:
        response = self.client.post(
            f"/api/tenants/{tenant_id}/users",
            json={"email": email, "password": f"pw-{email}", "role": role},
            headers=headers,
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def create_item(self, headers: dict[str, str], tenant_id: str, name: str) -> dict[str, Any]:
        response = self.client.post(
            f"/api/tenants/{tenant_id}/items",
            json={"name": name, "description": "d", "quantity": 3},
            headers=headers,
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(response: Any, status: int, error_type: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert {"type", "message", "requestId"} <= set(error)
    assert error["requestId"] == response.headers["x-request-id"]
    if error_type is not None:
        assert error["type"] == error_type
    assert "Traceback" not in response.text
    result: dict[str, Any] = error
    return result


def _wait_for_superuser(database_url: str, timeout: float = 30.0) -> None:
    """Bootstrap runs right after migrations, so readiness can precede it by a moment."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with psycopg.connect(database_url, autocommit=True) as conn:
            row = conn.execute("SELECT 1 FROM users WHERE role = 'superuser'").fetchone()
        if row is not None:
            return
        time.sleep(0.05)
    raise AssertionError("superuser was not bootstrapped")


def _settings(database_url: str, redis_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        password_hash_n=2**8,  # cheap: these tests exercise logic, not hash strength
        superuser_email=SUPER_EMAIL.upper(),  # stored lowercased
        superuser_password=SecretStr(SUPER_PASSWORD),
        session_ttl_seconds=TTL,
        activity_window_seconds=WINDOW,
        gauge_refresh_seconds=3600,  # tests refresh explicitly
    )


@pytest.fixture
def env(database_url: str, redis_url: str) -> Iterator[Env]:
    registry = CollectorRegistry()
    logs = io.StringIO()
    app = create_app(_settings(database_url, redis_url), registry, log_stream=logs)
    client_redis = redis_sync.Redis.from_url(redis_url, decode_responses=True, socket_timeout=5)
    with TestClient(app) as client:
        wait_ready(client)
        _wait_for_superuser(database_url)
        yield Env(client, registry, logs, app.state.services, database_url, client_redis)
    client_redis.close()


def refresh(env: Env) -> None:
    assert env.client.portal is not None
    env.client.portal.call(refresh_activity_gauges, env.services)


# --- login, sessions, logout ---------------------------------------------------------------


def test_login_issues_a_session_with_ttl_and_counts_success(env: Env) -> None:
    response = env.client.post(
        "/api/auth/login", json={"email": " Root@Example.com ", "password": SUPER_PASSWORD}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tokenType"] == "bearer"
    assert body["expiresIn"] == TTL
    assert body["user"]["email"] == SUPER_EMAIL
    assert body["user"]["role"] == "superuser"
    assert body["user"]["tenant_id"] is None
    assert "password" not in response.text
    token = body["token"]

    key = "session:" + hashlib.sha256(token.encode()).hexdigest()
    assert 0 < env.redis.ttl(key) <= TTL
    stored = json.loads(env.redis.get(key) or "{}")
    assert stored["user_id"] == body["user"]["id"]
    # The raw token is nowhere in Redis: not as a key, not inside any value.
    for name in env.redis.scan_iter("*"):
        assert token not in name
        if env.redis.type(name) == "string":
            assert token not in (env.redis.get(name) or "")
    assert env.metric("auth_attempts_total", {"result": "success", "reason": "ok"}) == 1

    me = env.client.get("/api/auth/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.json()["email"] == SUPER_EMAIL


def test_login_failures_are_generic_counted_and_create_no_session(env: Env) -> None:
    unknown = env.client.post(
        "/api/auth/login", json={"email": "nobody@example.com", "password": "whatever1"}
    )
    wrong = env.client.post(
        "/api/auth/login", json={"email": SUPER_EMAIL, "password": "not-the-password"}
    )
    unknown_error = assert_error(unknown, 401, "unauthorized")
    wrong_error = assert_error(wrong, 401, "unauthorized")
    assert unknown_error["message"] == wrong_error["message"]

    malformed = env.client.post(
        "/api/auth/login",
        content=b'{"email": "x@y.z", "password":',
        headers={"content-type": "application/json"},
    )
    assert_error(malformed, 400, "malformed_json")
    assert_error(env.client.post("/api/auth/login", json={"email": 5, "password": "x"}), 422)
    assert_error(
        env.client.post(
            "/api/auth/login",
            json={"email": SUPER_EMAIL, "password": SUPER_PASSWORD, "admin": True},
        ),
        422,
        "validation_error",
    )
    assert_error(env.client.post("/api/auth/login"), 400)  # no body at all

    def failures(reason: str) -> float:
        return env.metric("auth_attempts_total", {"result": "failure", "reason": reason})

    assert failures("unknown_user") == 1
    assert failures("bad_password") == 1
    assert failures("malformed") == 4
    assert env.metric("auth_attempts_total", {"result": "success", "reason": "ok"}) == 0
    assert env.redis.zcard(SESSIONS_BY_EXPIRY_KEY) == 0
    assert list(env.redis.scan_iter("session:*")) == []


def test_logout_revokes_the_session(env: Env) -> None:
    token = env.login(SUPER_EMAIL, SUPER_PASSWORD)
    key = "session:" + hashlib.sha256(token.encode()).hexdigest()
    assert env.redis.exists(key)
    assert env.client.post("/api/auth/logout", headers=bearer(token)).status_code == 204
    assert not env.redis.exists(key)
    assert env.redis.zcard(SESSIONS_BY_EXPIRY_KEY) == 0
    assert_error(env.client.get("/api/auth/me", headers=bearer(token)), 401, "unauthorized")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer " + "A" * 43},  # well-formed but unknown
        {"Authorization": "Bearer not a token"},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic cm9vdDpwdw=="},
    ],
)
def test_missing_or_wrong_token_is_401(env: Env, headers: dict[str, str]) -> None:
    for method, path in [
        ("GET", "/api/auth/me"),
        ("GET", "/api/tenants"),
        ("POST", "/api/tenants"),
        ("GET", "/api/admin/dashboard"),
        ("GET", f"/api/tenants/{uuid.uuid4()}/items"),
    ]:
        response = env.client.request(
            method, path, headers=headers, json={"slug": "zz", "name": "Z"}
        )
        assert_error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"
    assert env.count("tenants") == 0


# --- tenants, users, isolation -------------------------------------------------------------


@dataclass
class Two:
    a: str
    b: str
    a_admin: dict[str, str]
    b_admin: dict[str, str]
    a_items: list[str]
    b_items: list[str]


def _two_tenants(env: Env) -> Two:
    root = env.superuser()
    a = env.create_tenant(root, "acme")
    b = env.create_tenant(root, "globex")
    env.create_user(root, a, "alice@acme.test")
    env.create_user(root, b, "bob@globex.test")
    a_admin = bearer(env.login("alice@acme.test", "pw-alice@acme.test"))
    b_admin = bearer(env.login("bob@globex.test", "pw-bob@globex.test"))
    a_items = [env.create_item(a_admin, a, f"a{i}")["id"] for i in range(3)]
    b_items = [env.create_item(b_admin, b, f"b{i}")["id"] for i in range(2)]
    return Two(a, b, a_admin, b_admin, a_items, b_items)


def test_tenant_isolation(env: Env) -> None:
    t = _two_tenants(env)
    a_list = env.client.get(f"/api/tenants/{t.a}/items", headers=t.a_admin)
    assert a_list.status_code == 200
    assert {i["id"] for i in a_list.json()["items"]} == set(t.a_items)
    assert a_list.json()["total"] == 3

    not_found = assert_error(
        env.client.get(f"/api/tenants/{t.b}/items", headers=t.a_admin), 404, "not_found"
    )
    unknown = assert_error(
        env.client.get(f"/api/tenants/{uuid.uuid4()}/items", headers=t.a_admin), 404
    )
    assert not_found["message"] == unknown["message"] == "tenant not found"

    b_item = t.b_items[0]
    body = {"name": "stolen", "description": "", "quantity": 0}
    for path in (f"/api/tenants/{t.a}/items/{b_item}", f"/api/tenants/{t.b}/items/{b_item}"):
        assert_error(env.client.get(path, headers=t.a_admin), 404)
        assert_error(env.client.put(path, json=body, headers=t.a_admin), 404)
        assert_error(env.client.delete(path, headers=t.a_admin), 404)
    assert_error(env.client.post(f"/api/tenants/{t.b}/items", json=body, headers=t.a_admin), 404)
    assert_error(env.client.get(f"/api/tenants/{t.b}", headers=t.a_admin), 404)
    assert_error(env.client.get(f"/api/tenants/{t.b}/users", headers=t.a_admin), 404)
    assert_error(
        env.client.post(
            f"/api/tenants/{t.b}/users",
            json={"email": "mole@acme.test", "password": "password1", "role": "admin"},
            headers=t.a_admin,
        ),
        404,
    )
    assert_error(env.client.get("/api/tenants", headers=t.a_admin), 403, "forbidden")
    assert_error(env.client.get("/api/admin/dashboard", headers=t.a_admin), 403)
    assert_error(
        env.client.post("/api/tenants", json={"slug": "evil", "name": "E"}, headers=t.a_admin), 403
    )

    # B's data is untouched; nothing of the refused requests was stored.
    rows = env.sql("SELECT name FROM items WHERE tenant_id = %s ORDER BY name", (t.b,))
    assert [r["name"] for r in rows] == ["b0", "b1"]
    assert env.count("users", "email = 'mole@acme.test'") == 0
    assert env.count("tenants") == 2
    # An own tenant is readable by its users.
    own = env.client.get(f"/api/tenants/{t.a}", headers=t.a_admin)
    assert own.status_code == 200
    assert own.json()["slug"] == "acme"


def test_superuser_sees_every_tenant(env: Env) -> None:
    t = _two_tenants(env)
    root = env.superuser()
    tenants = env.client.get("/api/tenants", headers=root).json()
    assert {x["slug"] for x in tenants["tenants"]} == {"acme", "globex"}
    assert tenants["total"] == 2
    for tenant, ids in ((t.a, t.a_items), (t.b, t.b_items)):
        listed = env.client.get(f"/api/tenants/{tenant}/items", headers=root).json()["items"]
        assert {i["id"] for i in listed} == set(ids)
    item = env.client.get(f"/api/tenants/{t.b}/items/{t.b_items[0]}", headers=root)
    assert item.status_code == 200


def test_users_are_managed_by_admins_and_never_expose_hashes(env: Env) -> None:
    t = _two_tenants(env)
    created = env.create_user(t.a_admin, t.a, "Mia@Acme.test", role="member")
    assert created["email"] == "mia@acme.test"
    assert created["tenant_id"] == t.a
    member = bearer(env.login("mia@acme.test", "pw-Mia@Acme.test"))

    # A member may read but not add users; admins may.
    assert_error(
        env.client.post(
            f"/api/tenants/{t.a}/users",
            json={"email": "x@acme.test", "password": "password1", "role": "admin"},
            headers=member,
        ),
        403,
    )
    listing = env.client.get(f"/api/tenants/{t.a}/users", headers=member)
    assert listing.status_code == 200
    assert {u["email"] for u in listing.json()["users"]} == {"alice@acme.test", "mia@acme.test"}
    for text in (listing.text, json.dumps(created)):
        assert "scrypt$" not in text
        assert "password" not in text

    duplicate = env.client.post(
        f"/api/tenants/{t.b}/users",
        json={"email": "MIA@acme.test", "password": "password1", "role": "member"},
        headers=t.b_admin,
    )
    assert_error(duplicate, 409, "conflict")
    stored = env.sql("SELECT password_hash FROM users WHERE email = 'mia@acme.test'")
    assert len(stored) == 1
    assert stored[0]["password_hash"].startswith("scrypt$256$")


# --- items and the audit log ---------------------------------------------------------------


def test_item_crud_round_trip_with_audit_rows(env: Env) -> None:
    root = env.superuser()
    tenant = env.create_tenant(root, "initech")
    env.create_user(root, tenant, "peter@initech.test")
    user = bearer(env.login("peter@initech.test", "pw-peter@initech.test"))
    base = f"/api/tenants/{tenant}/items"

    created = env.client.post(
        base,
        json={"name": "stapler", "description": "red", "quantity": 1},
        headers={**user, "X-Request-ID": "req-create-1"},
    )
    assert created.status_code == 201, created.text
    item = created.json()
    assert item["tenant_id"] == tenant
    assert (item["name"], item["description"], item["quantity"]) == ("stapler", "red", 1)
    path = f"{base}/{item['id']}"
    assert env.client.get(path, headers=user).json() == item

    replaced = env.client.put(
        path, json={"name": "stapler", "quantity": 2}, headers={**user, "X-Request-ID": "req-put-1"}
    )
    assert replaced.status_code == 200
    assert replaced.json()["quantity"] == 2
    assert replaced.json()["description"] == ""  # PUT replaces the whole item
    assert replaced.json()["updated_at"] >= item["updated_at"]

    page = env.client.get(base, params={"limit": 1, "offset": 0}, headers=user).json()
    assert (page["total"], page["limit"], len(page["items"])) == (1, 1, 1)

    assert env.client.delete(path, headers=user).status_code == 204
    assert_error(env.client.get(path, headers=user), 404)
    assert env.count("items") == 0

    rows = env.sql(
        "SELECT actor_user_id::text AS actor, tenant_id::text AS tenant, action, target_type,"
        " target_id, details, request_id FROM audit_log WHERE target_type = 'item' ORDER BY id"
    )
    assert [r["action"] for r in rows] == ["item.create", "item.update", "item.delete"]
    peter = env.sql("SELECT id::text AS id FROM users WHERE email = 'peter@initech.test'")[0]["id"]
    for row in rows:
        assert (row["actor"], row["tenant"], row["target_id"]) == (peter, tenant, item["id"])
    assert rows[0]["request_id"] == "req-create-1"
    assert rows[1]["request_id"] == "req-put-1"
    assert rows[1]["details"]["before"]["quantity"] == 1
    assert rows[1]["details"]["after"]["quantity"] == 2
    actions = {r["action"] for r in env.sql("SELECT action FROM audit_log")}
    assert {"user.bootstrap", "tenant.create", "user.create"} <= actions


def test_failed_mutations_write_no_audit_rows(env: Env) -> None:
    t = _two_tenants(env)
    root = env.superuser()
    before = env.count("audit_log")
    missing = f"/api/tenants/{t.a}/items/{uuid.uuid4()}"
    assert_error(env.client.put(missing, json={"name": "x"}, headers=t.a_admin), 404)
    assert_error(env.client.delete(missing, headers=t.a_admin), 404)
    assert_error(
        env.client.post("/api/tenants", json={"slug": "acme", "name": "Again"}, headers=root),
        409,
        "conflict",
    )
    assert_error(
        env.client.post(
            f"/api/tenants/{t.a}/users",
            json={"email": "bob@globex.test", "password": "password1", "role": "member"},
            headers=root,
        ),
        409,
    )
    assert_error(
        env.client.post(f"/api/tenants/{uuid.uuid4()}/items", json={"name": "x"}, headers=root),
        404,
    )
    assert env.count("audit_log") == before
    assert env.count("tenants") == 2
    assert env.count("items") == 5


def test_audit_row_and_mutation_commit_or_roll_back_together(env: Env) -> None:
    t = _two_tenants(env)
    db = env.services.db
    items_before, audit_before = env.count("items"), env.count("audit_log")

    async def mutation_then_bad_audit() -> None:
        async with db.transaction("insert") as conn:
            await conn.execute("INSERT INTO items (tenant_id, name) VALUES (%s, 'orphan')", (t.a,))
            await audit.record(
                conn,
                actor=None,
                tenant_id=t.a,
                action="NOT A VALID ACTION",
                target_type="item",
                target_id=None,
                details={},
                request_id=None,
            )

    async def audit_then_bad_mutation() -> None:
        async with db.transaction("insert") as conn:
            await audit.record(
                conn,
                actor=None,
                tenant_id=t.a,
                action="item.create",
                target_type="item",
                target_id=None,
                details={},
                request_id=None,
            )
            await conn.execute(
                "INSERT INTO items (tenant_id, name, quantity) VALUES (%s, 'bad', -1)", (t.a,)
            )

    assert env.client.portal is not None
    for scenario in (mutation_then_bad_audit, audit_then_bad_mutation):
        with pytest.raises(psycopg.errors.CheckViolation):
            env.client.portal.call(scenario)
    assert env.count("items") == items_before
    assert env.count("audit_log") == audit_before


def test_dashboard_lists_tenants_counts_and_recent_audit(env: Env) -> None:
    t = _two_tenants(env)
    root = env.superuser()
    for i in range(50):  # push the audit log past the 50-entry window
        env.create_item(t.b_admin, t.b, f"bulk{i}")
    response = env.client.get("/api/admin/dashboard", headers=root)
    assert response.status_code == 200, response.text
    board = response.json()
    counts = {x["slug"]: (x["user_count"], x["item_count"]) for x in board["tenants"]}
    assert counts == {"acme": (1, 3), "globex": (1, 52)}
    assert board["tenants_total"] == 2
    assert board["users_total"] == 3  # two admins and the superuser
    audit_rows = board["recent_audit"]
    assert len(audit_rows) == 50
    assert audit_rows[0]["details"]["name"] == "bulk49"  # newest first
    stamps = [r["at"] for r in audit_rows]
    assert stamps == sorted(stamps, reverse=True)
    assert "scrypt$" not in response.text


# --- bad input -----------------------------------------------------------------------------


def test_bad_inputs_get_structured_4xx_and_store_nothing(env: Env) -> None:
    root = env.superuser()
    tenant = env.create_tenant(root, "umbrella")
    items = f"/api/tenants/{tenant}/items"
    audit_before = env.count("audit_log")
    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("POST", items, {"content": b'{"name": "x",'}, 400, "malformed_json"),
        ("POST", items, {"json": {"name": "x", "quantity": "5"}}, 422, "validation_error"),
        ("POST", items, {"json": {"name": "x", "quantity": -1}}, 422, "validation_error"),
        ("POST", items, {"json": {"name": "x", "owner": "me"}}, 422, "validation_error"),
        ("POST", items, {"json": {"name": "   "}}, 422, "validation_error"),
        ("POST", items, {"json": {"name": "x" * 201}}, 422, "validation_error"),
        ("POST", items, {"json": ["name", "x"]}, 422, "validation_error"),
        ("POST", f"/api/tenants/{uuid.uuid4()}/items", {"json": {"name": "x"}}, 404, "not_found"),
        ("POST", "/api/tenants/not-a-uuid/items", {"json": {"name": "x"}}, 422, "validation_error"),
        ("GET", f"{items}/not-a-uuid", {}, 422, "validation_error"),
        ("GET", items, {"params": {"limit": 101}}, 422, "validation_error"),
        ("GET", items, {"params": {"offset": -1}}, 422, "validation_error"),
        (
            "POST",
            "/api/tenants",
            {"json": {"slug": "Bad Slug", "name": "B"}},
            422,
            "validation_error",
        ),
        ("POST", "/api/tenants", {"json": {"slug": "ok", "name": 7}}, 422, "validation_error"),
        (
            "POST",
            f"/api/tenants/{tenant}/users",
            {"json": {"email": "u@u.io", "password": "short", "role": "member"}},
            422,
            "validation_error",
        ),
        (
            "POST",
            f"/api/tenants/{tenant}/users",
            {"json": {"email": "u@u.io", "password": "longenough", "role": "superuser"}},
            422,
            "validation_error",
        ),
        (
            "POST",
            f"/api/tenants/{tenant}/users",
            {"json": {"email": "not-an-email", "password": "longenough", "role": "member"}},
            422,
            "validation_error",
        ),
    ]
    for method, path, kwargs, status, error_type in cases:
        headers = dict(root)
        if "content" in kwargs:
            headers["content-type"] = "application/json"
        response = env.client.request(method, path, headers=headers, **kwargs)
        error = assert_error(response, status, error_type)
        assert "longenough" not in response.text  # input is never echoed
        if status == 422:
            assert error["details"], error
    assert env.count("items") == 0
    assert env.count("tenants") == 1
    assert env.count("users") == 1
    assert env.count("audit_log") == audit_before


# --- activity metrics and logs -------------------------------------------------------------


def test_activity_gauges_and_api_calls_per_tenant(env: Env) -> None:
    t = _two_tenants(env)  # logs in root, alice, bob: three sessions
    refresh(env)
    assert env.metric("active_users_total") == 3
    assert env.metric("active_tenants_total") == 2
    assert env.metric("active_sessions") == 3

    acme_before = env.metric("api_calls_total", {"tenant": "acme"})
    for _ in range(4):
        assert env.client.get(f"/api/tenants/{t.a}/items", headers=t.a_admin).status_code == 200
    assert env.metric("api_calls_total", {"tenant": "acme"}) == acme_before + 4
    assert env.metric("api_calls_total", {"tenant": PLATFORM_TENANT_LABEL}) > 0
    # Unauthenticated requests are not attributed to anyone.
    env.client.get(f"/api/tenants/{t.a}/items")
    assert env.metric("api_calls_total", {"tenant": "acme"}) == acme_before + 4

    # Stale activity and expired sessions drop out at the next refresh.
    now = time.time()
    env.redis.zadd(ACTIVE_USERS_KEY, {"ghost-user": now - WINDOW - 60})
    env.redis.zadd(SESSIONS_BY_EXPIRY_KEY, {"expired-session": now - 1})
    assert env.client.post("/api/auth/logout", headers=t.b_admin).status_code == 204
    refresh(env)
    assert env.metric("active_users_total") == 3
    assert env.metric("active_sessions") == 2
    assert env.redis.zscore(ACTIVE_USERS_KEY, "ghost-user") is None
    assert env.redis.zscore(SESSIONS_BY_EXPIRY_KEY, "expired-session") is None


def test_passwords_never_reach_the_logs(env: Env) -> None:
    t = _two_tenants(env)
    secret_new = "brand-new-secret-5512"
    secret_wrong = "wrong-secret-7781"
    env.client.post(
        f"/api/tenants/{t.a}/users",
        json={"email": "new@acme.test", "password": secret_new, "role": "member"},
        headers=t.a_admin,
    )
    env.client.post("/api/auth/login", json={"email": SUPER_EMAIL, "password": secret_wrong})
    env.client.post("/api/auth/login", json={"email": "x@y.z", "password": secret_wrong, "n": 1})
    env.login("new@acme.test", secret_new)

    text = env.logs.getvalue()
    for secret in (SUPER_PASSWORD, secret_new, secret_wrong, "pw-alice@acme.test"):
        assert secret not in text
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    failed = [line for line in lines if line["message"] == "login failed"]
    assert [line["reason"] for line in failed] == ["bad_password"]
    alice = env.sql("SELECT id::text AS id FROM users WHERE email = 'alice@acme.test'")[0]["id"]
    access = [
        line
        for line in lines
        if line["message"] == "Request completed" and line.get("userId") == alice
    ]
    assert access
    assert all(line["tenantId"] == t.a for line in access)


def test_superuser_bootstrap_is_idempotent(env: Env, database_url: str, redis_url: str) -> None:
    second = create_app(
        _settings(database_url, redis_url), CollectorRegistry(), log_stream=io.StringIO()
    )
    with TestClient(second) as client:
        wait_ready(client)
        assert client.portal is not None
        client.portal.call(bootstrap_superuser, second.state.services)
    rows = env.sql("SELECT email, role, tenant_id FROM users")
    assert rows == [{"email": SUPER_EMAIL, "role": "superuser", "tenant_id": None}]
    assert env.count("audit_log", "action = 'user.bootstrap'") == 1
