"""What every fault is: inject, revert, describe; journaled, bounded in time, never left behind.

Three nets make sure a fault does not outlive its drill:

1. ``injected()`` reverts in ``finally``, so the normal path and a failing assertion both undo it.
2. A watchdog thread reverts it after ``max_duration`` seconds even if the test hangs inside the
   block (a deadlocked wait, a debugger left open). The block then fails with ``FaultError``:
   whatever it asserted after that moment was no longer asserted under the fault. Faults applied
   through the service's admin API carry the same bound server-side, so even a harness killed
   with SIGKILL cannot leave one on for longer.
3. A ``FaultRegistry`` holds every fault injected and not yet reverted; the session finalizer
   calls ``revert_all()``, which tries every leftover and reports all failures together.

``revert()`` is idempotent: reverting a fault that is not injected does nothing, so the three
nets never fight. A revert that fails leaves the fault registered (and injected), so the next
net tries again. Every inject and revert lands in a thread-safe ``FaultJournal`` with monotonic
time (for latencies against the timeline) and wall time (for reports).
"""

from __future__ import annotations

import abc
import contextlib
import logging
import math
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Literal, Protocol, Self, runtime_checkable

from alertdrill.errors import FaultError

__all__ = [
    "DEFAULT_MAX_DURATION",
    "BaseFault",
    "Fault",
    "FaultAction",
    "FaultEvent",
    "FaultJournal",
    "FaultRegistry",
    "RevertFailure",
    "RevertReport",
]

log = logging.getLogger(__name__)

#: Seconds a fault may stay injected before its watchdog reverts it. Long enough for any drill
#: in the fast profile (detection floors are seconds), short enough that a hung test does not
#: keep a database down for the rest of the session.
DEFAULT_MAX_DURATION = 120.0

FaultAction = Literal["inject", "inject-failed", "revert", "revert-failed"]


@dataclass(frozen=True)
class FaultEvent:
    """One journal line: which fault, what happened, when (both clocks), and details."""

    fault: str
    action: FaultAction
    at_monotonic: float
    at_wall: float
    detail: str = ""


class FaultJournal:
    """Append-only, thread-safe record of every inject and revert (watchdogs write from threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[FaultEvent] = []

    def record(self, fault: str, action: FaultAction, detail: str = "") -> FaultEvent:
        event = FaultEvent(
            fault=fault,
            action=action,
            at_monotonic=time.monotonic(),
            at_wall=time.time(),
            detail=detail,
        )
        with self._lock:
            self._events.append(event)
        return event

    def events(self, fault: str | None = None) -> tuple[FaultEvent, ...]:
        """Every event in order, or only those of the fault named ``fault``."""
        with self._lock:
            events = tuple(self._events)
        return events if fault is None else tuple(e for e in events if e.fault == fault)

    def clear(self) -> None:
        with self._lock:
            self._events.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)


@runtime_checkable
class Fault(Protocol):
    """A reversible change to a running stack."""

    @property
    def name(self) -> str: ...

    def describe(self) -> str:
        """One line for humans and reports: what is broken, where, how hard, for how long."""
        ...

    def inject(self) -> None: ...

    def revert(self) -> None:
        """Undo inject(); a no-op when not injected."""
        ...

    def injected(self) -> AbstractContextManager[object]:
        """Inject, yield, revert in ``finally``."""
        ...


@dataclass(frozen=True)
class RevertFailure:
    fault: str
    error: str


@dataclass(frozen=True)
class RevertReport:
    """Outcome of ``FaultRegistry.revert_all()``: what was reverted, what could not be."""

    reverted: tuple[str, ...]
    failures: tuple[RevertFailure, ...]

    @property
    def ok(self) -> bool:
        return not self.failures

    def raise_if_failed(self) -> None:
        """One FaultError naming every fault that is still injected."""
        if self.failures:
            lines = "; ".join(f"{f.fault}: {f.error}" for f in self.failures)
            raise FaultError(f"{len(self.failures)} fault(s) could not be reverted: {lines}")


class FaultRegistry:
    """Faults injected and not yet reverted, for the session finalizer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # A list with identity checks: faults need not be hashable, and order matters
        # (reverted last-in first-out, like nested ``with`` blocks).
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            if not any(f is fault for f in self._faults):
                self._faults.append(fault)

    def discard(self, fault: Fault) -> None:
        with self._lock:
            self._faults = [f for f in self._faults if f is not fault]

    def active(self) -> tuple[Fault, ...]:
        with self._lock:
            return tuple(self._faults)

    def revert_all(self) -> RevertReport:
        """Revert every leftover, newest first; failures are collected, never raised here."""
        reverted: list[str] = []
        failures: list[RevertFailure] = []
        for fault in reversed(self.active()):
            try:
                fault.revert()
            except Exception as error:  # every leftover gets its chance, whatever one raises
                log.warning("could not revert %s: %s", fault.name, error)
                failures.append(RevertFailure(fault=fault.name, error=str(error) or repr(error)))
            else:
                reverted.append(fault.name)
                self.discard(fault)  # a fault that does not deregister itself
        return RevertReport(reverted=tuple(reverted), failures=tuple(failures))

    def __len__(self) -> int:
        with self._lock:
            return len(self._faults)


