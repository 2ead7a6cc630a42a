"""Infrastructure alerts, each fired by a real fault; warning, infrastructure → the ops team
(Slack #ops).

- HighMemoryUsage: the service allocates (and touches) memory until its resident set is past
  90 % of its declared limit (``SERVICE_LIMITS``: 512 MiB, as a container limit would be).
- HighCPUUsage: one busy thread in the service, up to 200 % of its half-core limit.
- LowDiskSpace: a real file fills the stack's own small ext4 filesystem to 95 % (root only).
"""

from __future__ import annotations

import math

import pytest

from alertdrill.session import DrillSession
from alertdrill.stack.floors import SignalDelay
from alertdrill.stack.local import SERVICE_LIMITS
from scenarios.alert_checks import OPS_TEAM, drill_alert

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

MIB = 1024 * 1024
# The resident set to aim at, as a share of the limit: clear of the 90 % threshold, under
# the limit itself (nothing enforces it here, but a real OOM killer would).
MEMORY_TARGET = 0.96
# HighCPUUsage's threshold (80 % of the limit) and window (5m, i.e. 5 s at the fast profile).
CPU_THRESHOLD = 0.8
CPU_WINDOW = 5.0
# The hog's threads hash 1 MiB buffers with the GIL released: each burns a whole core from
# the moment it starts, i.e. process_cpu_seconds_total grows by one second per second each.
CPU_HOG_THREADS = 1


# The service's own process metrics (job="backend"); `instance` is the scraped target.
SERVICE_LABELS = {
    "severity": "warning",
    "category": "infrastructure",
    "team": "ops",
    "service": "backend",
    "job": "backend",
}


def test_high_memory_usage_notifies_ops(drill: DrillSession) -> None:
    limit = int(SERVICE_LIMITS["MEMORY_LIMIT_BYTES"])
    assert drill.prometheus.query_value('process_memory_limit_bytes{job="backend"}') == limit
    # Sized from what the service holds now: the hog tops it up to the target, so the drill
    # crosses the threshold whatever the service's own footprint is today.
    resident = drill.prometheus.query_value('process_resident_memory_bytes{job="backend"}')
    assert resident is not None and resident < 0.9 * limit, f"already at {resident} bytes"
    megabytes = math.ceil((MEMORY_TARGET * limit - resident) / MIB)
    active = drill_alert(
        drill,
        "HighMemoryUsage",
        drill.memory_hog(megabytes=megabytes),
        receivers=OPS_TEAM,
        labels=SERVICE_LABELS,
    )
    assert active.labels.get("instance"), active.labels


def test_high_cpu_usage_notifies_ops(drill: DrillSession) -> None:
    cores = float(SERVICE_LIMITS["CPU_LIMIT_CORES"])
    assert drill.prometheus.query_value('process_cpu_limit_cores{job="backend"}') == cores
    threshold = CPU_THRESHOLD * cores
    full = SignalDelay.counter_ramp(
        window=CPU_WINDOW, threshold=threshold, rate=float(CPU_HOG_THREADS)
    )
    # The limit's worth (half a core) is the least the hog can get and still fire the alert
    # (its threshold is 0.4 core); below that it never fires, which is no alert bug.
    starved = SignalDelay.counter_ramp(window=CPU_WINDOW, threshold=threshold, rate=cores)
    active = drill_alert(
        drill,
        "HighCPUUsage",
        drill.cpu_hog(threads=CPU_HOG_THREADS),
        receivers=OPS_TEAM,
        labels=SERVICE_LABELS,
        # A rate over a 5 s window of CPU seconds growing at one per second per thread passes
        # 80 % of the half-core limit (0.4 core) once 0.4 / 1 of the window has filled: 2 s.
        signal=full,
        # The floor assumes the hog gets its core. On a shared, busy machine it gets less,
        # even at its raised priority (system_under_test/faults_hogs.py; measured 0.5-0.75
        # core there); the deadline tolerates a hog that gets only the limit's worth, half
        # a core, which doubles the ramp. The benchmark, not this deadline, holds the floor.
        extra_slack=starved.detect - full.detect,
    )
    assert active.labels.get("instance"), active.labels


def test_low_disk_space_notifies_ops(drill: DrillSession) -> None:
    stack = drill.stack
    if stack.drill_filesystem_skip_reason is not None:
        pytest.skip(f"no drill filesystem: {stack.drill_filesystem_skip_reason}")
    mountpoint = stack.drill_filesystem.mountpoint
    drill_alert(
        drill,
        "LowDiskSpace",
        drill.disk_fill(fill_to=0.95),
        receivers=OPS_TEAM,
        labels={
            "severity": "warning",
            "category": "infrastructure",
            "team": "ops",
            # node_exporter's view of the filesystem that filled, and nothing else.
            "service": "node",
            "mountpoint": str(mountpoint),
            "fstype": "ext4",
        },
    )
