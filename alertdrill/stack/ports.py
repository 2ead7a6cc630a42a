"""Free TCP ports on 127.0.0.1, safe against other alertdrill processes and outbound sockets.

A port is handed to a server by number (PostgreSQL, Prometheus, a container's published port),
so between our check and its bind, someone else may take it. Two kinds of someone did:

- the kernel, for an outbound connection's local port: binding port 0 returns a port of the
  ephemeral range (``net.ipv4.ip_local_port_range``), the very range outbound connections
  draw from, and with two stacks scraping every 250 ms those are many. So ports are drawn at
  random from *below* that range, where the kernel never picks a local port on its own;
- another alertdrill process (a pytest-xdist worker starting its own stack at the same time):
  every port handed out is claimed with a file in ``/tmp/alertdrill-ports/`` created with
  O_EXCL and naming the owner (pid + start time, so a dead owner's claims are taken over).
  Within a process a set remembers the ports until released, as before.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import random
import socket
import tempfile
import threading
from pathlib import Path

from alertdrill.errors import ExpectationFailed, StackError
from alertdrill.stack.owned_dirs import process_start_time
from alertdrill.timing import eventually

__all__ = ["LOCALHOST", "free_port", "is_port_free", "release_port", "wait_port_free"]

LOCALHOST = "127.0.0.1"

_lock = threading.Lock()
_handed_out: set[int] = set()
_MAX_ATTEMPTS = 256
#: Lowest port drawn: above the registered services people run on developer machines.
_LOWEST = 15000
#: Fixed, not under $TMPDIR: every alertdrill process must see the same claims, whatever
#: temp dir it was given (a test runs the CLI with a private TMPDIR).
_CLAIMS = (Path("/tmp") if Path("/tmp").is_dir() else Path(tempfile.gettempdir())) / (  # noqa: S108
    "alertdrill-ports"
)


def _port_range() -> tuple[int, int]:
    """[low, high) below the ephemeral range; the whole unprivileged range if it starts low."""
    try:
        ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768  # Linux's default
    if ephemeral_low - _LOWEST < 4096:  # too narrow: fall back to the kernel's choice
        return (0, 0)
    return (_LOWEST, ephemeral_low)


def _owner() -> str:
    return f"{os.getpid()} {process_start_time(os.getpid())}"


def _claim(port: int) -> bool:
    """Take the cross-process claim on ``port``; a dead owner's claim is taken over."""
    _CLAIMS.mkdir(mode=0o1777, exist_ok=True)
    path = _CLAIMS / str(port)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid, _, started = path.read_text().strip().partition(" ")
            except OSError:
                continue  # released meanwhile: try again
            if pid.isdigit() and process_start_time(int(pid)) == started:
                return False  # a live process holds it
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # its owner is gone
            continue
        with os.fdopen(fd, "w") as claim:
            claim.write(_owner())
        return True
    return False


def _unclaim(port: int) -> None:
    path = _CLAIMS / str(port)
    with contextlib.suppress(OSError):
        if path.read_text().strip() == _owner():
            path.unlink()


def free_port(host: str = LOCALHOST) -> int:
    """A port on ``host`` that is free now, below the ephemeral range, and neither handed out
    by this process nor claimed by another alertdrill process."""
    low, high = _port_range()
    with _lock:
        for _ in range(_MAX_ATTEMPTS):
            if high:
                port = random.randrange(low, high)  # noqa: S311 - not security
                if port in _handed_out or not is_port_free(port, host):
                    continue
            else:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                    sock.bind((host, 0))
                    port = int(sock.getsockname()[1])
                if port in _handed_out:
                    continue
            if not _claim(port):
                continue
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
        _unclaim(port)


@atexit.register
def _release_all() -> None:
    """Claims end with the process anyway (a dead owner's are taken over); tidy up."""
    with _lock:
        for port in list(_handed_out):
            _unclaim(port)


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
