"""Process faults on any stack ``Component``: crash it, stop it, freeze it, restart it.

Each maps to what an on-call engineer would see: ``KillProcess`` is a crash (SIGKILL, no
shutdown hooks; connections reset, then refused), ``StopProcess`` an orderly stop (clients are
refused at once), ``PauseProcess`` a hang (SIGSTOP: connections are accepted by the kernel but
never answered, so clients wait for their timeouts), ``RestartProcess`` a deploy or an
orchestrator restart (a short stop, data kept). Every revert brings the component back the way
the stack would, and waits until it is ready again.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from alertdrill.errors import FaultError
from alertdrill.faults.base import DEFAULT_MAX_DURATION, BaseFault, FaultJournal, FaultRegistry
from alertdrill.stack.base import Component

__all__ = ["KillProcess", "PauseProcess", "RestartProcess", "StopProcess"]


@runtime_checkable
class _Shutdownable(Protocol):
    """Components that can stop their process but keep their data (``LocalServer``)."""

    def shutdown(self) -> None: ...


@runtime_checkable
class _Restartable(Protocol):
    """Components that restart in place: same port, same data (``LocalServer``)."""

    def restart(self) -> None: ...


class _ProcessFault(BaseFault):
    verb = ""

    def __init__(
        self,
        component: Component,
        *,
        max_duration: float = DEFAULT_MAX_DURATION,
        journal: FaultJournal | None = None,
        registry: FaultRegistry | None = None,
    ) -> None:
        super().__init__(
            f"{self.verb}:{component.name}",
            max_duration=max_duration,
            journal=journal,
            registry=registry,
        )
        self.component = component

    def _precheck(self) -> None:
        # Nothing to break; and reverting would *start* a component someone stopped on purpose.
        if not self.component.is_running():
            raise FaultError(f"{self.name}: {self.component.name} is not running")


class KillProcess(_ProcessFault):
    """SIGKILL the component; revert starts it again (crash recovery included) and waits."""

    verb = "kill"

    def describe(self) -> str:
        return f"kill -9 {self.component.name}, restarted after at most {self.max_duration:g}s"

    def _inject(self) -> str:
        pid = self.component.pid
        self.component.kill()
        return f"SIGKILL pid {pid}"

    def _revert(self) -> str:
        self.component.start()  # a no-op when something else already brought it back
        return f"started again as pid {self.component.pid}"


class StopProcess(_ProcessFault):
    """Stop the component's process gracefully, keeping its data; revert starts it again.

    Uses ``shutdown()`` when the component has it (a local server: stop the process, keep the
    data dir and port), else ``stop()`` (a container or external backend's graceful stop).
    """

    verb = "stop"

    def describe(self) -> str:
        return (
            f"stop {self.component.name} gracefully (data kept), "
            f"started again after at most {self.max_duration:g}s"
        )

    def _inject(self) -> str:
        pid = self.component.pid
        if isinstance(self.component, _Shutdownable):
            self.component.shutdown()
            return f"shutdown() of pid {pid}"
        self.component.stop()
        return f"stop() of pid {pid}"

    def _revert(self) -> str:
        self.component.start()
        return f"started again as pid {self.component.pid}"


class PauseProcess(_ProcessFault):
    """SIGSTOP the component (and its children); revert sends SIGCONT."""

    verb = "pause"

    def describe(self) -> str:
        return f"freeze {self.component.name} (SIGSTOP) for at most {self.max_duration:g}s"

    def _inject(self) -> str:
        self.component.pause()
        return f"SIGSTOP pid {self.component.pid}"

    def _revert(self) -> str:
        if not self.component.is_running():
            # Killed or stopped while frozen (a stop sends SIGCONT itself): nothing is frozen.
            return f"{self.component.name} no longer running: nothing to resume"
        self.component.resume()
        return f"SIGCONT pid {self.component.pid}"


class RestartProcess(_ProcessFault):
    """Restart the component (graceful stop, start, wait until ready), keeping its data.

    The whole fault happens in ``inject()``: it returns once the component is back. Revert then
    has nothing to undo; it only starts the component if the restart failed half-way (stopped,
    and the start did not come up), so a failed restart never leaves it down.
    """

    verb = "restart"

    def describe(self) -> str:
        return f"restart {self.component.name} (graceful stop, start, data kept)"

    def _precheck(self) -> None:
        super()._precheck()
        if not isinstance(self.component, _Restartable | _Shutdownable):
            raise FaultError(f"{self.name}: {self.component.name} cannot restart keeping its data")

    def _inject(self) -> str:
        pid = self.component.pid
        if isinstance(self.component, _Restartable):
            self.component.restart()
        else:
            assert isinstance(self.component, _Shutdownable)  # _precheck
            self.component.shutdown()
            self.component.start()
        return f"pid {pid} -> {self.component.pid}"

    def _revert(self) -> str:
        if self.component.is_running():
            return f"nothing to undo: {self.component.name} running as pid {self.component.pid}"
        self.component.start()
        return f"restart had failed; started again as pid {self.component.pid}"
