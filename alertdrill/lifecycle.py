"""Context-manager mixins for the two lifecycles in the harness.

``StartStopContext``: things that run (stacks, components, sinks, traffic): ``with x`` starts
them and stops them however the block ends. ``CloseContext``: things that hold a resource
from construction (HTTP clients): ``with x`` only closes them at the end.

The mixins declare no ``start``/``stop``/``close`` of their own: a class listing one before a
base that defines them (``LocalServer`` before ``Component``) must still get the base's.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, TypeVar

__all__ = ["CloseContext", "StartStopContext"]


class _StartStop(Protocol):
    # ``object``: some return something useful (Receivers.start: itself; TrafficDriver.stop:
    # its stats), which ``with`` has no use for.
    def start(self) -> object: ...

    def stop(self) -> object: ...


class _Closes(Protocol):
    def close(self) -> object: ...


_S = TypeVar("_S", bound=_StartStop)
_C = TypeVar("_C", bound=_Closes)


class StartStopContext:
    """``__enter__`` → ``start()`` and the object itself, ``__exit__`` → ``stop()``."""

    def __enter__(self: _S) -> _S:
        self.start()
        return self

    def __exit__(
        self: _StartStop,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class CloseContext:
    """``__enter__`` → the object itself, ``__exit__`` → ``close()``."""

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(
        self: _Closes,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
