"""A CPU hog thread asks the scheduler for more than a default thread's share (so it gets the
core it promises on a busy machine), and only the hog thread: the rest of the process keeps
its priority."""

from __future__ import annotations

import os
import time

import pytest

from system_under_test.faults_hogs import _HOG_NICE, CpuHog

pytestmark = pytest.mark.unit


def _nice_of(tid: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, tid)


def test_hog_threads_run_at_the_hog_priority_and_nothing_else_does() -> None:
    own = _nice_of(0)
    hog = CpuHog(1, name="test-hog")
    hog.start()
    try:
        (worker,) = hog._workers
        assert worker.native_id is not None
        deadline = time.monotonic() + 2.0
        expected = _HOG_NICE if os.geteuid() == 0 else own  # raising priority needs root
        while _nice_of(worker.native_id) != expected and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _nice_of(worker.native_id) == expected
        assert _nice_of(0) == own  # the calling thread (the event loop in the service) keeps it
    finally:
        hog.stop()
    assert hog.running == 0
