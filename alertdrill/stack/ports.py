"""Free TCP ports on 127.0.0.1.

The kernel picks a free port when we bind port 0; we close the socket and hand
the number to a server. Two allocations in the same process could otherwise
get the same number back before either server binds it, so numbers handed out
are remembered until released.
"""

from __future__ import annotations

import socket
import threading

from alertdrill.errors import ExpectationFailed, StackError
from alertdrill.timing import eventually

__all__ = ["LOCALHOST", "free_port", "is_port_free", "release_port", "wait_port_free"]

LOCALHOST = "127.0.0.1"

_lock = threading.Lock()
_handed_out: set[int] = set()
_MAX_ATTEMPTS = 64


def free_port(host: str = LOCALHOST) -> int:
    """A port on ``host`` that is free now and not handed out before in this process."""
    with _lock:
        for _ in range(_MAX_ATTEMPTS):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((host, 0))
                port: int = sock.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise StackError(
        f"no free port on {host} after {_MAX_ATTEMPTS} attempts",
        hint="too many ports handed out and not released? check for leaked components",
    )


def release_port(port: int) -> None:
    """Let ``free_port`` hand ``port`` out again (its server has stopped)."""
    with _lock:
        _handed_out.discard(port)


def is_port_free(port: int, host: str = LOCALHOST) -> bool:
    """True when a server could bind ``host:port`` right now.

    SO_REUSEADDR mirrors what servers do, so a port lingering in TIME_WAIT
    counts as free while one with a listener does not.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def wait_port_free(port: int, host: str = LOCALHOST, *, timeout: float = 10.0) -> None:
    """Wait until ``host:port`` can be bound; raises StackError after ``timeout``."""
    try:
        eventually(
            lambda: is_port_free(port, host),
            within=timeout,
            every=0.05,
            what=f"port {host}:{port} free",
        )
    except ExpectationFailed as error:
        raise StackError(
            f"port {host}:{port} still in use after {timeout:g}s",
            hint=f"something still listens there: ss -ltnp 'sport = :{port}'",
        ) from error
