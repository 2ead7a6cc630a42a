"""Temp dirs that name the process owning them, so a later run can sweep a dead run's ones.

A stack removes its temp dirs on ``stop()`` and at interpreter exit. A harness killed outright
(SIGKILL, OOM killer, a CI job cancelled hard) runs neither, and some of what it leaves is
worse than disk: a drill filesystem stays loop-mounted and holds a loop device. Docker
resources carry their owner in labels (``containers_engine.remove_leftovers``); host-side dirs
carry it in an ``.alertdrill-owner`` file: ``<pid> <process start time>``. The start time
guards against pid reuse: a new process with the dead one's pid is not its owner.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = [
    "OWNER_FILE",
    "claim",
    "make_owned_dir",
    "owner_alive",
    "process_start_time",
    "stale_dirs",
    "sweep",
]

log = logging.getLogger(__name__)

OWNER_FILE = ".alertdrill-owner"
#: A dir without an owner file is only someone's once it is this old: a run creates the file
#: right after the dir, so a younger one may be a parallel run in between the two calls.
_UNCLAIMED_GRACE = 600.0


def process_start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat (clock ticks since boot), None when no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    # After the ")" of the command name come fields 3.. : start time is field 22.
    return fields[19] if len(fields) > 19 else None


def claim(directory: Path) -> None:
    """Mark ``directory`` as this process's."""
    (directory / OWNER_FILE).write_text(f"{os.getpid()} {process_start_time(os.getpid())}\n")


def make_owned_dir(prefix: str, base_dir: Path | None = None) -> Path:
    """``tempfile.mkdtemp`` plus the owner file."""
    directory = Path(tempfile.mkdtemp(prefix=prefix, dir=base_dir))
    claim(directory)
    return directory


def owner_alive(directory: Path, *, now: float | None = None) -> bool:
    """Whether the process that made ``directory`` still runs (unclaimed young dirs: yes)."""
    try:
        pid_text, _, started = (directory / OWNER_FILE).read_text().strip().partition(" ")
    except OSError:
        try:
            age = (time.time() if now is None else now) - directory.stat().st_mtime
        except OSError:
            return False
        return age < _UNCLAIMED_GRACE
    if not pid_text.isdigit():
        return False
    return process_start_time(int(pid_text)) == started


def stale_dirs(prefix: str, base_dir: Path | None = None) -> Iterator[Path]:
    """``prefix``* dirs under the temp dir whose owner is gone."""
    root = Path(base_dir or tempfile.gettempdir())
    for directory in sorted(root.glob(f"{prefix}*")):
        if directory.is_dir() and not directory.is_symlink() and not owner_alive(directory):
            yield directory


def sweep(
    prefix: str,
    base_dir: Path | None = None,
    *,
    release: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Remove every stale ``prefix``* dir; ``release`` first undoes what is not a file (a
    mount). Errors are left for the next sweep: this is best effort by design."""
    removed: list[Path] = []
    for directory in stale_dirs(prefix, base_dir):
        try:
            if release is not None:
                release(directory)
        except Exception as error:  # a mount still busy: the next sweep retries
            log.warning("leftover %s not released yet: %s", directory, error)
            continue
        shutil.rmtree(directory, ignore_errors=True)
        if not directory.exists():
            removed.append(directory)
    return removed
