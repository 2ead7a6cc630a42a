"""The service's own resource facts: memory limit (cgroup or configured), resident memory."""

from __future__ import annotations

import os
from pathlib import Path

_UNLIMITED_V1 = 1 << 60  # cgroup v1 reports "no limit" as a huge page-aligned number


def _own_cgroup_v2_dir(proc_cgroup: Path, root: Path) -> Path | None:
    try:
        for line in proc_cgroup.read_text().splitlines():
            hierarchy, _controllers, path = line.split(":", 2)
            if hierarchy == "0":
                return root / path.lstrip("/")
    except OSError:
        return None
    return None


def cgroup_memory_limit(
    proc_cgroup: Path = Path("/proc/self/cgroup"), root: Path = Path("/sys/fs/cgroup")
) -> int | None:
    """The tightest memory limit among this process's cgroup and its ancestors, if any."""
    own = _own_cgroup_v2_dir(proc_cgroup, root)
    if own is not None:
        limits: list[int] = []
        current = own
        while True:
            try:
                raw = (current / "memory.max").read_text().strip()
            except OSError:
                raw = "max"
            if raw != "max" and raw.isdigit():
                limits.append(int(raw))
            if current == root or root not in current.parents:
                break
            current = current.parent
        if limits:
            return min(limits)
    try:
        raw = (root / "memory" / "memory.limit_in_bytes").read_text().strip()
        value = int(raw)
        return value if value < _UNLIMITED_V1 else None
    except (OSError, ValueError):
        return None


def cgroup_cpu_limit(
    proc_cgroup: Path = Path("/proc/self/cgroup"), root: Path = Path("/sys/fs/cgroup")
) -> float | None:
    """CPU quota of this process's cgroup in cores (cgroup v2 `cpu.max`), if one is set."""
    own = _own_cgroup_v2_dir(proc_cgroup, root)
    if own is None:
        return None
    try:
        quota, period = (own / "cpu.max").read_text().split()
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return None


def cpu_limit_cores(configured: float | None) -> float:
    """Configured cores first, then the cgroup quota, then the CPUs this process may run on."""
    if configured:
        return configured
    return cgroup_cpu_limit() or float(len(os.sched_getaffinity(0)))


def physical_memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def memory_limit_bytes(configured: int | None) -> int:
    """Configured limit first (it is what the operator promised), then the cgroup's, then RAM."""
    if configured:
        return configured
    return cgroup_memory_limit() or physical_memory_bytes()


def resident_memory_bytes() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0
