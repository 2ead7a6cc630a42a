"""Grafana's container spec mirrors docker-compose.monitoring.yml, and its readiness means
"every provisioned dashboard and data source is served", checked against a fake Grafana API."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import yaml

from alertdrill.stack.containers_grafana import (
    GRAFANA_UID,
    GrafanaProvisioning,
    grafana_spec,
)

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
GRAFANA_DIR = ROOT / "monitoring" / "grafana"


def test_provisioning_has_the_compose_paths_and_uids() -> None:
    provisioning = GrafanaProvisioning.read(GRAFANA_DIR)
    compose = yaml.safe_load((ROOT / "docker-compose.monitoring.yml").read_text())
    mounted = {v.split(":")[1] for v in compose["services"]["grafana"]["volumes"] if ":/" in v}
    for file in provisioning.files:
        assert any(file.path.startswith(target + "/") for target in mounted), file.path
        assert (file.uid, file.gid) == (GRAFANA_UID, GRAFANA_UID)
    assert provisioning.dashboard_uids == ("backend-overview",)
    assert set(provisioning.datasource_uids) == {"prometheus", "alertmanager"}


def test_spec_environment_matches_compose() -> None:
    spec = grafana_spec(
        "grafana/grafana:10.4.2",
        GrafanaProvisioning.read(GRAFANA_DIR),
        admin_password="pw",
        ready_timeout=30.0,
    )
    compose = yaml.safe_load((ROOT / "docker-compose.monitoring.yml").read_text())
    compose_env = compose["services"]["grafana"]["environment"]
    assert set(compose_env) - {"GF_SERVER_ROOT_URL"} <= set(spec.environment)
    assert (
        spec.environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
        == (compose_env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    )
    assert spec.environment["GF_SECURITY_ADMIN_PASSWORD"] == "pw"
    assert spec.ports == (3000,) and spec.aliases == ("grafana",)


class _FakeGrafana(BaseHTTPRequestHandler):
    served: ClassVar[set[str]] = set()

    def do_GET(self) -> None:
        if self.headers.get("Authorization", "") != "Basic YWRtaW46cHc=":  # admin:pw
            self.send_response(401)
            self.end_headers()
            return
        found = self.path == "/api/health" or self.path in self.served
        body = json.dumps({"dashboard": {"uid": "x"}} if found else {"message": "not found"})
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *_args: object) -> None:
        pass


class _Component:
    def __init__(self, url: str) -> None:
        self.url = url


@pytest.fixture
def fake_grafana() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeGrafana)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        _FakeGrafana.served = set()


def test_ready_only_once_every_dashboard_and_datasource_is_served(fake_grafana: str) -> None:
    spec = grafana_spec(
        "g", GrafanaProvisioning.read(GRAFANA_DIR), admin_password="pw", ready_timeout=1.0
    )
    assert spec.ready is not None
    component = _Component(fake_grafana)
    _FakeGrafana.served = {"/api/datasources/uid/prometheus", "/api/datasources/uid/alertmanager"}
    assert spec.ready(component) is False  # type: ignore[arg-type]  # dashboard missing
    _FakeGrafana.served |= {"/api/dashboards/uid/backend-overview"}
    assert spec.ready(component) is True  # type: ignore[arg-type]
