"""Prometheus, Alertmanager and the exporters as local processes: the chain's middle links.

A tiny Prometheus (250 ms scrape and evaluation) scrapes itself and a node
exporter and sends an always-firing alert to a real Alertmanager; the
exporters report on real PostgreSQL and Redis servers; every component stops
without a trace and names its Debian package when its binary is missing.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from alertdrill.errors import MissingBinaryError, StackError
from alertdrill.stack.base import Component
from alertdrill.stack.components import (
    AlertmanagerComponent,
    BlackboxExporterComponent,
    ConfigFiles,
    LocalServer,
    NodeExporterComponent,
    PostgresComponent,
    PostgresExporterComponent,
    PrometheusComponent,
    RedisComponent,
    RedisExporterComponent,
)
from alertdrill.stack.components.exporters import has_metric
from alertdrill.stack.ports import free_port, release_port
from alertdrill.timing import eventually
from tests.integration.test_stack_components import assert_left_nothing, processes_mentioning

pytestmark = pytest.mark.integration

ALERTMANAGER_CONFIG = """\
route:
  receiver: blackhole
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: blackhole
"""

RULES = """\
groups:
  - name: drill
    rules:
      - alert: AlwaysFiring
        expr: vector(1)
        for: 0s
        labels:
          severity: warning
        annotations:
          summary: always firing
