"""Load profiles as pure functions of elapsed time: how many users, spawned how fast.

Standard library only, so the harness's unit tests can check the arithmetic without importing
Locust (which monkey-patches the interpreter with gevent); ``shapes.py`` wraps these in a
``LoadTestShape``. Every profile is stretched over the run time (``-t``) and peaks at ``-u``
users, so ``--load-profile spike -u 40 -t 60s`` and ``-t 10m`` are the same pattern at two
speeds.

    steady  ramp to the peak at the spawn rate (-r), hold it to the end
    ramp    grow linearly from 1 user to the peak over 80 % of the run, hold the last 20 %
    spike   SPIKE_BASE of the peak for 30 %, the peak for 40 %, back to the base for 30 %
    soak    a gentle ramp (10 % of the run, at most SOAK_RAMP_MAX seconds), then hold for hours
"""

from __future__ import annotations

import math

__all__ = ["PROFILES", "SPIKE_BASE", "Stage", "spike_window", "stage_at"]

PROFILES: tuple[str, ...] = ("steady", "ramp", "spike", "soak")

#: Users outside the spike, as a fraction of the peak: low enough that the spike is a clear
#: multiple of the traffic around it (UnusualAPIActivity asks for 3x its own baseline).
SPIKE_BASE = 0.2
#: Where the spike sits in the run, as fractions of the run time.
SPIKE_START, SPIKE_END = 0.3, 0.7
RAMP_PEAK_AT = 0.8
SOAK_RAMP_FRACTION = 0.1
SOAK_RAMP_MAX = 300.0

#: (target users, spawn rate in users per second)
Stage = tuple[int, float]


def spike_window(run_time: float) -> tuple[float, float]:
    """Seconds from the start at which the spike begins and ends."""
    return SPIKE_START * run_time, SPIKE_END * run_time


def spike_base_users(users: int) -> int:
    return max(1, round(users * SPIKE_BASE))


def stage_at(
    profile: str, elapsed: float, *, users: int, spawn_rate: float, run_time: float | None
) -> Stage | None:
    """The stage ``elapsed`` seconds into the run, or None once the run time is over.

    ``run_time`` None means "until stopped": only steady and soak make sense then (a ramp or a
    spike needs to know how long it is stretched over).
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown load profile {profile!r}; choose one of {', '.join(PROFILES)}")
    if users < 1 or not math.isfinite(spawn_rate) or spawn_rate <= 0:
        raise ValueError(f"need users >= 1 and a positive spawn rate, got {users}, {spawn_rate}")
    if run_time is None:
        if profile in ("ramp", "spike"):
            raise ValueError(f"the {profile} profile needs a run time (-t)")
    elif run_time <= 0:
        raise ValueError(f"run time must be positive, got {run_time}")
    elif elapsed >= run_time:
        return None
    if profile == "steady":
        return users, spawn_rate
    if profile == "soak":
        ramp = (
            SOAK_RAMP_MAX if run_time is None else min(SOAK_RAMP_MAX, SOAK_RAMP_FRACTION * run_time)
        )
        target = max(1, math.ceil(users * min(1.0, elapsed / ramp)))
        # One step per tick at most: the ramp itself sets the pace, not the spawn rate.
        return target, max(1.0, users / ramp)
    assert run_time is not None  # checked above
    if profile == "ramp":
        target = max(1, math.ceil(users * min(1.0, elapsed / (RAMP_PEAK_AT * run_time))))
        return target, max(spawn_rate, users / (RAMP_PEAK_AT * run_time))
    start, end = spike_window(run_time)
    # The spike rises at the spawn rate given (-r): pass a high one for a sharp edge.
    return (users if start <= elapsed < end else spike_base_users(users)), spawn_rate
