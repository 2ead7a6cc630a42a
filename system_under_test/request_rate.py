"""Requests per second over a sliding window, for /health/detailed's `requestRate`."""

from __future__ import annotations

import time
from collections import deque


class RequestRateMeter:
    """Counts per whole second in a ring of `window` seconds; O(1) per request."""

    def __init__(self, window_seconds: int = 60) -> None:
        self._window = window_seconds
        self._buckets: deque[tuple[int, int]] = deque()
        self._count = 0

    def _expire(self, now: int) -> None:
        while self._buckets and self._buckets[0][0] <= now - self._window:
            self._count -= self._buckets.popleft()[1]

    def record(self, now: float | None = None) -> None:
        second = int(now if now is not None else time.monotonic())
        if self._buckets and self._buckets[-1][0] == second:
            ts, n = self._buckets[-1]
            self._buckets[-1] = (ts, n + 1)
        else:
            self._buckets.append((second, 1))
        self._count += 1
        self._expire(second)

    def rate(self, now: float | None = None) -> float:
        self._expire(int(now if now is not None else time.monotonic()))
        return self._count / self._window
