"""Grouping, live. The seed groups on [alertname, cluster, service]:

- several alerts of one group → one notification listing them: the stack's drill filesystem
  is also mounted a second time (a bind mount, as a container runtime mounts a host volume),
  so filling it makes two LowDiskSpace alerts, one per mount point, of the same group;
- different groups → separate notifications: a memory hog at the same time makes
  HighMemoryUsage, another group of the same receiver (ops), notified on its own.

Root only (a filesystem to fill and mount); skipped with the stack's reason otherwise.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from alertdrill.receivers.records import SlackMessage
from alertdrill.session import DrillSession
from alertdrill.stack.local import SERVICE_LIMITS
from scenarios.alert_checks import OPS_TEAM, floor_budget

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

MIB = 1024 * 1024
_COMMAND_TIMEOUT = 30.0


@contextmanager
def second_mount(drill: DrillSession) -> Iterator[Path]:
    """The drill filesystem bind-mounted once more, inside itself, at a path this stack's
    node_exporter reports and every other stack's ignores.

    Each stack's node_exporter hides the other stacks' drill filesystems by their mount
    points, ``.../alertdrill-drillfs-<token>/mnt`` (see drill_filesystem.py); ending the
    second mount point the same way keeps it this stack's alone (xdist workers, parallel
    runs on the host).
    """
    drill_fs = drill.stack.drill_filesystem
    root = drill_fs.mountpoint / ".grouping"
    target = root / f"alertdrill-drillfs-{drill_fs.token}" / "mnt"
    target.mkdir(parents=True)
    try:
        _run("mount", "--bind", str(drill_fs.mountpoint), str(target))
        try:
            yield target
        finally:
            _run("umount", str(target))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=_COMMAND_TIMEOUT)


def test_one_group_one_notification_and_groups_apart(drill: DrillSession) -> None:
    stack = drill.stack
    if stack.drill_filesystem_skip_reason is not None:
        pytest.skip(f"no drill filesystem: {stack.drill_filesystem_skip_reason}")
    expect = drill.expect
    first = stack.drill_filesystem.mountpoint
    limit = int(SERVICE_LIMITS["MEMORY_LIMIT_BYTES"])
    resident = drill.prometheus.query_value('process_resident_memory_bytes{job="backend"}')
    assert resident is not None
    hog = drill.memory_hog(megabytes=int((0.96 * limit - resident) / MIB) + 1)

    with second_mount(drill) as second, drill.disk_fill(fill_to=0.95).injected(), hog.injected():
        mountpoints = {str(first), str(second)}
        # Both mount points fire, as two alerts of one group.
        for mountpoint in sorted(mountpoints):
            expect.alert("LowDiskSpace", mountpoint=mountpoint).firing(
                within=floor_budget(drill, "LowDiskSpace")
            )
        expect.notified(OPS_TEAM, alert="LowDiskSpace", within=floor_budget(drill, "LowDiskSpace"))
        expect.notified(OPS_TEAM, alert="HighMemoryUsage", within="floor")

        groups = [g for g in drill.alertmanager.groups() if g.receiver == "ops-team" and g.alerts]
        by_name = {g.labels.get("alertname"): g for g in groups}
        assert set(by_name) == {"LowDiskSpace", "HighMemoryUsage"}, groups
        disk_group = by_name["LowDiskSpace"]
        assert {a.labels.get("mountpoint") for a in disk_group.alerts} == mountpoints, disk_group
        assert len(by_name["HighMemoryUsage"].alerts) == 1, by_name["HighMemoryUsage"]

        # One Slack message lists both filesystems: [FIRING:2] with each mount point in it.
        disk = _firing(drill, "LowDiskSpace")
        listing = [m for m in disk if m.firing_count == 2]
        assert listing, f"no notification listed both filesystems: {disk}"
        assert all(mp in listing[0].text for mp in mountpoints), listing[0].text
        # Alertmanager sends a group's first notification after group_wait, which the fast
        # profile sets to 0: a sibling that lands a moment after the first alert is
        # delivered with the group's next flush instead, as [FIRING:2]. What must never
        # happen is a message per filesystem: every one of them is about the group.
        assert all(m.firing_count in (1, 2) for m in disk), disk
        assert [m.firing_count for m in disk][-1] == 2, disk

        # Another group, another message: the memory alert on its own, never mixed in.
        memory = _firing(drill, "HighMemoryUsage")
        assert [m.firing_count for m in memory] == [1], memory
        assert not any(mp in memory[0].text for mp in mountpoints), memory[0].text
        assert not any("HighMemoryUsage" in m.text for m in disk), disk

    for alert in ("LowDiskSpace", "HighMemoryUsage"):
        expect.alert(alert).resolved(within="floor")
        expect.notified(OPS_TEAM, alert=alert, status="resolved", within="floor")


def _firing(drill: DrillSession, alert: str) -> list[SlackMessage]:
    return [
        m
        for m in drill.receivers.slack()
        if m.alertname == alert and m.status == "firing" and m.channel == "#ops"
    ]
