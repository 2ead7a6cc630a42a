"""A small, real ext4 filesystem for disk-space drills, loop-mounted under a temp dir.

LowDiskSpace watches real, writable filesystems only (tmpfs and friends are excluded), and a
drill must never fill a disk anything else lives on. So the drill gets its own: a sparse image
file, ``mkfs.ext4`` on it (no blocks reserved for root, so "available" is simply "free"),
``mount -o loop`` on a directory next to it. node_exporter reads the host's mount table and
reports it like any other filesystem (its default ``mount-points-exclude`` does not cover the
temp dir).

Every node_exporter on the host sees every drill filesystem, so concurrent stacks (pytest-xdist
workers) would see each other's disk drills. ``node_exporter_mount_exclude()`` gives each
stack's node_exporter an exclude pattern that hides the other stacks' drill filesystems.

Needs root and a kernel that lets us mount (``unavailable_reason()`` says why not, so a stack
can go on without it and a test can skip with that reason). Never leaks a mount: ``stop()``
unmounts (lazily if the filesystem is busy), detaches the loop device if the kernel did not,
and removes the temp dir; it runs from ``finally`` on a failed start and at interpreter exit.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import subprocess
from pathlib import Path

from alertdrill.errors import StackError
from alertdrill.lifecycle import StartStopContext
from alertdrill.stack.owned_dirs import make_owned_dir, sweep

__all__ = [
    "NODE_EXPORTER_DEFAULT_EXCLUDE",
    "DrillFilesystem",
    "FilesystemUsage",
    "node_exporter_mount_exclude",
]

log = logging.getLogger(__name__)

#: node_exporter 1.5's default ``--collector.filesystem.mount-points-exclude`` (Debian build).
NODE_EXPORTER_DEFAULT_EXCLUDE = (
    "^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)"
)
_PREFIX = "alertdrill-drillfs-"
_COMMAND_TIMEOUT = 30.0
_MIN_SIZE_MB = 8  # ext4 needs room for its metadata; smaller is not a useful drill


class FilesystemUsage:
    """``statvfs`` of a mounted filesystem, in node_exporter's terms."""

    def __init__(self, path: Path) -> None:
        st = os.statvfs(path)
        self.size_bytes = st.f_blocks * st.f_frsize  # node_filesystem_size_bytes
        self.avail_bytes = st.f_bavail * st.f_frsize  # node_filesystem_avail_bytes
        self.free_bytes = st.f_bfree * st.f_frsize

    @property
    def avail_ratio(self) -> float:
        return self.avail_bytes / self.size_bytes if self.size_bytes else 0.0


def _run(argv: list[str], what: str) -> None:
    try:
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=_COMMAND_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise StackError(f"{what} failed: {error}", component="drill-filesystem") from error
    if result.returncode != 0:
        raise StackError(
            f"{what} failed ({' '.join(argv)}): exit {result.returncode}",
            component="drill-filesystem",
            log_tail=(result.stderr or result.stdout).strip(),
        )


