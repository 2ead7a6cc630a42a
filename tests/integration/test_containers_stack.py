"""The container backend against a real Docker engine: readiness, 127.0.0.1 ports, labels,
logs, the images' contract, and cleanup after a pass, a failure, Ctrl-C and SIGKILL.

Skipped with the reason when no engine answers (scripts/start-dockerd.sh starts one; CI does).
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from alertdrill.errors import StackError
from alertdrill.images.build import has_image
from alertdrill.images.catalog import CATALOG
from alertdrill.stack.containers import ContainerStack
from alertdrill.stack.containers_engine import (
    RUN_LABEL,
    connect,
    engine_unavailable_reason,
    remove_leftovers,
)
from alertdrill.timing import eventually

pytestmark = [pytest.mark.integration, pytest.mark.containers, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def engine() -> Iterator[object]:
    reason = engine_unavailable_reason()
    if reason is not None:
        pytest.skip(f"no Docker engine: {reason} (scripts/start-dockerd.sh starts one)")
    client = connect()
    yield client
    client.client.close()


@pytest.fixture(scope="module")
def stack(engine: object) -> Iterator[ContainerStack]:
    with ContainerStack() as running:
        yield running


def _of_run(engine: object, run_id: str) -> dict[str, list[str]]:
    docker = engine.client  # type: ignore[attr-defined]
    label = {"label": f"{RUN_LABEL}={run_id}"}
    return {
        "containers": [c.name for c in docker.containers.list(all=True, filters=label)],
        "networks": [n.name for n in docker.networks.list(filters=label)],
        "volumes": [v.name for v in docker.volumes.list(filters=label)],
    }


NOTHING = {"containers": [], "networks": [], "volumes": []}


def test_ready_means_every_target_up(stack: ContainerStack) -> None:
    response = httpx.get(f"{stack.prometheus.url}/api/v1/targets", timeout=5.0)
    active = response.json()["data"]["activeTargets"]
    assert {t["scrapePool"] for t in active} == set(stack.rendered.scrape_intervals)
    assert all(t["health"] == "up" for t in active), active
    assert stack.ready_seconds is not None and stack.ready_seconds < 60


def test_ports_are_published_on_loopback_only(stack: ContainerStack) -> None:
    for component in stack.components():
        bindings = component.container.attrs["HostConfig"]["PortBindings"]
        assert bindings, component.name
        for published in bindings.values():
            assert {b["HostIp"] for b in published} == {"127.0.0.1"}, component.name
        assert httpx.URL(component.url).host == "127.0.0.1", component.url


def test_everything_carries_the_run_label(stack: ContainerStack, engine: object) -> None:
    assert stack.run_id is not None
    owned = _of_run(engine, stack.run_id)
    assert sorted(owned["containers"]) == sorted(c.container_name for c in stack.components())
    assert owned["networks"] == [stack.network]
    # Every VOLUME of every image is a named, labelled volume (no anonymous one to leak).
    anonymous = [
        m["Name"]
        for c in stack.components()
        for m in c.container.attrs["Mounts"]
        if m["Type"] == "volume" and m["Name"] not in owned["volumes"]
    ]
    assert not anonymous


def test_containers_resolve_each_other_but_nothing_else(stack: ContainerStack) -> None:
    prometheus = stack.container("prometheus").container
    found = prometheus.exec_run(["getent", "hosts", "postgres"])
    assert found.exit_code == 0, found.output
    unknown = prometheus.exec_run(["getent", "hosts", "deb.debian.org"])
    assert unknown.exit_code != 0


def test_logs_are_captured(stack: ContainerStack) -> None:
    logs = stack.logs(tail=200)
    assert set(logs) == {c.name for c in stack.components()}
    assert "Server is ready to receive web requests" in logs["prometheus"]


def test_service_database_path_goes_through_the_fault_proxy(stack: ContainerStack) -> None:
    proxies = httpx.get(f"{stack.fault_proxy.url}/proxies", timeout=5.0).json()
    assert {"postgres", "redis", "probe"} <= set(proxies)
    env = stack.service.container.attrs["Config"]["Env"]
    assert any(e.startswith("DATABASE_URL=") and "@fault-proxy:5432/" in e for e in env)


def test_node_exporter_sees_the_drill_filesystem(stack: ContainerStack) -> None:
    if stack.drill_filesystem_skip_reason is not None:
        pytest.skip(f"no drill filesystem: {stack.drill_filesystem_skip_reason}")
    mountpoint = str(stack.drill_filesystem.mountpoint)
    metrics = httpx.get(f"{stack.container('node-exporter').url}/metrics", timeout=5.0).text
    lines = [m for m in metrics.splitlines() if f'mountpoint="{mountpoint}"' in m]
    assert any(m.startswith("node_filesystem_avail_bytes{") for m in lines), lines
    assert any(m.startswith("node_filesystem_readonly{") and m.endswith(" 0") for m in lines)


def test_standin_images_keep_the_official_contract(stack: ContainerStack, engine: object) -> None:
    docker = engine.client  # type: ignore[attr-defined]
    expected = {
        "prometheus": (["/bin/prometheus"], "nobody", {"9090/tcp"}, {"/prometheus"}),
        "alertmanager": (["/bin/alertmanager"], "nobody", {"9093/tcp"}, {"/alertmanager"}),
        "node-exporter": (["/bin/node_exporter"], "nobody", {"9100/tcp"}, set()),
        "postgres-exporter": (["/bin/postgres_exporter"], "nobody", {"9187/tcp"}, set()),
        "redis-exporter": (["/redis_exporter"], "59000:59000", {"9121/tcp"}, set()),
        "blackbox-exporter": (["/bin/blackbox_exporter"], "nobody", {"9115/tcp"}, set()),
        "postgres": (["docker-entrypoint.sh"], "", {"5432/tcp"}, {"/var/lib/postgresql/data"}),
        "redis": (["docker-entrypoint.sh"], "", {"6379/tcp"}, {"/data"}),
    }
    checked = 0
    for choice in stack.image_choices:
        if choice.source != "standin" or choice.component not in expected:
            continue
        config = docker.images.get(choice.image).attrs["Config"]
        entrypoint, user, ports, volumes = expected[choice.component]
        assert config["Entrypoint"] == entrypoint, choice
        assert config["User"] == user, choice
        assert set(config["ExposedPorts"]) == ports, choice
        assert set(config.get("Volumes") or {}) == volumes, choice
        checked += 1
    if not checked:
        pytest.skip("official images in use: no stand-in to check")


def test_standin_postgres_honours_the_environment_contract(engine: object) -> None:
    """POSTGRES_USER / POSTGRES_DB / initdb scripts, as the official image documents them."""
    docker = engine.client  # type: ignore[attr-defined]
    image = CATALOG["postgres"].standin
    assert image is not None
    if not has_image(docker, image):
        pytest.skip(f"{image} not built (alertdrill images build)")
    container = docker.containers.create(
        image,
        environment={"POSTGRES_USER": "app", "POSTGRES_PASSWORD": "pw", "POSTGRES_DB": "appdb"},
        network_mode="none",
        labels={"alertdrill.owner": "alertdrill", RUN_LABEL: "contract-check"},
    )
    try:
        container.put_archive(
            "/docker-entrypoint-initdb.d",
            _tar_one("1.sql", b"CREATE TABLE marker (x int);"),
        )
        container.start()
        query = "SELECT current_user || ' ' || current_database() || ' ' || count(*) FROM marker"
        psql = ["psql", "-h", "127.0.0.1", "-U", "app", "-d", "appdb", "-tAc", query]

        def answered() -> bytes | None:
            result = container.exec_run(psql, environment={"PGPASSWORD": "pw"})
            return bytes(result.output) if result.exit_code == 0 else None

        assert eventually(answered, within=30, what="psql as app").strip() == b"app appdb 0"
    finally:
        container.remove(force=True, v=True)


def _tar_one(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(content), 0o644
        archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def test_failed_start_leaves_nothing(engine: object) -> None:
    broken = ContainerStack(images={"redis": "alertdrill/no-such-image:never"}, ready_timeout=20)
    with pytest.raises(StackError, match="no-such-image"):
        broken.start()
    assert broken.run_id is not None
    assert _of_run(engine, broken.run_id) == NOTHING


_SCRIPT = textwrap.dedent(
    """
    import json, signal, threading
    from alertdrill.stack.containers import ContainerStack
    # A child of a background job may inherit SIGINT ignored: Ctrl-C must raise here.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    stack = ContainerStack()
    with stack:
        print(json.dumps({"run": stack.run_id}), flush=True)
        threading.Event().wait(120)
    """
)


def _started_subprocess() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-c", _SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.kill()
        process.wait(timeout=30)
        pytest.fail("the stack subprocess did not start")
    return process, json.loads(line)["run"]


def test_ctrl_c_leaves_nothing(engine: object) -> None:
    process, run_id = _started_subprocess()
    assert _of_run(engine, run_id)["containers"]
    process.send_signal(signal.SIGINT)
    process.wait(timeout=90)
    assert process.stdout is not None
    process.stdout.close()
    assert _of_run(engine, run_id) == NOTHING


def test_leftovers_of_a_killed_run_are_removed_by_the_next(engine: object) -> None:
    process, run_id = _started_subprocess()
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert process.stdout is not None
    process.stdout.close()
    assert _of_run(engine, run_id)["containers"], "SIGKILL leaves the run behind"
    removed = remove_leftovers(engine)  # type: ignore[arg-type]
    assert removed.containers
    assert _of_run(engine, run_id) == NOTHING


def test_compose_file_validates_where_compose_v2_is_available(tmp_path: Path) -> None:
    """`docker compose config` on the seed's compose file (Compose v2 only; needs no engine)."""
    try:
        version = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        pytest.skip(f"no docker CLI: {error}")
    if version.returncode != 0:
        pytest.skip(f"Compose v2 not available: {version.stderr.strip() or version.stdout.strip()}")
    env = {
        **os.environ,
        "GRAFANA_PASSWORD": "drill",
        "POSTGRES_EXPORTER_DSN": "postgresql://monitor:secret@postgres:5432/postgres",
    }
    done = subprocess.run(
        ["docker", "compose", "-f", str(ROOT / "docker-compose.monitoring.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
