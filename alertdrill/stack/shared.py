"""What the local and the container backend share: the optional drill filesystem, teardown.

Both mount the drill filesystem on the host the same way (by default whenever this machine
can: root, loop devices) and report the same way why it is absent; both reserve their host
ports up front and release them at teardown, which stops everything it can and reports the
failures together at the end; a failed start tears down what it started (``OwnedStack``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from alertdrill.errors import StackError
from alertdrill.lifecycle import StartStopContext
from alertdrill.stack.components.drill_filesystem import DrillFilesystem
from alertdrill.stack.ports import free_port, release_port
from alertdrill.stack.render import RenderedConfig

__all__ = [
    "OwnedStack",
    "drill_filesystem_or_raise",
    "mount_drill_filesystem",
    "require",
    "stop_into",
]

T = TypeVar("T")


def require(value: T | None, what: str) -> T:
    """``value``, or StackError when the stack is not started (so ``what`` is missing)."""
    if value is None:
        raise StackError(f"{what} is not available: the stack is not started", component=what)
    return value


def mount_drill_filesystem(
    want: bool | None, base_dir: Path | None, log: logging.Logger
) -> tuple[DrillFilesystem | None, str | None]:
    """The mounted drill filesystem and None, or None and why there is none.

    ``want``: None mounts it when this machine can, True requires it (StackError when it
    cannot), False never. ``log``: the backend's, which says when it could not.
    """
    if want is False:
        return None, "disabled (drill_filesystem=False)"
    # A run killed outright (SIGKILL) left its mount behind: a loop device each.
    DrillFilesystem.remove_stale(base_dir)
    drill_fs = DrillFilesystem(base_dir=base_dir)
    try:
        drill_fs.start()
    except StackError as error:
        if want:
            raise
        log.info("no drill filesystem: %s", error.message)
        return None, error.message
    return drill_fs, None


class OwnedStack(StartStopContext):
    """A stack this process starts and owns (local processes or containers).

    Subclasses set these attributes in ``__init__`` and define ``_start_all`` and ``stop``.
    """

    drill_filesystem_skip_reason: str | None
    _drill_filesystem: DrillFilesystem | None
    _rendered: RenderedConfig | None
    _reserved: list[int]

    @property
    def drill_filesystem(self) -> DrillFilesystem:
        """The small ext4 filesystem for disk drills (on the host, seen by node-exporter);
        StackError (with the reason) if absent."""
        return drill_filesystem_or_raise(self._drill_filesystem, self.drill_filesystem_skip_reason)

    @property
    def rendered(self) -> RenderedConfig:
        return require(self._rendered, "rendered config")

    def start(self) -> None:
        """Start everything; a failure stops what did start before it propagates."""
        try:
            self._start_all()
        except BaseException:
            self.stop()
            raise

    def _start_all(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def _reserve(self) -> int:
        """A free host port, held until ``_release_ports()``."""
        port = free_port()
        self._reserved.append(port)
        return port

    def _release_ports(self) -> None:
        while self._reserved:
            release_port(self._reserved.pop())


def drill_filesystem_or_raise(
    drill_fs: DrillFilesystem | None, skip_reason: str | None
) -> DrillFilesystem:
    """``drill_fs``, or StackError saying why there is none."""
    if drill_fs is None:
        reason = skip_reason or "the stack is not started"
        raise StackError(f"no drill filesystem: {reason}", component="drill-filesystem")
    return drill_fs


def stop_into(errors: list[BaseException], stop: Callable[[], object]) -> None:
    """``stop()``; a failure goes to ``errors`` so the teardown goes on and reports it after."""
    try:
        stop()
    except Exception as error:  # reported with the rest
        errors.append(error)