"""


def prometheus_config(*, scrape: dict[str, str], alertmanager: str | None = None) -> str:
    """prometheus.yml at 250 ms scrape/evaluation; ``scrape`` maps job name -> host:port."""
    lines = [
        "global:",
        "  scrape_interval: 250ms",
        "  scrape_timeout: 250ms",
        "  evaluation_interval: 250ms",
        "rule_files: [rules.yml]",
    ]
    if alertmanager is not None:
        lines += [
            "alerting:",
            "  alertmanagers:",
            f"    - static_configs: [{{targets: ['{alertmanager}']}}]",
        ]
    lines.append("scrape_configs:")
    for job, target in scrape.items():
        lines += [f"  - job_name: {job}", f"    static_configs: [{{targets: ['{target}']}}]"]
    return "\n".join(lines) + "\n"


def metric_value(exposition: str, line_start: str) -> str | None:
    """Value of the first sample line starting with ``line_start`` (name plus labels)."""
    for line in exposition.splitlines():
        if line.startswith(line_start):
            return line.rsplit(" ", 1)[-1]
    return None


@pytest.fixture
def base_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="alertdrill-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


# -- the chain: Prometheus -> Alertmanager, scraping itself and node_exporter --


@dataclass(frozen=True)
class Chain:
    prometheus: PrometheusComponent
    alertmanager: AlertmanagerComponent
    node: NodeExporterComponent
    launched_at: datetime
    """Wall-clock time just before Prometheus was launched (lastScrape is wall clock)."""
    launched_monotonic: float
    ready_after: float
    """Seconds from launch until /-/ready answered 200 (start() returned)."""


@pytest.fixture(scope="module")
def chain() -> Iterator[Chain]:
    rendered = Path(tempfile.mkdtemp(prefix="alertdrill-test-rendered-"))
    try:
        with (
            AlertmanagerComponent(
                ConfigFiles.from_text(ALERTMANAGER_CONFIG, main="alertmanager.yml")
            ) as alertmanager,
            NodeExporterComponent() as node,
        ):
            # The harness's order: reserve Prometheus' port, render, then start.
            prometheus = PrometheusComponent(rendered)
            scrape = {"prometheus": f"127.0.0.1:{prometheus.reserve_port()}", "node": node.target}
            (rendered / "prometheus.yml").write_text(
                prometheus_config(scrape=scrape, alertmanager=alertmanager.target)
            )
            (rendered / "rules.yml").write_text(RULES)
            launched_at = datetime.now(UTC)
            launched_monotonic = time.monotonic()
            with prometheus:
                yield Chain(
                    prometheus=prometheus,
                    alertmanager=alertmanager,
                    node=node,
                    launched_at=launched_at,
                    launched_monotonic=launched_monotonic,
                    ready_after=time.monotonic() - launched_monotonic,
                )
    finally:
        shutil.rmtree(rendered)


def test_prometheus_scrapes_itself_and_the_node_exporter(
    chain: Chain, record_property: Callable[[str, object], None]
) -> None:
    prometheus = chain.prometheus
    assert isinstance(prometheus, Component)
    targets = prometheus.wait_targets_up(timeout=15)
    waited = time.monotonic() - chain.launched_monotonic
    assert {t.job for t in targets} == {"prometheus", "node"}
    assert all(t.health == "up" and t.last_error == "" for t in targets)
    # lastScrape is when a scrape began; the earliest is the first scrape of the run.
    first_scrape = min(t.last_scrape for t in targets if t.last_scrape is not None)
    first_scrape_after = (first_scrape - chain.launched_at).total_seconds()
    record_property("prometheus_ready_after_s", round(chain.ready_after, 3))
    record_property("prometheus_first_scrape_after_s", round(first_scrape_after, 3))
    print(
        f"\nprometheus: ready after {chain.ready_after:.3f}s, first scrape began "
        f"{first_scrape_after:.3f}s after launch, all targets up after {waited:.3f}s"
    )
    assert 0 < first_scrape_after < 15
    # resend delay follows the config's evaluation interval; lifecycle API is on.
    flags = httpx.get(f"{prometheus.api_url}/status/flags", timeout=2).json()["data"]
    assert flags["rules.alert.resend-delay"] == "250ms"
    assert flags["web.enable-lifecycle"] == "true"
    assert flags["web.listen-address"] == prometheus.target
    assert prometheus.configured_jobs() == {"prometheus", "node"}


def test_always_firing_rule_reaches_alertmanager(
    chain: Chain, record_property: Callable[[str, object], None]
) -> None:
    def received() -> list[dict[str, object]] | None:
        response = httpx.get(f"{chain.alertmanager.api_url}/alerts", timeout=2)
        response.raise_for_status()
        alerts: list[dict[str, object]] = response.json()
        mine = [
            a for a in alerts if a["labels"] == {"alertname": "AlwaysFiring", "severity": "warning"}
        ]
        return mine or None

    alerts = eventually(received, within=20, every=0.1, what="AlwaysFiring in Alertmanager")
    after = time.monotonic() - chain.launched_monotonic
    record_property("alert_in_alertmanager_after_s", round(after, 3))
    print(f"\nAlwaysFiring visible in Alertmanager {after:.3f}s after Prometheus launch")
    (alert,) = alerts
    assert alert["status"] == {"state": "active", "silencedBy": [], "inhibitedBy": []}
    assert str(alert["generatorURL"]).startswith(chain.prometheus.url)
    # endsAt = now + 4 x max(resend delay, evaluation interval) = about 1 s ahead.
    ends_at = datetime.fromisoformat(str(alert["endsAt"]))
    assert ends_at - datetime.now(UTC) < timedelta(seconds=5)


def test_node_exporter_exposes_host_metrics(chain: Chain) -> None:
    text = chain.node.metrics()
    for name in (
        "node_cpu_seconds_total",
        "node_memory_MemAvailable_bytes",
        "node_filesystem_avail_bytes",
        "node_load1",
    ):
        assert has_metric(text, name), name
    assert not has_metric(text, "node_hwmon_temp_celsius")  # slow collectors are off


def test_blackbox_probes_an_http_endpoint(chain: Chain) -> None:
    with BlackboxExporterComponent() as blackbox:
        text = blackbox.probe(f"{chain.prometheus.url}/-/healthy")
        assert metric_value(text, "probe_success ") == "1"
        assert metric_value(text, "probe_http_status_code ") == "200"
        port = free_port()
        release_port(port)
        refused = blackbox.probe(f"http://127.0.0.1:{port}/", timeout=10)
        assert metric_value(refused, "probe_success ") == "0"


# -- readiness failures ------------------------------------------------------


def test_wait_targets_up_names_the_target_that_is_down() -> None:
    ghost = free_port()  # nothing listens there
    release_port(ghost)
    prometheus = PrometheusComponent(
        ConfigFiles.from_text(
            prometheus_config(scrape={"ghost": f"127.0.0.1:{ghost}"}),
            main="prometheus.yml",
            files={"rules.yml": "groups: []\n"},
        )
    )
    with prometheus, pytest.raises(StackError) as caught:
        prometheus.wait_targets_up(timeout=9)
    error = caught.value
    assert error.component == "prometheus"
    assert f"ghost http://127.0.0.1:{ghost}/metrics is down" in error.message
    assert "connection refused" in error.message
    assert "hint: is each exporter running" in str(error)
    assert "Server is ready to receive web requests" in error.log_tail


def test_wait_targets_up_names_a_job_without_targets(chain: Chain) -> None:
    with pytest.raises(StackError, match=r"no-such-job: no active target"):
        chain.prometheus.wait_targets_up({"prometheus", "no-such-job"}, timeout=0.3)


def test_bad_prometheus_config_fails_fast_and_leaves_nothing(base_dir: Path) -> None:
    prometheus = PrometheusComponent(
        ConfigFiles.from_text("scrape_configs: [{job_name: }]\n", main="prometheus.yml"),
        base_dir=base_dir,
    )
    with pytest.raises(StackError) as caught:
        prometheus.start()
    assert "exited with code" in str(caught.value)
    assert "promtool check config" in caught.value.hint
    assert "error loading config" in caught.value.log_tail.lower()
    assert list(base_dir.iterdir()) == []
    assert processes_mentioning(str(base_dir)) == []


# -- reload ------------------------------------------------------------------


def test_reload_rereads_rendered_files_in_place_and_refuses_a_bad_config(base_dir: Path) -> None:
    rendered = base_dir / "rendered"
    rendered.mkdir()
    (rendered / "prometheus.yml").write_text(prometheus_config(scrape={}))
    (rendered / "rules.yml").write_text("groups: []\n")
    with PrometheusComponent(rendered, base_dir=base_dir) as prometheus:
        assert prometheus.config_path == rendered / "prometheus.yml"
        (rendered / "rules.yml").write_text(RULES)
        prometheus.reload()
        rules = httpx.get(f"{prometheus.api_url}/rules", timeout=2).json()["data"]["groups"]
        assert [group["name"] for group in rules] == ["drill"]
        (rendered / "prometheus.yml").write_text("global: {scrape_interval: nonsense}\n")
        with pytest.raises(StackError, match="reload refused"):
            prometheus.reload()
        assert prometheus.is_running()  # still serving the last good config


def test_config_files_refuse_names_outside_the_run_dir() -> None:
    with pytest.raises(ValueError, match="relative"):
        ConfigFiles.from_text("{}", main="prometheus.yml", files={"../escape.yml": ""})
    with pytest.raises(ValueError, match="relative"):
        ConfigFiles.from_text("{}", main="/etc/prometheus/prometheus.yml")


def test_missing_rendered_config_is_a_stack_error(base_dir: Path) -> None:
    prometheus = PrometheusComponent(base_dir / "nowhere" / "prometheus.yml", base_dir=base_dir)
    with pytest.raises(StackError, match="does not exist"):
        prometheus.start()
    assert list(base_dir.iterdir()) == []


# -- exporters against real servers ------------------------------------------


def test_postgres_exporter_reports_a_real_postgres(postgres: PostgresComponent) -> None:
    with PostgresExporterComponent(postgres.url) as exporter:
        assert "sslmode=disable" in exporter.data_source_name
        text = exporter.metrics()
        assert metric_value(text, "pg_up ") == "1"
        assert has_metric(text, "pg_stat_activity_count")
        assert has_metric(text, "pg_settings_max_connections")


def test_redis_exporter_reports_a_real_redis(redis: RedisComponent) -> None:
    with RedisExporterComponent(redis.url) as exporter:
        text = exporter.metrics()
        assert metric_value(text, "redis_up ") == "1"
        assert has_metric(text, "redis_connected_clients")


# -- Alertmanager storage ----------------------------------------------------


def silence_ids(alertmanager: AlertmanagerComponent) -> set[str]:
    response = httpx.get(f"{alertmanager.api_url}/silences", timeout=2)
    response.raise_for_status()
    return {s["id"] for s in response.json() if s["status"]["state"] == "active"}


def test_alertmanager_restart_keeps_storage_and_a_fresh_start_does_not() -> None:
    alertmanager = AlertmanagerComponent(
        ConfigFiles.from_text(ALERTMANAGER_CONFIG, main="alertmanager.yml")
    )
    with alertmanager:
        now = datetime.now(UTC)
        created = httpx.post(
            f"{alertmanager.api_url}/silences",
            json={
                "matchers": [{"name": "alertname", "value": "Drill", "isRegex": False}],
                "startsAt": now.isoformat(),
                "endsAt": (now + timedelta(hours=1)).isoformat(),
                "createdBy": "alertdrill",
                "comment": "storage test",
            },
            timeout=2,
        )
        created.raise_for_status()
        silence = created.json()["silenceID"]
        storage, port, pid = alertmanager.storage_path, alertmanager.port, alertmanager.pid

        alertmanager.restart()  # what a "restart" fault does
        assert alertmanager.pid != pid
        assert (alertmanager.storage_path, alertmanager.port) == (storage, port)
        assert silence_ids(alertmanager) == {silence}

        alertmanager.kill()  # a crash, then start(): still the same storage
        alertmanager.start()
        assert alertmanager.storage_path == storage

        alertmanager.stop()  # a fresh start: new run dir, empty storage
        assert not storage.exists()
        alertmanager.start()
        assert alertmanager.storage_path != storage
        assert silence_ids(alertmanager) == set()


# -- every component: clean stop, missing binary -----------------------------

Factory = Callable[[Path, str], LocalServer]


def _prometheus(base_dir: Path, binary: str) -> LocalServer:
    config = ConfigFiles.from_text(
        prometheus_config(scrape={}), main="prometheus.yml", files={"rules.yml": RULES}
    )
    return PrometheusComponent(config, binary=binary, base_dir=base_dir)


def _alertmanager(base_dir: Path, binary: str) -> LocalServer:
    config = ConfigFiles.from_text(ALERTMANAGER_CONFIG, main="alertmanager.yml")
    return AlertmanagerComponent(config, binary=binary, base_dir=base_dir)


def _node(base_dir: Path, binary: str) -> LocalServer:
    return NodeExporterComponent(binary=binary, base_dir=base_dir)


def _blackbox(base_dir: Path, binary: str) -> LocalServer:
    return BlackboxExporterComponent(binary=binary, base_dir=base_dir)


def _postgres_exporter(base_dir: Path, binary: str) -> LocalServer:
    # Nothing listens on port 1: pg_up 0 is still a working exporter.
    return PostgresExporterComponent(
        "postgresql://postgres@127.0.0.1:1/postgres", binary=binary, base_dir=base_dir
    )


def _redis_exporter(base_dir: Path, binary: str) -> LocalServer:
    return RedisExporterComponent("redis://127.0.0.1:1", binary=binary, base_dir=base_dir)


FACTORIES: dict[str, tuple[Factory, str, str]] = {
    "prometheus": (_prometheus, "prometheus", "prometheus"),
    "alertmanager": (_alertmanager, "prometheus-alertmanager", "prometheus-alertmanager"),
    "node": (_node, "prometheus-node-exporter", "prometheus-node-exporter"),
    "blackbox": (_blackbox, "prometheus-blackbox-exporter", "prometheus-blackbox-exporter"),
    "postgres-exporter": (
        _postgres_exporter,
        "prometheus-postgres-exporter",
        "prometheus-postgres-exporter",
    ),
    "redis-exporter": (_redis_exporter, "prometheus-redis-exporter", "prometheus-redis-exporter"),
}


@pytest.mark.parametrize("kind", sorted(FACTORIES))
def test_stop_leaves_no_process_dir_or_port(kind: str, base_dir: Path) -> None:
    factory, binary, _ = FACTORIES[kind]
    server = factory(base_dir, binary)
    assert isinstance(server, Component)
    server.start()
    try:
        pid, run_dir, port = server.pid, server.run_dir, server.port
        assert pid is not None
        assert run_dir is not None
        assert run_dir.parent == base_dir
        assert server.logs(200) != ""
    finally:
        server.stop()
    assert server.pid is None
    assert_left_nothing(pid, run_dir, port)
    assert list(base_dir.iterdir()) == []


@pytest.mark.parametrize("kind", sorted(FACTORIES))
def test_missing_binary_names_the_package(kind: str, base_dir: Path) -> None:
    factory, _, package = FACTORIES[kind]
    server = factory(base_dir, f"{kind}-not-installed")
    with pytest.raises(MissingBinaryError) as caught:
        server.start()
    assert caught.value.package == package
    assert f"'{kind}-not-installed' not found" in str(caught.value)
    assert f"apt-get install -y {package}" in str(caught.value)
    assert list(base_dir.iterdir()) == []
    assert server.run_dir is None
