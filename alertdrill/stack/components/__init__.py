"""Components a stack is made of, each runnable as a throwaway local process."""

from __future__ import annotations

from alertdrill.stack.components.postgres import PostgresComponent
from alertdrill.stack.components.redis import RedisComponent
from alertdrill.stack.components.server import LocalServer

__all__ = ["LocalServer", "PostgresComponent", "RedisComponent"]
