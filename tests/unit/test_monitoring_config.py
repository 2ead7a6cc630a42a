"""The production monitoring configuration (monitoring/, docker-compose.monitoring.yml).

The real tools judge the files: promtool for Prometheus' config, rules and every dashboard
query, amtool for Alertmanager's config, routing and notification templates. The Python
checks pin the contract the harness and the scenarios rely on: alert names, routing labels,
the receiver table, and that every query reads a metric something actually exports.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from system_under_test.metrics import ServiceMetrics

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
PROMETHEUS_YML = MONITORING / "prometheus" / "prometheus.yml"
ALERTS_YML = MONITORING / "prometheus" / "alerts.yml"
ALERTMANAGER_YML = MONITORING / "alertmanager" / "alertmanager.yml"
TEMPLATES = MONITORING / "alertmanager" / "templates"
RENDER_SCRIPT = MONITORING / "alertmanager" / "render-env.sh"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "backend-overview.json"
PROVISIONING = MONITORING / "grafana" / "provisioning"
COMPOSE = ROOT / "docker-compose.monitoring.yml"

TIMEOUT = 60  # seconds, for every promtool/amtool/render call

# The routing contract: alert -> (severity, category, receivers in routing order).
# Mirrors the table at the top of alertmanager.yml and in monitoring/README.md.
EXPECTED_ROUTING: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "HighErrorRate": ("critical", "application", ("incident-webhook", "critical")),
    "ServiceDown": ("critical", "application", ("incident-webhook", "critical")),
    "DatabaseDown": ("critical", "database", ("incident-webhook", "critical", "database-team")),
    "HighResponseTime": ("warning", "application", ("default",)),
    "DatabaseConnectionIssues": ("warning", "database", ("database-team",)),
    "SlowDatabaseQueries": ("warning", "database", ("database-team",)),
    "HighMemoryUsage": ("warning", "infrastructure", ("ops-team",)),
    "HighCPUUsage": ("warning", "infrastructure", ("ops-team",)),
    "LowDiskSpace": ("warning", "infrastructure", ("ops-team",)),
    "HighAuthenticationFailures": ("warning", "security", ("security-team",)),
    "UnusualAPIActivity": ("warning", "security", ("security-team",)),
}

# What each receiver delivers to, as the harness's sinks will see it.
EXPECTED_DESTINATIONS: dict[str, set[str]] = {
    "critical": {"slack:#alerts-critical", "pagerduty"},
    "incident-webhook": {"webhook"},
    "database-team": {"slack:#db-team", "email:db-team@example.com"},
    "ops-team": {"slack:#ops"},
    "security-team": {"slack:#security", "email:security@example.com"},
    "default": {"slack:#alerts"},
}

# Dummy values for the ${VAR} placeholders; the real ones come from the environment.
DUMMY_ENV = {
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T000/B000/XXXX",
    "PAGERDUTY_SERVICE_KEY": "0123456789abcdef0123456789abcdef",
    "SMTP_SMARTHOST": "smtp.example.com:587",
    "SMTP_USERNAME": "alertmanager",
    "SMTP_PASSWORD": "not-a-real-password",
    "ALERT_EMAIL_FROM": "alertmanager@example.com",
    "INCIDENT_WEBHOOK_URL": "http://backend:8000/api/webhooks/alertmanager",
    "INCIDENT_WEBHOOK_TOKEN": "not-a-real-token",
}

# Exporter metrics the rules and the dashboard read, checked against the apt binaries the
# configuration targets (node_exporter 1.5, postgres_exporter 0.11.1, blackbox_exporter 0.23)
# and Prometheus itself (up, ALERTS).
EXTERNAL_METRICS = frozenset(
    {
        "up",
        "ALERTS",
        "probe_success",
        "pg_up",
        "pg_stat_activity_count",
        "node_filesystem_avail_bytes",
        "node_filesystem_size_bytes",
        "node_filesystem_readonly",
    }
)

_PLACEHOLDER = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")


# --------------------------------------------------------------------------- helpers


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed (apt-get install prometheus / prometheus-alertmanager)")
    return path


def _run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, capture_output=True, text=True, timeout=TIMEOUT, check=False, **kwargs
    )


def _load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def render_alertmanager(text: str, env: dict[str, str]) -> str:
    """The harness's substitution: known ${VAR} placeholders only, nothing else."""
    return _PLACEHOLDER.sub(lambda m: env.get(m.group(1), m.group(0)), text)


