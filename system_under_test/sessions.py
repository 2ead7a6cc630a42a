"""Login sessions in Redis.

A session is an opaque random token handed to the client. Redis only ever sees its SHA-256:
a leaked Redis dump (or `MONITOR` output) yields nothing a caller could present. Each session is
one key with a TTL (Redis expires it) plus a member of a sorted set scored by expiry time, so
"unexpired sessions" is a cheap ZREMRANGEBYSCORE + ZCARD instead of a SCAN over every key.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any

from redis.asyncio import Redis

SESSION_KEY_PREFIX = "session:"
# Sorted set: member = token digest, score = unix expiry time.
SESSIONS_BY_EXPIRY_KEY = "sessions:expiry"
TOKEN_BYTES = 32
# token_urlsafe(32) is 43 characters; anything far longer or outside the alphabet is not ours
# and is rejected before touching Redis.
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
_ROLES = frozenset({"superuser", "admin", "member"})


@dataclass(frozen=True)
class SessionData:
    """What a session remembers about its user: enough to authorize without a database query.
    Roles and tenants never change after creation in this service, so caching them is safe."""

    user_id: str
    tenant_id: str | None
    role: str
    email: str
    tenant_slug: str | None = None


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def looks_like_token(token: str) -> bool:
    return bool(_TOKEN_SHAPE.match(token))


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def session_key(token: str) -> str:
    return SESSION_KEY_PREFIX + token_digest(token)


def encode_session(data: SessionData) -> str:
    return json.dumps(asdict(data), separators=(",", ":"))


def _optional_str(value: Any) -> bool:
    return value is None or isinstance(value, str)


def decode_session(raw: str | bytes | None) -> SessionData | None:
    """Parse a stored blob; anything unexpected (corrupt, foreign, old format) is no session."""
    if raw is None:
        return None
    try:
        blob = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(blob, dict):
        return None
    user_id, role, email = blob.get("user_id"), blob.get("role"), blob.get("email")
    tenant_id, tenant_slug = blob.get("tenant_id"), blob.get("tenant_slug")
    if not (isinstance(user_id, str) and isinstance(email, str) and role in _ROLES):
        return None
    if not (_optional_str(tenant_id) and _optional_str(tenant_slug)):
        return None
    return SessionData(
        user_id=user_id, tenant_id=tenant_id, role=str(role), email=email, tenant_slug=tenant_slug
    )


async def create_session(
    redis: Redis, data: SessionData, ttl_seconds: int, *, now: float | None = None
) -> str:
    """Store a new session; returns the raw token (the only copy: it is never stored)."""
    token = new_token()
    expires_at = (time.time() if now is None else now) + ttl_seconds
    digest = token_digest(token)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(SESSION_KEY_PREFIX + digest, encode_session(data), ex=ttl_seconds)
        pipe.zadd(SESSIONS_BY_EXPIRY_KEY, {digest: expires_at})
        await pipe.execute()
    return token


async def load_session(redis: Redis, token: str) -> SessionData | None:
    if not looks_like_token(token):
        return None
    raw = await redis.get(session_key(token))
    return decode_session(raw)


async def revoke_session(redis: Redis, token: str) -> bool:
    """Delete a session; True if it existed."""
    if not looks_like_token(token):
        return False
    digest = token_digest(token)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(SESSION_KEY_PREFIX + digest)
        pipe.zrem(SESSIONS_BY_EXPIRY_KEY, digest)
        deleted, _ = await pipe.execute()
    return bool(deleted)
