"""A container's output captured into a file on the harness's host, as it is written.

Why a file and not only ``docker logs``: a log file is what the local backend's components
have (``log_path``), and drills read it (the service's JSON lines); it also outlives the
container, which the stack removes at the end of the run, so a failed run's logs can still be
read. The follower is one daemon thread per start of the container, appending what the engine
streams; it ends by itself when the container stops (the engine closes the stream), and the
next start follows from the moment of that start, so nothing is captured twice.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from docker.models.containers import Container

__all__ = ["LogFollower"]

log = logging.getLogger(__name__)


class LogFollower:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread: threading.Thread | None = None
        self._stream: object | None = None
        self._lock = threading.Lock()

    def follow(self, container: Container, *, since: float) -> None:
        """Append what ``container`` writes from ``since`` (epoch seconds) until it stops."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return  # still attached: the container never stopped
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch()
            stream = container.logs(stream=True, follow=True, since=since)
            self._stream = stream
            self._thread = threading.Thread(
                target=self._copy, args=(stream,), name=f"logs-{self.path.stem}", daemon=True
            )
            self._thread.start()

    def _copy(self, stream: object) -> None:
        try:
            with self.path.open("ab") as out:
                for chunk in stream:  # type: ignore[attr-defined]
                    out.write(chunk)
                    out.flush()
        except Exception as error:  # the container went away mid-stream: capture ends
            log.debug("log capture of %s ended: %s", self.path.name, error)

    def close(self, timeout: float = 5.0) -> None:
        """Stop following (the container is being removed) and wait for the copier."""
        with self._lock:
            stream, self._stream = self._stream, None
            thread, self._thread = self._thread, None
        close = getattr(stream, "close", None)
        if close is not None:
            try:
                close()
            except Exception as error:  # already closed by the engine
                log.debug("closing log stream %s: %s", self.path.name, error)
        if thread is not None:
            thread.join(timeout=timeout)


def now() -> float:
    """Epoch seconds, a little in the past: the engine's ``since`` is inclusive and coarse."""
    return time.time() - 0.001
