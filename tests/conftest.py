"""Shared fixtures: one throwaway PostgreSQL and Redis per test session.

Tests reset state through ``database_url`` (a fresh database per test) and
``redis_url`` (FLUSHALL before each test), never by restarting the servers.
Tests that kill, pause or restart a server start their own component instead.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from alertdrill.stack.components import PostgresComponent, RedisComponent

_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresComponent]:
    with PostgresComponent() as server:
        yield server


@pytest.fixture(scope="session")
def redis() -> Iterator[RedisComponent]:
    with RedisComponent() as server:
        yield server


@pytest.fixture
def database_url(postgres: PostgresComponent) -> Iterator[str]:
    """URL of a fresh, empty database, dropped (WITH FORCE) after the test."""
    name = f"test_{next(_database_numbers)}"
    # CREATE DATABASE copies template1: tens of milliseconds with fsync off.
    postgres.drop_database(name)
    url = postgres.create_database(name)
    yield url
    postgres.drop_database(name)


@pytest.fixture
def redis_url(redis: RedisComponent) -> str:
    """URL of Redis db 0, flushed before the test."""
    redis.flushall()
    return redis.url
