"""Waiting for an operator's Ctrl-C or a service manager's SIGTERM (long-running commands)."""

from __future__ import annotations

import signal
import threading
from types import FrameType

__all__ = ["wait_for_signal"]


def wait_for_signal() -> int:
    """Block until SIGINT/SIGTERM; returns the signal number.

    The previous handlers are back in place on return, so the caller's cleanup runs with
    the usual Ctrl-C behaviour.
    """
    received = threading.Event()
    which: list[int] = []

    def handler(signum: int, _frame: FrameType | None) -> None:
        which.append(signum)
        received.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        received.wait()
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    return which[0]
