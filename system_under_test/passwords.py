"""Password hashing with stdlib scrypt, off the event loop.

Encoded form: `scrypt$N$salt_b64$hash_b64`. N is stored with each hash so raising
`password_hash_n` later never breaks existing accounts. scrypt deliberately burns tens of
milliseconds of CPU, so every hash/verify runs in a worker thread: one login must never stall
every other request on the event loop.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import unicodedata

import anyio.to_thread

SCHEME = "scrypt"
R = 8
P = 1
SALT_BYTES = 16
KEY_BYTES = 32
# Upper bound on N accepted from settings or a stored hash: 2**20 already needs ~1 GiB.
MAX_N = 2**20
# Salt for the dummy verification: its value is irrelevant, only the cost matters.
_DUMMY_SALT = b"alertdrill-dummy"


def _check_n(n: int) -> None:
    if n < 2 or n > MAX_N or n & (n - 1):
        raise ValueError(f"scrypt N must be a power of two between 2 and {MAX_N}, got {n}")


def _derive(password: str, salt: bytes, n: int) -> bytes:
    # NFKC so the same password typed on different keyboards/IMEs hashes identically.
    secret = unicodedata.normalize("NFKC", password).encode("utf-8")
    # OpenSSL's default memory cap (32 MiB) is below what N >= 2**15 needs: allow 2x the need.
    maxmem = 2 * 128 * R * (n + P + 2)
    return hashlib.scrypt(secret, salt=salt, n=n, r=R, p=P, maxmem=maxmem, dklen=KEY_BYTES)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password_sync(password: str, n: int) -> str:
    """Hash with a fresh random salt (blocking: call `hash_password` from async code)."""
    _check_n(n)
    salt = secrets.token_bytes(SALT_BYTES)
    return f"{SCHEME}${n}${_b64(salt)}${_b64(_derive(password, salt, n))}"


def verify_password_sync(password: str, encoded: str) -> bool:
    """Constant-time comparison against a stored hash; a malformed hash never verifies."""
    try:
        scheme, n_text, salt_b64, hash_b64 = encoded.split("$")
        if scheme != SCHEME:
            return False
        n = int(n_text)
        _check_n(n)
        salt = base64.b64decode(salt_b64, validate=True)
        expected = base64.b64decode(hash_b64, validate=True)
    except ValueError:  # wrong field count, bad int, bad N, bad base64 (binascii.Error)
        return False
    return hmac.compare_digest(_derive(password, salt, n), expected)


def dummy_verify_sync(password: str, n: int) -> bool:
    """Spend exactly the cost of a real verification and fail, so a login for an unknown email
    takes as long as one with a wrong password (timing must not reveal which accounts exist)."""
    _check_n(n)
    hmac.compare_digest(_derive(password, _DUMMY_SALT, n), bytes(KEY_BYTES))
    return False


async def hash_password(password: str, n: int) -> str:
    return await anyio.to_thread.run_sync(functools.partial(hash_password_sync, password, n))


async def verify_password(password: str, encoded: str) -> bool:
    return await anyio.to_thread.run_sync(
        functools.partial(verify_password_sync, password, encoded)
    )


async def dummy_verify(password: str, n: int) -> bool:
    return await anyio.to_thread.run_sync(functools.partial(dummy_verify_sync, password, n))
