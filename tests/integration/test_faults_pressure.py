"""Pressure faults against real processes, checked where the alerts look: PostgreSQL's own
session count and postgres_exporter's pg_stat_activity_count, node_exporter's filesystem
metrics for the drill filesystem, the service's auth and request counters; and a restart that
keeps PostgreSQL's data. Nothing may leak: sessions, mounts, loop devices, temp dirs."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from alertdrill.faults import (
    AuthFailureStorm,
    DatabaseConnections,
    DiskFill,
    FaultJournal,
    RequestSpike,
    RestartProcess,
)
from alertdrill.stack.components import (
    NodeExporterComponent,
    PostgresComponent,
    PostgresExporterComponent,
    RedisComponent,
)
from alertdrill.stack.components.drill_filesystem import (
    DrillFilesystem,
    node_exporter_mount_exclude,
)
from alertdrill.stack.components.service import ServiceComponent
from alertdrill.timing import eventually

pytestmark = pytest.mark.integration

APP = "alertdrill-test-connections"


def _samples(text: str, name: str, **labels: str) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def _sessions(postgres: PostgresComponent, application: str | None = None) -> int:
    query = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
    with psycopg.connect(postgres.url, autocommit=True, connect_timeout=5) as conn:
        if application is None:
            row = conn.execute(query).fetchone()
        else:
            row = conn.execute(f"{query} AND application_name = %s", (application,)).fetchone()
    assert row is not None
    return int(row[0])


# -- database connections ------------------------------------------------------------


def test_database_connections_exceed_the_alert_threshold_and_go_away(
    postgres: PostgresComponent,
) -> None:
    fault = DatabaseConnections(postgres.url, 85, application_name=APP)
    with PostgresExporterComponent(postgres.url) as exporter:
        with fault.injected():
            assert _sessions(postgres, APP) == 85
            assert fault.open_connections == 85
            # What DatabaseConnectionIssues sums: pg_stat_activity_count over the server.
            assert _samples(exporter.metrics(), "pg_stat_activity_count") > 80
        assert fault.open_connections == 0
        eventually(lambda: _sessions(postgres, APP) == 0, within=5, what="sessions closed")


# -- disk fill on the drill filesystem --------------------------------------------------

_NO_DRILL_FS = DrillFilesystem.unavailable_reason()


def _loop_devices(image: Path) -> str:
    return subprocess.run(
        ["losetup", "-j", str(image)], capture_output=True, text=True, timeout=10, check=False
    ).stdout.strip()


@pytest.fixture
def drill_fs() -> Iterator[DrillFilesystem]:
    if _NO_DRILL_FS is not None:
        pytest.skip(_NO_DRILL_FS)
    fs = DrillFilesystem()
    try:
        fs.start()
    except Exception as error:  # e.g. a container without CAP_SYS_ADMIN
        pytest.skip(f"cannot mount a drill filesystem here: {error}")
    image, mnt = fs.image, fs.mountpoint
    assert image is not None
    yield fs
    fs.stop()
    # Nothing left: no mount, no loop device, no temp dir.
    assert not os.path.ismount(mnt)
    assert _loop_devices(image) == ""
    assert not image.parent.exists()


def test_disk_fill_shows_on_node_exporter_and_revert_frees_it(drill_fs: DrillFilesystem) -> None:
    mountpoint = str(drill_fs.mountpoint)
    with (
        DrillFilesystem() as other,  # another stack's: must stay invisible to this exporter
        NodeExporterComponent(
            collectors=("filesystem",),
            mount_points_exclude=node_exporter_mount_exclude(drill_fs),
        ) as node,
    ):

        def avail_ratio() -> float:
            text = node.metrics()
            labels = {"mountpoint": mountpoint, "fstype": "ext4"}
            size = _samples(text, "node_filesystem_size_bytes", **labels)
            assert size > 0, f"{mountpoint} not reported"
            assert _samples(text, "node_filesystem_readonly", **labels) == 0
            return _samples(text, "node_filesystem_avail_bytes", **labels) / size

        assert avail_ratio() > 0.9
        assert str(other.mountpoint) not in node.metrics()
        journal = FaultJournal()
        fault = DiskFill(drill_fs.mountpoint, 0.95, journal=journal)
        with fault.injected():
            ratio = avail_ratio()
            assert 0.04 <= ratio < 0.10, ratio  # LowDiskSpace: avail / size < 0.10
            assert fault.fill_file is not None and fault.fill_file.exists()
        assert avail_ratio() > 0.9
        assert [p.name for p in drill_fs.mountpoint.iterdir()] == ["lost+found"]
        assert "deleted" in journal.events()[-1].detail


# -- traffic -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def service(postgres: PostgresComponent, redis: RedisComponent) -> Iterator[ServiceComponent]:
    postgres.drop_database("faults_traffic")
    url = postgres.create_database("faults_traffic")
    try:
        with ServiceComponent(database_url=url, redis_url=redis.url) as service:
            yield service
    finally:
        postgres.drop_database("faults_traffic")


def _metrics(service: ServiceComponent) -> str:
    return httpx.get(f"{service.url}/metrics", timeout=5).text


def test_auth_storm_counts_every_attempt_as_a_failure_at_its_rate(
    service: ServiceComponent,
) -> None:
    failures = "auth_attempts_total"
    before = _samples(_metrics(service), failures, result="failure")
    storm = AuthFailureStorm(service.url, 8.0, email=service.credentials.superuser_email)
    with storm.injected():
        eventually(lambda: storm.stats is not None and storm.stats.sent >= 16, within=10, what="16")
    stats = storm.stats
    assert stats is not None and stats.errors == 0
    assert stats.by_status == {401: stats.sent}
    assert 6.5 <= stats.rate <= 9.0, stats  # the configured 8/s
    after = _metrics(service)
    assert _samples(after, failures, result="failure") - before == stats.sent
    assert _samples(after, failures, result="failure", reason="bad_password") >= stats.sent


def test_request_spike_is_counted_as_api_traffic(service: ServiceComponent) -> None:
    requests = "http_requests_total"
    before = _samples(_metrics(service), requests, route="/api/status")
    spike = RequestSpike(service.url, 40.0)
    with spike.injected():
        eventually(lambda: spike.stats is not None and spike.stats.sent >= 40, within=10, what="40")
    stats = spike.stats
    assert stats is not None and stats.by_status == {200: stats.sent}
    assert 30 <= stats.rate <= 44, stats
    assert _samples(_metrics(service), requests, route="/api/status") - before == stats.sent


# -- restart ------------------------------------------------------------------------------


def test_restart_keeps_the_data_and_reverts_to_nothing() -> None:
    with PostgresComponent() as postgres:
        with psycopg.connect(postgres.url, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (v text)")
            conn.execute("INSERT INTO kept VALUES ('still here')")
        pid = postgres.pid
        journal = FaultJournal()
        with RestartProcess(postgres, journal=journal).injected():
            assert postgres.is_running() and postgres.pid != pid
        with psycopg.connect(postgres.url, autocommit=True) as conn:
            assert conn.execute("SELECT v FROM kept").fetchall() == [("still here",)]
        inject, revert = journal.events()
        assert f"pid {pid} -> {postgres.pid}" in inject.detail
        assert "nothing to undo" in revert.detail
