"""pytest plugin (entry point `alertdrill`): options and the session-scoped stack fixture.

The stack is expensive, so it starts once per session, only when a test asks for it, and is
torn down by the fixture's finalizer whatever happens.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from alertdrill.stack.local import LocalStack


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("alertdrill")
    group.addoption(
        "--stack",
        action="store",
        default="local",
        choices=("local",),
        help="backend the scenarios run against (more arrive with their issues)",
    )


@pytest.fixture(scope="session")
def alertdrill_stack(request: pytest.FixtureRequest) -> Iterator[LocalStack]:
    """The whole local stack (PostgreSQL, Redis, service), started once per session."""
    backend = request.config.getoption("--stack")
    if backend != "local":  # pragma: no cover — argparse choices already refuse it
        raise pytest.UsageError(f"unknown stack backend {backend!r}")
    stack = LocalStack()
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