class BaseFault(abc.ABC):
    """Journaling, idempotent revert, registry and watchdog around three hooks.

    Subclasses implement ``describe()``, ``_inject()`` and ``_revert()`` (each may return a
    detail string for the journal), and optionally ``_precheck()``: it runs before anything is
    changed, so a fault that cannot apply (a component that is not running) fails with nothing
    to undo. When ``_inject()`` itself fails, ``_revert()`` is attempted at once, because the
    change may have half happened (a request that timed out after the server applied it).
    """

    def __init__(
        self,
        name: str,
        *,
        max_duration: float = DEFAULT_MAX_DURATION,
        journal: FaultJournal | None = None,
        registry: FaultRegistry | None = None,
    ) -> None:
        if not (max_duration > 0 and math.isfinite(max_duration)):
            raise ValueError(f"max_duration must be a positive number of seconds: {max_duration}")
        self._name = name
        self.max_duration = float(max_duration)
        self.journal = journal if journal is not None else FaultJournal()
        self.registry = registry
        self._lock = threading.Lock()
        self._injected = False
        self._watchdog_fired = False
        self._cancel_watchdog = threading.Event()

    # -- hooks ---------------------------------------------------------------

    @abc.abstractmethod
    def describe(self) -> str: ...

    def _precheck(self) -> None:  # noqa: B027 - optional hook
        """Raise FaultError when the fault cannot apply; nothing has changed yet."""

    @abc.abstractmethod
    def _inject(self) -> str | None: ...

    @abc.abstractmethod
    def _revert(self) -> str | None: ...

    # -- state ---------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def is_injected(self) -> bool:
        with self._lock:
            return self._injected

    @property
    def watchdog_fired(self) -> bool:
        """True when the last injection was reverted by the watchdog, not by the caller."""
        with self._lock:
            return self._watchdog_fired

    # -- inject / revert -------------------------------------------------------

    def inject(self) -> None:
        with self._lock:
            if self._injected:
                raise FaultError(f"{self._name} is already injected")
            try:
                self._precheck()
            except FaultError:
                raise
            except Exception as error:
                raise FaultError(f"{self._name}: cannot inject: {error}") from error
            self._watchdog_fired = False
            # Registered before the attempt: a half-applied fault is one the finalizer must see.
            if self.registry is not None:
                self.registry.add(self)
            try:
                detail = self._inject()
            except Exception as error:
                self.journal.record(self._name, "inject-failed", _text(error))
                self._injected = True  # maybe partly: let the revert path decide
                with contextlib.suppress(FaultError):  # recorded; the finalizer retries
                    self._revert_locked("undo after failed inject")
                raise FaultError(f"{self._name}: inject failed: {error}") from error
            self._injected = True
            self.journal.record(self._name, "inject", _join(self.describe(), detail))
            self._cancel_watchdog = threading.Event()
            threading.Thread(
                target=self._watch,
                args=(self._cancel_watchdog,),
                name=f"fault-watchdog-{self._name}",
                # Daemon: a watchdog must never keep the interpreter alive on its own.
                daemon=True,
            ).start()

    def revert(self) -> None:
        """Undo the fault; does nothing when it is not injected. Raises FaultError on failure
        (the fault then stays injected and registered, so a later revert tries again)."""
        with self._lock:
            self._revert_locked("")

    def _revert_locked(self, why: str) -> None:
        if not self._injected:
            return
        try:
            detail = self._revert()
        except Exception as error:
            self.journal.record(self._name, "revert-failed", _join(why, _text(error)))
            raise FaultError(f"{self._name}: revert failed: {error}") from error
        self._injected = False
        self._cancel_watchdog.set()
        if self.registry is not None:
            self.registry.discard(self)
        self.journal.record(self._name, "revert", _join(why, detail))

    def _watch(self, cancelled: threading.Event) -> None:
        # The wait is the bound itself: wakes early (and exits) as soon as the fault is reverted.
        if cancelled.wait(self.max_duration):
            return
        with self._lock:
            # Reverted (and maybe re-injected, with a new event) while we waited for the lock.
            if cancelled.is_set() or not self._injected:
                return
            self._watchdog_fired = True
            try:
                self._revert_locked(f"watchdog: still injected after {self.max_duration:g}s")
            except FaultError as error:
                log.error("watchdog could not revert %s: %s", self._name, error)

    @contextlib.contextmanager
    def injected(self) -> Iterator[Self]:
        """Inject, yield the fault, revert in ``finally``.

        When the block raises, its exception wins; a failed revert is added to it as a note
        (the fault stays registered for the finalizer). When the block ends normally after the
        watchdog already reverted the fault, FaultError says so.
        """
        self.inject()
        try:
            yield self
        except BaseException as error:
            try:
                self.revert()
            except FaultError as revert_error:
                error.add_note(f"and the fault was not reverted: {revert_error}")
            raise
        self.revert()
        if self.watchdog_fired:
            raise FaultError(
                f"{self._name} was reverted by its watchdog after {self.max_duration:g}s, "
                "before the block ended: checks made after that ran without the fault "
                "(raise max_duration or shorten the block)"
            )

    def __repr__(self) -> str:
        state = "injected" if self._injected else "not injected"
        return f"<{type(self).__name__} {self._name} {state}>"


def _text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _join(*parts: str | None) -> str:
    return "; ".join(p for p in parts if p)
