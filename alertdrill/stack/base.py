"""What every stack and every component in it can do.

Deliberately small: faults and drills only need to start, stop, crash, freeze
and read the logs of a component, and a stack only needs to hand out its
components and their URLs. Local processes, containers and external services
each implement these protocols their own way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

__all__ = ["Component", "Stack"]


@runtime_checkable
class Component(Protocol):
    """One running part of a stack (a database, a cache, Prometheus, ...)."""

    @property
    def name(self) -> str: ...

    @property
    def pid(self) -> int | None:
        """Process id of the running server, or None when it is not running."""
        ...

    def start(self) -> None:
        """Start and wait until ready; raises StackError with a hint and log tail."""
        ...

    def stop(self) -> None:
        """Stop gracefully and release everything the component holds."""
        ...

    def kill(self) -> None:
        """Crash it: SIGKILL, no shutdown hooks."""
        ...

    def pause(self) -> None:
        """Freeze it (SIGSTOP): connections hang instead of being refused."""
        ...

    def resume(self) -> None:
        """Undo pause()."""
        ...

    def is_running(self) -> bool: ...

    def logs(self, tail: int = 50) -> str:
        """The last ``tail`` lines of the component's log."""
        ...


@runtime_checkable
class Stack(Protocol):
    """A set of components started and stopped together."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    @property
    def endpoints(self) -> Mapping[str, str]:
        """Component name -> URL a client connects to."""
        ...

    def component(self, name: str) -> Component: ...
