"""scrypt password hashing: format, verification, dummy verification, off-loop execution."""

from __future__ import annotations

import asyncio
import base64
import threading

import pytest

from system_under_test import passwords

pytestmark = pytest.mark.unit

# Tiny cost: these tests check logic, not strength.
N = 2**8


def test_hash_has_documented_format() -> None:
    encoded = passwords.hash_password_sync("correct horse", N)
    scheme, n_text, salt_b64, hash_b64 = encoded.split("$")
    assert scheme == "scrypt"
    assert int(n_text) == N
    assert len(base64.b64decode(salt_b64)) == passwords.SALT_BYTES
    assert len(base64.b64decode(hash_b64)) == passwords.KEY_BYTES
    assert "correct horse" not in encoded


def test_verify_accepts_right_password_and_rejects_wrong_one() -> None:
    encoded = passwords.hash_password_sync("correct horse", N)
    assert passwords.verify_password_sync("correct horse", encoded)
    assert not passwords.verify_password_sync("correct horsE", encoded)
    assert not passwords.verify_password_sync("", encoded)


def test_same_password_gets_a_fresh_salt_each_time() -> None:
    first = passwords.hash_password_sync("same", N)
    second = passwords.hash_password_sync("same", N)
    assert first != second
    assert passwords.verify_password_sync("same", first)
    assert passwords.verify_password_sync("same", second)


def test_verification_uses_the_cost_stored_in_the_hash() -> None:
    # A hash made under an older, cheaper setting still verifies after N is raised.
    old = passwords.hash_password_sync("pw", 2**4)
    assert passwords.verify_password_sync("pw", old)


def test_unicode_normalization_makes_equivalent_passwords_equal() -> None:
    composed = "caf\u00e9"
    decomposed = "cafe\u0301"
    assert passwords.verify_password_sync(decomposed, passwords.hash_password_sync(composed, N))


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "scrypt$256$abc",
        "bcrypt$256$AAAA$AAAA",
        "scrypt$notanumber$AAAA$AAAA",
        "scrypt$255$AAAAAAAAAAAAAAAAAAAAAA==$AAAA",  # N not a power of two
        "scrypt$4194304$AAAAAAAAAAAAAAAAAAAAAA==$AAAA",  # N above the cap
        "scrypt$256$!!notbase64!!$AAAA",
    ],
)
def test_malformed_hashes_never_verify(encoded: str) -> None:
    assert not passwords.verify_password_sync("anything", encoded)


@pytest.mark.parametrize("n", [0, 1, 3, 1000, 2**21])
def test_invalid_cost_is_refused(n: int) -> None:
    with pytest.raises(ValueError, match="power of two"):
        passwords.hash_password_sync("pw", n)


def test_large_cost_within_cap_works() -> None:
    # 2**15 exceeds OpenSSL's default 32 MiB scrypt memory cap: maxmem must be raised.
    encoded = passwords.hash_password_sync("pw", 2**15)
    assert passwords.verify_password_sync("pw", encoded)


def test_dummy_verify_fails_and_costs_a_real_derivation(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = passwords._derive

    def spy(password: str, salt: bytes, n: int) -> bytes:
        calls.append(n)
        return real(password, salt, n)

    monkeypatch.setattr(passwords, "_derive", spy)
    assert passwords.dummy_verify_sync("whatever", N) is False
    assert calls == [N]


def test_async_variants_run_off_the_event_loop_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[int] = []
    real = passwords._derive

    def spy(password: str, salt: bytes, n: int) -> bytes:
        threads.append(threading.get_ident())
        return real(password, salt, n)

    monkeypatch.setattr(passwords, "_derive", spy)

    async def scenario() -> tuple[int, bool, bool, bool]:
        loop_thread = threading.get_ident()
        encoded = await passwords.hash_password("pw", N)
        ok = await passwords.verify_password("pw", encoded)
        bad = await passwords.verify_password("nope", encoded)
        dummy = await passwords.dummy_verify("pw", N)
        assert not dummy
        return loop_thread, ok, bad, dummy

    loop_thread, ok, bad, _ = asyncio.run(scenario())
    assert ok
    assert not bad
    assert len(threads) == 4
    assert loop_thread not in threads
