"""Grafana in the container backend, when its official image is present.

Grafana has no Debian package, so ``alertdrill images build`` cannot make an offline
stand-in: where no registry is reachable (our CI) and the image was not loaded by hand, the
stack runs without it and says why (``ContainerStack.grafana_skip_reason``). Where the image
is present, it runs exactly as docker-compose.monitoring.yml runs it: the same provisioning
files (data sources pointing at ``prometheus:9090`` and ``alertmanager:9093``, the dashboard
provider) at the same paths, the dashboards under ``/var/lib/grafana/dashboards``, and the
same environment. It is only ready once its API serves every provisioned dashboard and data
source, so "Grafana up" means "the seed's dashboard loads", not merely "port open".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import httpx

from alertdrill.stack.containers_component import (
    ContainerComponent,
    ContainerSpec,
    FileSpec,
    Ready,
)

__all__ = ["GRAFANA_PORT", "GRAFANA_UID", "GrafanaProvisioning", "grafana_spec"]

GRAFANA_PORT = 3000
#: The user the official image runs as: provisioned files must be readable by it.
GRAFANA_UID = 472
_DASHBOARDS = "/var/lib/grafana/dashboards"
_PROVISIONING = "/etc/grafana/provisioning"
_HTTP_TIMEOUT = 2.0


@dataclass(frozen=True)
class GrafanaProvisioning:
    """What monitoring/grafana provisions: files to copy, and what the API must then serve."""

    files: tuple[FileSpec, ...]
    dashboard_uids: tuple[str, ...]
    datasource_uids: tuple[str, ...]

    @classmethod
    def read(cls, grafana_dir: Path) -> GrafanaProvisioning:
        import yaml

        files: list[FileSpec] = []
        for kind in ("datasources", "dashboards"):
            for path in sorted((grafana_dir / "provisioning" / kind).glob("*.y*ml")):
                files.append(_file(f"{_PROVISIONING}/{kind}/{path.name}", path))
        dashboard_uids: list[str] = []
        for path in sorted((grafana_dir / "dashboards").glob("*.json")):
            files.append(_file(f"{_DASHBOARDS}/{path.name}", path))
            uid = json.loads(path.read_text(encoding="utf-8")).get("uid")
            if isinstance(uid, str) and uid:
                dashboard_uids.append(uid)
        datasource_uids: list[str] = []
        for path in sorted((grafana_dir / "provisioning" / "datasources").glob("*.y*ml")):
            document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for source in document.get("datasources") or ():
                if isinstance(source, dict) and isinstance(source.get("uid"), str):
                    datasource_uids.append(source["uid"])
        return cls(tuple(files), tuple(dashboard_uids), tuple(datasource_uids))


def _file(target: str, source: Path) -> FileSpec:
    return FileSpec(target, source.read_bytes(), uid=GRAFANA_UID, gid=GRAFANA_UID)


def grafana_spec(
    image: str,
    provisioning: GrafanaProvisioning,
    *,
    admin_password: str,
    ready_timeout: float,
) -> ContainerSpec:
    """The compose file's ``grafana`` service as a container spec (same paths, same env)."""
    home = f"{_DASHBOARDS}/backend-overview.json"
    environment = {
        "GF_SECURITY_ADMIN_USER": "admin",
        "GF_SECURITY_ADMIN_PASSWORD": admin_password,
        "GF_USERS_ALLOW_SIGN_UP": "false",
        "GF_AUTH_ANONYMOUS_ENABLED": "false",
        # No phoning home: the network is the run's private bridge, nothing else.
        "GF_ANALYTICS_REPORTING_ENABLED": "false",
        "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
        "GF_PLUGINS_PLUGIN_ADMIN_ENABLED": "false",
    }
    if any(f.path == home for f in provisioning.files):
        environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] = home
    return ContainerSpec(
        name="grafana",
        image=image,
        ports=(GRAFANA_PORT,),
        aliases=("grafana",),
        environment=environment,
        files=provisioning.files,
        ready=_provisioned(provisioning, admin_password),
        hint="Grafana did not serve the provisioned dashboards: its log names the failing file",
        stop_grace=5.0,
        ready_timeout=ready_timeout,
    )


def _provisioned(provisioning: GrafanaProvisioning, password: str) -> Ready:
    def ready(component: ContainerComponent) -> bool:
        auth = ("admin", password)
        with httpx.Client(base_url=component.url, auth=auth, timeout=_HTTP_TIMEOUT) as http:
            if http.get("/api/health").status_code != 200:
                return False
            for uid in provisioning.datasource_uids:
                if http.get(f"/api/datasources/uid/{uid}").status_code != 200:
                    return False
            for uid in provisioning.dashboard_uids:
                answer = http.get(f"/api/dashboards/uid/{uid}")
                if answer.status_code != 200 or "dashboard" not in answer.json():
                    return False
        return True

    return ready
