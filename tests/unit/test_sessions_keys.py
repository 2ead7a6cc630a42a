"""Session tokens, Redis keys and stored blobs (pure logic; Redis itself is in integration)."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from system_under_test.activity import PLATFORM_TENANT_LABEL, tenant_label
from system_under_test.models import SLUG_PATTERN
from system_under_test.sessions import (
    SESSION_KEY_PREFIX,
    SessionData,
    decode_session,
    encode_session,
    looks_like_token,
    new_token,
    session_key,
    token_digest,
)

pytestmark = pytest.mark.unit

DATA = SessionData(
    user_id="u-1", tenant_id="t-1", role="member", email="a@example.com", tenant_slug="acme"
)


def test_tokens_are_long_random_and_well_formed() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    for token in tokens:
        assert len(token) >= 43  # 32 bytes of entropy
        assert looks_like_token(token)


def test_redis_key_holds_the_digest_never_the_token() -> None:
    token = new_token()
    key = session_key(token)
    assert key == SESSION_KEY_PREFIX + hashlib.sha256(token.encode()).hexdigest()
    assert token not in key
    assert token_digest(token) in key


@pytest.mark.parametrize(
    "token", ["", "short", "x" * 129, "has space in it padding padding", "a/b+c=" * 5]
)
def test_foreign_token_shapes_are_rejected(token: str) -> None:
    assert not looks_like_token(token)


def test_blob_round_trip() -> None:
    assert decode_session(encode_session(DATA)) == DATA
    superuser = SessionData(user_id="u-2", tenant_id=None, role="superuser", email="s@x.io")
    assert decode_session(encode_session(superuser)) == superuser


def test_blob_carries_no_secret() -> None:
    blob = json.loads(encode_session(DATA))
    assert set(blob) == {"user_id", "tenant_id", "role", "email", "tenant_slug"}


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "not json",
        "[]",
        json.dumps({"user_id": "u", "role": "member"}),  # no email
        json.dumps({"user_id": "u", "role": "root", "email": "e"}),  # unknown role
        json.dumps({"user_id": 1, "role": "member", "email": "e"}),  # wrong type
        json.dumps({"user_id": "u", "role": "member", "email": "e", "tenant_id": 5}),
    ],
)
def test_corrupt_or_foreign_blobs_are_no_session(raw: str | None) -> None:
    assert decode_session(raw) is None


def test_tenant_label_prefers_slug_and_never_collides_for_superusers() -> None:
    assert tenant_label("t-1", "acme") == "acme"
    assert tenant_label("t-1", None) == "t-1"
    assert tenant_label(None, None) == PLATFORM_TENANT_LABEL
    assert not re.match(SLUG_PATTERN, PLATFORM_TENANT_LABEL)
