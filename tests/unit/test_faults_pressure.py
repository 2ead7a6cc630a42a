"""Bounds and bookkeeping of the pressure faults, no stack: traffic faults against a tiny local
HTTP server, DiskFill's refusals, RestartProcess on a fake component, and the node_exporter
pattern that hides other stacks' drill filesystems."""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from alertdrill.errors import FaultError, StackError
from alertdrill.faults import (
    AuthFailureStorm,
    DatabaseConnections,
    DiskFill,
    FaultJournal,
    RequestSpike,
    RestartProcess,
    spike_rate,
)
from alertdrill.stack.components import drill_filesystem
from alertdrill.stack.components.drill_filesystem import (
    NODE_EXPORTER_DEFAULT_EXCLUDE,
    DrillFilesystem,
    _anything_but,
    node_exporter_mount_exclude,
)
from alertdrill.timing import eventually

pytestmark = pytest.mark.unit


class _Recorder(BaseHTTPRequestHandler):
    requests: list[tuple[str, str, bytes]]

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.requests.append((self.command, self.path, self.rfile.read(length)))
        self.send_response(401 if self.path == "/api/auth/login" else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _record  # noqa: N815 - BaseHTTPRequestHandler's names

    def log_message(self, *args: object) -> None:  # quiet
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    requests: list[tuple[str, str, bytes]] = []
    handler = type("Handler", (_Recorder,), {"requests": requests})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_auth_storm_sends_failed_logins_at_its_rate(
    recorder: tuple[str, list[tuple[str, str, bytes]]],
) -> None:
    url, requests = recorder
    journal = FaultJournal()
    storm = AuthFailureStorm(url, 20.0, email="who@example.test", journal=journal)
    with storm.injected():
        eventually(lambda: len(requests) >= 10, within=5, what="10 logins")
    stats = storm.stats
    assert stats is not None and stats.by_status == {401: stats.sent}
    assert len(requests) == stats.sent
    bodies = [json.loads(body) for _, _, body in requests]
    assert {(m, p) for m, p, _ in requests} == {("POST", "/api/auth/login")}
    assert {b["email"] for b in bodies} == {"who@example.test"}
    assert len({b["password"] for b in bodies}) == len(bodies)  # never the same guess twice
    assert 10 <= stats.rate <= 24, stats
    assert "sent" in journal.events()[-1].detail


def test_traffic_faults_stop_by_themselves_at_their_bound(
    recorder: tuple[str, list[tuple[str, str, bytes]]],
) -> None:
    url, requests = recorder
    spike = RequestSpike(url, 40.0, max_duration=0.5)
    with pytest.raises(FaultError, match="watchdog"), spike.injected():
        eventually(lambda: not spike.is_injected, within=5, what="the watchdog")
    count = len(requests)
    assert 10 <= count <= 25
    assert {p for _, p, _ in requests} == {"/api/status"}


@pytest.mark.parametrize(
    ("baseline", "expected"), [(0.0, 15.0), (2.0, 15.0), (5.0, 22.5), (10.0, 45.0)]
)
def test_spike_rate_clears_floor_and_three_times_the_baseline(
    baseline: float, expected: float
) -> None:
    assert spike_rate(baseline) == pytest.approx(expected)


def test_traffic_fault_bounds() -> None:
    with pytest.raises(ValueError, match="rate"):
        AuthFailureStorm("http://127.0.0.1:1", 50.0)
    with pytest.raises(ValueError, match="rate"):
        RequestSpike("http://127.0.0.1:1", 500.0)
    with pytest.raises(ValueError, match="recording rule"):
        RequestSpike("http://127.0.0.1:1", 20.0, paths=("/health/live",))
    with pytest.raises(ValueError, match="count"):
        DatabaseConnections("postgresql://127.0.0.1:1/x", 500)


def test_disk_fill_refuses_what_is_not_a_small_mounted_filesystem(tmp_path: Path) -> None:
    with pytest.raises(FaultError, match="not a mount point"):
        DiskFill(tmp_path).inject()
    with pytest.raises(FaultError, match="not a drill filesystem"):
        DiskFill("/", max_filesystem_bytes=1).inject()
    with pytest.raises(ValueError, match="fill_to"):
        DiskFill(tmp_path, fill_to=1.5)
    assert not list(tmp_path.iterdir())


class _FakeServer:
    name = "fake"

    def __init__(self) -> None:
        self.pid: int | None = 100
        self.calls: list[str] = []
        self.fail_start = False

    def is_running(self) -> bool:
        return self.pid is not None

    def restart(self) -> None:
        self.calls.append("restart")
        self.pid = None
        self.start()

    def start(self) -> None:
        self.calls.append("start")
        if self.fail_start:
            raise RuntimeError("would not come up")
        self.pid = 101 + len(self.calls)

    def stop(self) -> None:
        self.pid = None

    kill = pause = resume = stop

    def logs(self, tail: int = 50) -> str:
        return ""


def test_restart_happens_in_inject_and_revert_has_nothing_to_undo() -> None:
    server = _FakeServer()
    journal = FaultJournal()
    with RestartProcess(server, journal=journal).injected():
        assert server.calls == ["restart", "start"]
    assert server.calls == ["restart", "start"]  # revert did not start it again
    inject, revert = journal.events()
    assert inject.detail.endswith("pid 100 -> 103")
    assert "nothing to undo" in revert.detail


def test_a_failed_restart_is_brought_back_by_the_revert() -> None:
    server = _FakeServer()
    server.fail_start = True
    fault = RestartProcess(server)
    with pytest.raises(FaultError, match="would not come up"):
        fault.inject()  # inject failed: BaseFault tried the revert at once, which failed too
    server.fail_start = False
    fault.revert()  # the finalizer's retry
    assert server.is_running() and not fault.is_injected


def test_node_exporter_exclude_hides_other_drill_filesystems_only() -> None:
    own = "/scratch/alertdrill-drillfs-ab_c9xyz/mnt"

    class Own:
        token = "ab_c9xyz"
        mounted = True

    pattern = re.compile(node_exporter_mount_exclude(Own()))  # type: ignore[arg-type]
    assert not pattern.search(own)
    for other in ("ab_c9xyA", "xb_c9xyz", "ab_c9xy", "ab_c9xyzz", "zzzzzzzz"):
        assert pattern.search(f"/data/alertdrill-drillfs-{other}/mnt"), other
    assert pattern.search("/proc") and pattern.search("/run/user/0")  # defaults kept
    assert not pattern.search("/") and not pattern.search("/home")
    assert node_exporter_mount_exclude(None).startswith(NODE_EXPORTER_DEFAULT_EXCLUDE)
    assert re.compile(node_exporter_mount_exclude(None)).search(own)
    assert _anything_but("a") == "(?:[^/]{2,}|[^/a][^/]{0})"


def test_drill_filesystem_needs_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert DrillFilesystem.unavailable_reason() == "mounting a drill filesystem needs root"
    with pytest.raises(StackError, match="needs root"):
        DrillFilesystem().start()


def test_a_failed_mount_leaves_nothing_behind(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ran: list[str] = []

    def fake_run(argv: list[str], what: str) -> None:
        ran.append(what)
        if what == "mount":
            raise StackError("mount: permission denied", component="drill-filesystem")

    monkeypatch.setattr(DrillFilesystem, "unavailable_reason", staticmethod(lambda: None))
    monkeypatch.setattr(drill_filesystem, "_run", fake_run)
    monkeypatch.setattr(DrillFilesystem, "_detach", staticmethod(lambda image: None))
    fs = DrillFilesystem(base_dir=tmp_path)
    with pytest.raises(StackError, match="permission denied"):
        fs.start()
    assert ran == ["mkfs.ext4", "mount"]
    assert not fs.mounted and fs.image is None
    assert list(tmp_path.iterdir()) == []  # image and mount point removed
    fs.stop()  # idempotent
