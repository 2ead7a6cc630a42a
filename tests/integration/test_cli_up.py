"""`alertdrill up` (what `make drill` runs for now): starts PostgreSQL, Redis and the service,
prints working URLs, and on Ctrl-C leaves no process and no temp dir behind."""

from __future__ import annotations

import glob
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import httpx
import pytest

from alertdrill.timing import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _children_of(pid: int) -> set[int]:
    """Every live descendant of pid (by walking /proc)."""
    parents: dict[int, int] = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.split("/")[2])] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def test_up_prints_urls_and_ctrl_c_leaves_nothing_behind() -> None:
    # A private TMPDIR: every temp dir the stack makes lands here, whatever else runs.
    tmp = Path(tempfile.mkdtemp(prefix="cli-up-"))
    tmp.chmod(0o755)  # PostgreSQL runs as the postgres user and must reach its data dir
    proc = subprocess.Popen(
        [sys.executable, "-m", "alertdrill.cli", "up"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp)},
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
    reader.start()
    try:
        eventually(
            lambda: any("Ctrl-C" in line for line in lines),
            within=60,
            what="alertdrill up to report the stack is up",
        )
        output = "".join(lines)
        service = re.search(r"service\s+(http://127\.0\.0\.1:\d+)", output)
        assert service, output
        health = httpx.get(f"{service.group(1)}/health/detailed", timeout=5)
        assert health.status_code == 200
        assert health.json()["status"] == "healthy"
        descendants = _children_of(proc.pid)
        assert len(descendants) >= 3, "expected postgres, redis and the service to be running"

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        reader.join(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
    still_alive = [pid for pid in descendants if Path(f"/proc/{pid}").exists()]
    assert not still_alive, f"left behind: {still_alive}"
    left = sorted(p.name for p in tmp.iterdir())
    tmp.rmdir()
    assert not left, f"temp dirs left behind: {left}"