class DrillFilesystem(StartStopContext):
    """``size_mb`` of ext4 mounted at ``mountpoint`` while started."""

    name = "drill-filesystem"

    def __init__(self, *, size_mb: int = 64, base_dir: Path | None = None) -> None:
        if size_mb < _MIN_SIZE_MB:
            raise ValueError(f"size_mb must be at least {_MIN_SIZE_MB}, got {size_mb}")
        self.size_mb = size_mb
        self._base_dir = base_dir
        self._dir: Path | None = None
        self._mounted = False

    @staticmethod
    def unavailable_reason() -> str | None:
        """Why a drill filesystem cannot be made here, or None when it can (probably: the
        kernel may still refuse the mount, which ``start()`` then reports)."""
        if os.geteuid() != 0:
            return "mounting a drill filesystem needs root"
        for tool in ("mkfs.ext4", "mount", "umount", "losetup"):
            if shutil.which(tool) is None:
                return f"{tool} is not installed (e2fsprogs / mount)"
        if not Path("/dev/loop-control").exists():
            return "no loop device support (/dev/loop-control is missing)"
        return None

    @property
    def mountpoint(self) -> Path:
        if self._dir is None or not self._mounted:
            raise StackError("not mounted: start() it first", component=self.name)
        return self._dir / "mnt"

    @property
    def image(self) -> Path | None:
        return None if self._dir is None else self._dir / "disk.img"

    @property
    def mounted(self) -> bool:
        return self._mounted

    @property
    def token(self) -> str | None:
        """What tells this drill filesystem's mount point from other stacks' ones."""
        return None if self._dir is None else self._dir.name.removeprefix(_PREFIX)

    def usage(self) -> FilesystemUsage:
        return FilesystemUsage(self.mountpoint)

    def start(self) -> None:
        if self._mounted:
            return
        reason = self.unavailable_reason()
        if reason is not None:
            raise StackError(reason, component=self.name)
        atexit.register(self.stop)
        try:
            self._dir = make_owned_dir(_PREFIX, self._base_dir)
            image, mnt = self._dir / "disk.img", self._dir / "mnt"
            with image.open("wb") as handle:
                handle.truncate(self.size_mb * 1024 * 1024)  # sparse: costs no disk until used
            # -m 0: no root-reserved blocks, so avail == free and a fill ratio means what it
            # says; nodiscard: nothing to discard on a fresh sparse file.
            _run(["mkfs.ext4", "-q", "-F", "-m", "0", "-E", "nodiscard", str(image)], "mkfs.ext4")
            mnt.mkdir()
            _run(
                ["mount", "-t", "ext4", "-o", "loop,nosuid,nodev,noexec", str(image), str(mnt)],
                "mount",
            )
            self._mounted = True
        except OSError as error:  # the temp dir or the image: disk full, permissions
            self.stop()
            raise StackError(f"could not create the image: {error}", component=self.name) from error
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Unmount, detach the loop device, remove the temp dir; safe to call any time."""
        atexit.unregister(self.stop)
        directory, self._dir = self._dir, None
        if directory is None:
            return
        image, mnt = directory / "disk.img", directory / "mnt"
        try:
            if self._mounted or os.path.ismount(mnt):
                self._unmount(mnt)
            self._detach(image)
        finally:
            self._mounted = False
            shutil.rmtree(directory, ignore_errors=True)

    @classmethod
    def remove_stale(cls, base_dir: Path | None = None) -> list[Path]:
        """Unmount and remove the drill filesystems of runs that died without ``stop()``
        (SIGKILL): each holds a loop device until someone does. Live runs' ones are kept."""

        def release(directory: Path) -> None:
            mnt = directory / "mnt"
            if os.path.ismount(mnt):
                cls._unmount(mnt)
            cls._detach(directory / "disk.img")

        removed = sweep(_PREFIX, base_dir, release=release)
        if removed:
            log.warning("removed drill filesystems of dead runs: %s", removed)
        return removed

    @staticmethod
    def _unmount(mnt: Path) -> None:
        try:
            _run(["umount", str(mnt)], "umount")
        except StackError as error:
            # Busy (a process has a file open there): detach it from the tree now, the kernel
            # finishes when the last user is gone. Never leave it mounted.
            log.warning("umount %s failed (%s); unmounting lazily", mnt, error)
            _run(["umount", "-l", str(mnt)], "umount -l")

    @staticmethod
    def _detach(image: Path) -> None:
        # mount -o loop sets autoclear, so the device usually went with the umount.
        result = subprocess.run(
            ["losetup", "-j", str(image)],
            capture_output=True,
            text=True,
            timeout=_COMMAND_TIMEOUT,
            check=False,
        )
        for line in result.stdout.splitlines():
            device = line.split(":", 1)[0]
            if device.startswith("/dev/loop"):
                _run(["losetup", "-d", device], "losetup -d")

    def __repr__(self) -> str:
        where = self._dir / "mnt" if self._dir is not None else "not mounted"
        return f"<DrillFilesystem {self.size_mb} MB {where}>"


def node_exporter_mount_exclude(
    own: DrillFilesystem | None, default: str = NODE_EXPORTER_DEFAULT_EXCLUDE
) -> str:
    """``default`` plus every drill filesystem's mount point except ``own``'s.

    node_exporter's regexps are RE2: no lookahead, so "every token but ours" is spelled out
    (shorter, longer, or differing at some position; mkdtemp tokens contain no regexp
    metacharacters).
    """
    token = own.token if own is not None and own.mounted else None
    return f"{default}|/{_PREFIX}{_anything_but(token)}/mnt$"


def _anything_but(token: str | None) -> str:
    if not token:
        return "[^/]+"
    n = len(token)
    alternatives = [f"[^/]{{1,{n - 1}}}" if n > 1 else "", f"[^/]{{{n + 1},}}"]
    for i, char in enumerate(token):
        alternatives.append(f"{token[:i]}[^/{char}][^/]{{{n - i - 1}}}")
    return "(?:" + "|".join(a for a in alternatives if a) + ")"
