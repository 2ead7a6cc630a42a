"""Resource hogs behind the memory_hog and cpu_hog faults: they consume the real resource (resident
memory, CPU time) so the process metrics and the alerts built on them move for real.

`start()` may block (touching a gigabyte of pages takes a while), so the injector calls it in a
worker thread; `stop()` may be called from any thread, even while `start()` is still running.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from typing import Protocol

PAGE = 4096
MIB = 1024 * 1024
# hashlib releases the GIL while hashing buffers larger than 2 KiB, so a hog thread hashing
# 1 MiB at a time burns a whole core while the event loop keeps answering requests.
_HASH_CHUNK = bytes(MIB)
_STOP_JOIN_SECONDS = 2.0
# A CPU hog promises a whole core per thread (HighCPUUsage drills count on it: the time its
# rate needs to climb over the threshold depends on it). On a machine shared with other busy
# processes a thread at the default priority gets only its fair share, so each hog thread
# asks for a larger one (Linux nice values are per thread; nice -10 weighs 9x a default
# thread). Measured on 2 cores next to two busy processes: 0.3 core at the default priority,
# 0.65-0.75 at -10 (the rest goes to waiting for the GIL; -20 adds little). Needs
# CAP_SYS_NICE; without it (an unprivileged service, a container) the hog keeps the default.
_HOG_NICE = -10


class Hog(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


class MemoryHog:
    """Allocate and hold `megabytes` of resident memory until stopped."""

    def __init__(self, megabytes: int) -> None:
        self.megabytes = megabytes
        self._lock = threading.Lock()
        self._held: bytearray | None = None
        self._stopped = False

    def start(self) -> None:
        size = self.megabytes * MIB
        buf = bytearray(size)
        # Untouched pages of a fresh mapping are not resident. CPython happens to zero-fill a
        # new bytearray (which touches them); writing one byte per page makes "every page is
        # resident, so RSS grows by the full amount" explicit instead of an implementation detail.
        buf[::PAGE] = b"\x01" * len(range(0, size, PAGE))
        with self._lock:
            if not self._stopped:  # stopped while we were allocating: let `buf` go
                self._held = buf

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            # Dropping the only reference frees a large (mmap-backed) buffer at once, so RSS
            # falls back without waiting for a garbage collection.
            self._held = None

    @property
    def holding(self) -> bool:
        return self._held is not None


class CpuHog:
    """`threads` busy threads hashing until stopped."""

    def __init__(self, threads: int, name: str = "cpu-hog") -> None:
        self.threads = threads
        self._name = name
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        self._lock = threading.Lock()

    def _burn(self) -> None:
        with contextlib.suppress(OSError):  # EPERM/EACCES: no CAP_SYS_NICE, keep the default
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _HOG_NICE)
        while not self._stop.is_set():
            hashlib.sha256(_HASH_CHUNK).digest()

    def start(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            for n in range(self.threads):
                worker = threading.Thread(target=self._burn, name=f"{self._name}-{n}", daemon=True)
                worker.start()
                self._workers.append(worker)

    def stop(self) -> None:
        with self._lock:
            self._stop.set()
            workers, self._workers = self._workers, []
        # Each loop iteration is one hash of 1 MiB (about a millisecond): joins are quick.
        for worker in workers:
            worker.join(timeout=_STOP_JOIN_SECONDS)

    @property
    def running(self) -> int:
        return sum(1 for w in self._workers if w.is_alive())
