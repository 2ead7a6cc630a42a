"""The one exception tree of alertdrill.

    AlertdrillError ─┬─ StackError ── MissingBinaryError
                     ├─ FaultError
                     ├─ ConfigError
                     └─ ExpectationFailed (also an AssertionError)

Callers catch ``AlertdrillError`` for "the harness itself went wrong" and let
``ExpectationFailed`` propagate as an ordinary test failure: it subclasses
``AssertionError`` so pytest reports it as a failed assertion, not an error.
"""

from __future__ import annotations

import os

__all__ = [
    "AlertdrillError",
    "ConfigError",
    "ExpectationFailed",
    "FaultError",
    "MissingBinaryError",
    "StackError",
]

# How many characters of a repr() go into a message: an observation can be a
# whole API response, and a failure message should stay readable.
_MAX_OBSERVATION_CHARS = 2000


class AlertdrillError(Exception):
    """Base class of every error the harness raises on purpose."""


class StackError(AlertdrillError):
    """A component failed to start, become ready, or tear down.

    ``component`` names the part (``"postgres"``), ``hint`` says what to check
    first, ``log_tail`` holds the component's last log lines, because a
    readiness timeout without the server's own words is rarely actionable.
    """

    def __init__(
        self,
        message: str,
        *,
        component: str = "",
        hint: str = "",
        log_tail: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.component = component
        self.hint = hint
        self.log_tail = log_tail

    def __str__(self) -> str:
        head = f"{self.component}: {self.message}" if self.component else self.message
        parts = [head]
        if self.hint:
            parts.append(f"hint: {self.hint}")
        tail = self.log_tail.rstrip()
        if tail:
            parts.append("last log lines:")
            parts.extend(f"    {line}" for line in tail.splitlines())
        return "\n".join(parts)

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments do not survive the default exception pickling,
        # and errors cross process boundaries (subprocess runners, xdist).
        return (
            _rebuild_stack_error,
            (type(self), self.message, self.component, self.hint, self.log_tail),
        )


def _rebuild_stack_error(
    cls: type[StackError], message: str, component: str, hint: str, log_tail: str
) -> StackError:
    error = cls.__new__(cls)
    StackError.__init__(error, message, component=component, hint=hint, log_tail=log_tail)
    return error


class MissingBinaryError(StackError):
    """A binary the local stack needs is not installed."""

    def __init__(
        self,
        binary: str,
        *,
        package: str,
        component: str = "",
        searched: tuple[str, ...] = (),
    ) -> None:
        where = "PATH" + "".join(f", {d}" for d in searched)
        super().__init__(
            f"required binary {binary!r} not found (searched {where}); "
            f"it comes with the Debian package {package!r}",
            component=component,
            hint=f"install it with: apt-get install -y {package}",
        )
        self.binary = binary
        self.package = package
        self.searched = searched

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_missing_binary,
            (self.binary, self.package, self.component, self.searched),
        )


def _rebuild_missing_binary(
    binary: str, package: str, component: str, searched: tuple[str, ...]
) -> MissingBinaryError:
    return MissingBinaryError(binary, package=package, component=component, searched=searched)


class FaultError(AlertdrillError):
    """A fault could not be injected or reverted."""


class ConfigError(AlertdrillError):
    """A rules, routes or drill file is invalid; points at file:line when known."""

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = os.fspath(path) if path is not None else None
        self.line = line

    def __str__(self) -> str:
        if self.path is None:
            return self.message
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_config_error, (self.message, self.path, self.line))


def _rebuild_config_error(message: str, path: str | None, line: int | None) -> ConfigError:
    return ConfigError(message, path=path, line=line)


# The name reads as a test outcome ("expectation failed"), which is what it is.
class ExpectationFailed(AlertdrillError, AssertionError):
    """An expectation did not hold within its deadline.

    Carries what was last seen and how long was waited, so the failure says
    "the alert was still pending after 12.3 s" rather than just "False".
    """

    def __init__(
        self,
        message: str,
        *,
        last_observation: object = None,
        elapsed: float,
        timeline: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.last_observation = last_observation
        self.elapsed = elapsed
        self.timeline = timeline

    def __str__(self) -> str:
        observed = repr(self.last_observation)
        if len(observed) > _MAX_OBSERVATION_CHARS:
            observed = observed[:_MAX_OBSERVATION_CHARS] + "…"
        parts = [
            self.message,
            f"waited {self.elapsed:.2f}s; last observation: {observed}",
        ]
        if self.timeline:
            parts.append("timeline:")
            parts.extend(f"    {line}" for line in self.timeline.rstrip().splitlines())
        return "\n".join(parts)

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_expectation_failed,
            (self.message, self.last_observation, self.elapsed, self.timeline),
        )


def _rebuild_expectation_failed(
    message: str, last_observation: object, elapsed: float, timeline: str | None
) -> ExpectationFailed:
    return ExpectationFailed(
        message, last_observation=last_observation, elapsed=elapsed, timeline=timeline
    )