def _alert_rules() -> list[dict[str, Any]]:
    groups = _load_yaml(ALERTS_YML)["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def _recording_rules() -> list[dict[str, Any]]:
    groups = _load_yaml(ALERTS_YML)["groups"]
    return [rule for group in groups for rule in group["rules"] if "record" in rule]


def _dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def _query_panels() -> list[dict[str, Any]]:
    return [p for p in _dashboard()["panels"] if p["type"] != "row"]


def _dashboard_exprs() -> list[str]:
    exprs = [t["expr"] for p in _query_panels() for t in p["targets"]]
    exprs += [a["expr"] for a in _dashboard()["annotations"]["list"] if "expr" in a]
    return exprs


def _grafana_to_promql(expr: str) -> str:
    """Grafana's template variables replaced by values Prometheus would receive."""
    return (
        expr.replace("$__rate_interval", "1m")
        .replace("$__interval", "15s")
        .replace("$__range", "1h")
        .replace("$service", "backend")
    )


_PROMQL_WORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"offset", "bool", "inf", "nan", "atan2"}
)


def metric_names(expr: str) -> set[str]:
    """Metric names referenced by a PromQL expression (a lexer-level approximation)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values may contain anything
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(
        r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text
    )  # label lists
    names = set()
    for match in re.finditer(r"(?<![\w.:])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()", text):
        if match.group(1).lower() not in _PROMQL_WORDS:
            names.add(match.group(1))
    return names


_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}


def _service_metric_names() -> set[str]:
    """Series names the service exposes (labelled families have no samples until used)."""
    registry = CollectorRegistry()
    ServiceMetrics.create(registry, service="backend", version="test")
    names = set()
    for family in registry.collect():
        names |= {family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",))}
        names |= {sample.name for sample in family.samples}
    return names


def _receivers_in_route(route: dict[str, Any]) -> Iterator[str]:
    if "receiver" in route:
        yield route["receiver"]
    for child in route.get("routes", []):
        yield from _receivers_in_route(child)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def rendered_alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """alertmanager.yml rendered with dummy values, templates beside it (paths are relative)."""
    directory = tmp_path_factory.mktemp("alertmanager")
    shutil.copytree(TEMPLATES, directory / "templates")
    path = directory / "alertmanager.yml"
    path.write_text(
        render_alertmanager(ALERTMANAGER_YML.read_text(encoding="utf-8"), DUMMY_ENV),
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def alertmanager_config(rendered_alertmanager: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = _load_yaml(rendered_alertmanager)
    return loaded


# --------------------------------------------------------------------------- Prometheus


def test_prometheus_config_passes_promtool() -> None:
    promtool = _tool("promtool")
    # promtool resolves rule_files relative to the config, so this checks alerts.yml too.
    result = _run([promtool, "check", "config", str(PROMETHEUS_YML)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout


def test_alert_rules_pass_promtool() -> None:
    promtool = _tool("promtool")
    result = _run([promtool, "check", "rules", str(ALERTS_YML)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_scrapes_every_component_with_a_service_label() -> None:
    config = _load_yaml(PROMETHEUS_YML)
    assert config["global"]["scrape_interval"] == "15s"
    assert config["global"]["evaluation_interval"] == "15s"
    assert config["global"]["external_labels"]["cluster"]
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {
        "backend",
        "blackbox-backend",
        "prometheus",
        "alertmanager",
        "node",
        "postgres",
        "redis",
    }
    for name, job in jobs.items():
        for static in job["static_configs"]:
            assert static["labels"]["service"], f"job {name} has no service label"
    # Both legs of ServiceDown must carry the same service, or the inhibition misses one.
    assert jobs["backend"]["static_configs"][0]["labels"]["service"] == "backend"
    assert jobs["blackbox-backend"]["static_configs"][0]["labels"]["service"] == "backend"
    blackbox = jobs["blackbox-backend"]
    assert blackbox["params"]["module"] == ["http_2xx"]
    assert blackbox["static_configs"][0]["targets"] == ["http://backend:8000/health/live"]
    assert {"target_label": "__address__", "replacement": "blackbox-exporter:9115"} in blackbox[
        "relabel_configs"
    ]
    blackbox_modules = _load_yaml(MONITORING / "blackbox" / "blackbox.yml")["modules"]
    assert blackbox_modules["http_2xx"]["prober"] == "http"


# --------------------------------------------------------------------------- alert rules


def test_the_expected_alerts_exist() -> None:
    names = [rule["alert"] for rule in _alert_rules()]
    assert len(names) == len(set(names)), "duplicate alert names"
    assert set(names) == set(EXPECTED_ROUTING)


@pytest.mark.parametrize("rule", _alert_rules(), ids=lambda rule: rule["alert"])
def test_every_alert_has_routing_labels_and_annotations(rule: dict[str, Any]) -> None:
    labels, annotations = rule["labels"], rule["annotations"]
    severity, category, _ = EXPECTED_ROUTING[rule["alert"]]
    assert labels["severity"] == severity
    assert labels["category"] == category
    assert labels["team"]
    assert annotations["summary"].strip()
    assert "{{" in annotations["description"], "description should say what was measured"
    assert annotations["runbook_url"].startswith("https://")
    assert annotations["runbook_url"].endswith("/" + rule["alert"])
    assert "for" in rule, "every alert should ride out a single bad evaluation"


def test_recording_rules_follow_the_naming_convention() -> None:
    records = _recording_rules()
    assert records
    for rule in records:
        assert re.fullmatch(r"[a-z_]+:[a-z_]+:[a-z0-9_]+", rule["record"]), rule["record"]


def test_every_query_reads_metrics_that_exist() -> None:
    known = (
        _service_metric_names() | EXTERNAL_METRICS | {rule["record"] for rule in _recording_rules()}
    )
    queries = [rule["expr"] for rule in _alert_rules() + _recording_rules()]
    queries += [_grafana_to_promql(expr) for expr in _dashboard_exprs()]
    unknown = {name: expr for expr in queries for name in metric_names(expr) - known}
    assert not unknown, f"queries read metrics nothing exports: {unknown}"


def test_metric_name_extraction() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (service, le) (rate(x_bucket{route!~"/a|b"}[5m]))) > 2'
        " and on (service) y offset 5m or z * 0"
    )
    assert metric_names(expr) == {"x_bucket", "y", "z"}


# --------------------------------------------------------------------------- Alertmanager


def test_unrendered_alertmanager_config_is_rejected() -> None:
    """The placeholders make the template undeployable by mistake."""
    amtool = _tool("amtool")
    result = _run([amtool, "check-config", str(ALERTMANAGER_YML)])
    assert result.returncode != 0


def test_rendered_alertmanager_config_passes_amtool(rendered_alertmanager: Path) -> None:
    amtool = _tool("amtool")
    result = _run([amtool, "check-config", str(rendered_alertmanager)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 templates" in result.stdout


def test_every_placeholder_is_a_documented_variable() -> None:
    text = ALERTMANAGER_YML.read_text(encoding="utf-8")
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert set(_PLACEHOLDER.findall(code)) == set(DUMMY_ENV)
    readme = (MONITORING / "README.md").read_text(encoding="utf-8")
    script = RENDER_SCRIPT.read_text(encoding="utf-8")
    for name in DUMMY_ENV:
        assert f"`{name}`" in readme or name in readme, f"{name} missing from README"
        assert name in script, f"{name} not substituted by render-env.sh"


def test_render_script_produces_the_same_file(tmp_path: Path) -> None:
    _tool("amtool")
    if shutil.which("envsubst") is None:
        pytest.skip("envsubst not installed (apt-get install gettext-base)")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **DUMMY_ENV}
    out = tmp_path / "rendered"
    # cwd=tmp_path: the script reads ./.env, which must not be the developer's real one.
    result = _run(["sh", str(RENDER_SCRIPT), str(out)], env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    expected = render_alertmanager(ALERTMANAGER_YML.read_text(encoding="utf-8"), DUMMY_ENV)
    assert (out / "alertmanager.yml").read_text(encoding="utf-8") == expected
    assert (out / "templates").is_dir()


def test_render_script_refuses_missing_variables(tmp_path: Path) -> None:
    if shutil.which("envsubst") is None:
        pytest.skip("envsubst not installed (apt-get install gettext-base)")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **DUMMY_ENV}
    del env["PAGERDUTY_SERVICE_KEY"]
    result = _run(["sh", str(RENDER_SCRIPT), str(tmp_path / "out")], env=env, cwd=tmp_path)
    assert result.returncode != 0
    assert "PAGERDUTY_SERVICE_KEY" in result.stderr
    assert not (tmp_path / "out" / "alertmanager.yml").exists()


@pytest.mark.parametrize("alertname", sorted(EXPECTED_ROUTING))
def test_alert_is_routed_to_the_documented_receivers(
    alertname: str, rendered_alertmanager: Path
) -> None:
    amtool = _tool("amtool")
    severity, category, receivers = EXPECTED_ROUTING[alertname]
    result = _run(
        [
            amtool,
            "config",
            "routes",
            "test",
            f"--config.file={rendered_alertmanager}",
            f"alertname={alertname}",
            f"severity={severity}",
            f"category={category}",
            "service=backend",
            "cluster=production",
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert tuple(result.stdout.strip().split(",")) == receivers


def test_receivers_deliver_to_the_documented_destinations(
    alertmanager_config: dict[str, Any],
) -> None:
    destinations: dict[str, set[str]] = {}
    for receiver in alertmanager_config["receivers"]:
        found = destinations.setdefault(receiver["name"], set())
        found |= {f"slack:{c['channel']}" for c in receiver.get("slack_configs", [])}
        found |= {f"email:{c['to']}" for c in receiver.get("email_configs", [])}
        found |= {"pagerduty" for _ in receiver.get("pagerduty_configs", [])}
        found |= {"webhook" for _ in receiver.get("webhook_configs", [])}
    assert destinations == EXPECTED_DESTINATIONS


def test_every_notification_also_reports_resolution(alertmanager_config: dict[str, Any]) -> None:
    for receiver in alertmanager_config["receivers"]:
        for key, configs in receiver.items():
            if key.endswith("_configs"):
                for config in configs:
                    assert config.get("send_resolved") is True, (receiver["name"], key)


def test_routed_receivers_exist_and_none_is_unused(alertmanager_config: dict[str, Any]) -> None:
    defined = {receiver["name"] for receiver in alertmanager_config["receivers"]}
    routed = set(_receivers_in_route(alertmanager_config["route"]))
    assert routed <= defined, f"undefined receivers: {routed - defined}"
    assert defined <= routed, f"receivers no route uses: {defined - routed}"


def test_route_grouping_and_production_timing(alertmanager_config: dict[str, Any]) -> None:
    route = alertmanager_config["route"]
    assert route["group_by"] == ["alertname", "cluster", "service"]
    assert (route["group_wait"], route["group_interval"], route["repeat_interval"]) == (
        "30s",
        "5m",
        "4h",
    )


def test_webhook_and_smtp_carry_their_credentials(alertmanager_config: dict[str, Any]) -> None:
    (webhook,) = next(
        r["webhook_configs"] for r in alertmanager_config["receivers"] if "webhook_configs" in r
    )
    assert webhook["url"] == DUMMY_ENV["INCIDENT_WEBHOOK_URL"]
    assert webhook["http_config"]["authorization"] == {
        "type": "Bearer",
        "credentials": DUMMY_ENV["INCIDENT_WEBHOOK_TOKEN"],
    }
    smtp = alertmanager_config["global"]
    assert smtp["smtp_require_tls"] is True
    assert smtp["smtp_auth_password"] == DUMMY_ENV["SMTP_PASSWORD"]
    (pagerduty,) = next(
        r["pagerduty_configs"] for r in alertmanager_config["receivers"] if "pagerduty_configs" in r
    )
    assert pagerduty["routing_key"] == DUMMY_ENV["PAGERDUTY_SERVICE_KEY"]


def test_inhibition_rules(alertmanager_config: dict[str, Any]) -> None:
    rules = {
        (tuple(r["source_matchers"]), tuple(r["target_matchers"])): r["equal"]
        for r in alertmanager_config["inhibit_rules"]
    }
    assert rules == {
        (('alertname="ServiceDown"',), ('alertname=~"HighErrorRate|HighResponseTime"',)): [
            "service",
            "cluster",
        ],
        (
            ('alertname="DatabaseDown"',),
            ('alertname=~"DatabaseConnectionIssues|SlowDatabaseQueries"',),
        ): ["cluster"],
        (('severity="critical"',), ('severity="warning"',)): ["alertname", "service", "cluster"],
    }
    mentioned = set()
    for matchers in rules:
        for matcher in (*matchers[0], *matchers[1]):
            if matcher.startswith("alertname"):
                mentioned |= set(matcher.split('"')[1].split("|"))
    assert mentioned <= set(EXPECTED_ROUTING)


def _render_title(tmp_path: Path, status: str) -> str:
    amtool = _tool("amtool")
    alert = {
        "status": status,
        "labels": {
            "alertname": "HighErrorRate",
            "service": "backend",
            "cluster": "production",
            "severity": "critical",
        },
        "annotations": {"summary": "s", "description": "d", "runbook_url": "https://r"},
        "startsAt": "2025-01-10T10:00:00Z",
        "endsAt": "2025-01-10T10:05:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
    }
    data = {
        "receiver": "critical",
        "status": status,
        "alerts": [alert, alert],
        "groupLabels": {
            "alertname": "HighErrorRate",
            "service": "backend",
            "cluster": "production",
        },
        "commonLabels": alert["labels"],
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://alertmanager:9093",
    }
    data_file = tmp_path / "data.json"
    data_file.write_text(json.dumps(data), encoding="utf-8")
    result = _run(
        [
            amtool,
            "template",
            "render",
            f"--template.glob={TEMPLATES}/*.tmpl",
            f"--template.data={data_file}",
            '--template.text={{ template "alertdrill.slack.title" . }}|'
            '{{ template "alertdrill.email.subject" . }}|'
            '{{ template "alertdrill.slack.text" . }}',
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.parametrize(
    ("status", "title"),
    [
        ("firing", "[FIRING:2] HighErrorRate (backend production)"),
        ("resolved", "[RESOLVED] HighErrorRate (backend production)"),
    ],
)
def test_notification_titles_keep_the_parseable_prefix(
    tmp_path: Path, status: str, title: str
) -> None:
    slack_title, email_subject, slack_text = _render_title(tmp_path, status).split("|", 2)
    assert slack_title == email_subject == title
    assert "https://r" in slack_text and "critical" in slack_text


# --------------------------------------------------------------------------- Grafana


def test_dashboard_is_a_provisionable_grafana_dashboard() -> None:
    dashboard = _dashboard()
    assert dashboard["uid"] == "backend-overview"
    assert dashboard["schemaVersion"] >= 36
    assert dashboard["refresh"] == "30s"
    assert len(dashboard["timepicker"]["time_options"]) > 1
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["current"]["value"] == "prometheus"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    titles = {panel["title"] for panel in _query_panels()}
    for seed_panel in (
        "Request rate",
        "Response time (p95)",
        "Error rate",
        "Active users",
        "Database query duration (p95)",
        "Memory usage",
    ):
        assert seed_panel in titles


def test_every_dashboard_panel_has_queries() -> None:
    for panel in _query_panels():
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]


def test_every_dashboard_query_parses(tmp_path: Path) -> None:
    """promtool has no bare parser: the queries become recording rules and are checked."""
    promtool = _tool("promtool")
    rules = [
        {"record": f"dashboard:query:{index}", "expr": _grafana_to_promql(expr)}
        for index, expr in enumerate(_dashboard_exprs())
    ]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}), encoding="utf-8"
    )
    result = _run([promtool, "check", "rules", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_provisioning_points_at_the_dashboard_and_prometheus() -> None:
    datasources = _load_yaml(PROVISIONING / "datasources" / "prometheus.yml")["datasources"]
    prometheus = next(ds for ds in datasources if ds["type"] == "prometheus")
    assert prometheus["uid"] == "prometheus"
    assert prometheus["url"] == "http://prometheus:9090"
    providers = _load_yaml(PROVISIONING / "dashboards" / "dashboards.yml")["providers"]
    assert providers[0]["options"]["path"] == "/var/lib/grafana/dashboards"


# --------------------------------------------------------------------------- compose


def test_compose_file_matches_the_scrape_targets() -> None:
    compose = _load_yaml(COMPOSE)
    services = compose["services"]
    images = {name: service["image"].split(":")[0] for name, service in services.items()}
    assert images == {
        "prometheus": "prom/prometheus",
        "grafana": "grafana/grafana",
        "alertmanager": "prom/alertmanager",
        "node-exporter": "prom/node-exporter",
        "postgres-exporter": "prometheuscommunity/postgres-exporter",
        "redis-exporter": "oliver006/redis_exporter",
        "blackbox-exporter": "prom/blackbox-exporter",
    }
    config = _load_yaml(PROMETHEUS_YML)
    targets = [
        target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    ]
    targets += config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    targets.append("blackbox-exporter:9115")
    hosts = {re.sub(r"^https?://", "", t).split(":")[0].split("/")[0] for t in targets}
    # backend is the application, on the external app network; localhost is Prometheus.
    assert hosts - {"localhost", "backend"} <= set(services)
    prometheus_networks = set(services["prometheus"]["networks"])
    for host in hosts - {"localhost", "backend"}:
        assert prometheus_networks & set(services[host]["networks"]), host
    assert "app" in prometheus_networks
    assert compose["networks"]["app"]["external"] is True
    assert {"prometheus-data", "grafana-data", "alertmanager-data"} <= set(compose["volumes"])
    assert "GRAFANA_PASSWORD" in services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
