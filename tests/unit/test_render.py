"""Rendering the production monitoring files for a run (alertdrill.stack.render & co).

Three layers: PromQL duration scaling on synthetic expressions; the rendered files, judged by
promtool and amtool (local binaries, no servers) and checked for what must and must not
change; and the detection floors computed from them, number by number.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from alertdrill.errors import ConfigError
from alertdrill.stack.floors import DEFAULT_SLACK, floors_from_files
from alertdrill.stack.promql import (
    analyze,
    format_duration,
    parse_duration,
    scale_durations,
    tokenize,
)
from alertdrill.stack.render import (
    FAST,
    PROD,
    Profile,
    RenderedConfig,
    ScrapeEndpoints,
    Sinks,
    profile_named,
    render,
)
from alertdrill.stack.render_alertmanager import render_alertmanager_config, route_timers
from alertdrill.stack.render_prometheus import render_rule_file

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
TIMEOUT = 60  # seconds, for every promtool/amtool call

ENDPOINTS = ScrapeEndpoints(
    backend="127.0.0.1:18001",
    prometheus="127.0.0.1:18002",
    alertmanager="127.0.0.1:18003",
    node="127.0.0.1:18004",
    postgres="127.0.0.1:18005",
    redis="127.0.0.1:18006",
    blackbox="127.0.0.1:18007",
    probe_url="http://127.0.0.1:18001/health/live",
)
SINKS = Sinks(
    slack_url="http://127.0.0.1:18100/slack/alertmanager",
    pagerduty_url="http://127.0.0.1:18100/pagerduty/v2/enqueue",
    pagerduty_routing_key="drill-routing-key",
    smtp_smarthost="127.0.0.1:18101",
    smtp_username="alertmanager",
    smtp_password="drill-password",
    email_from="alertmanager@alertdrill.test",
    incident_webhook_url="http://127.0.0.1:18100/webhook/incident",
    incident_webhook_token="drill-token",
)

ALERTS = {
    "HighErrorRate",
    "HighResponseTime",
    "ServiceDown",
    "DatabaseDown",
    "DatabaseConnectionIssues",
    "SlowDatabaseQueries",
    "HighMemoryUsage",
    "HighCPUUsage",
    "LowDiskSpace",
    "HighAuthenticationFailures",
    "UnusualAPIActivity",
}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed (apt-get install prometheus / prometheus-alertmanager)")
    return path


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT, check=False)


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _digest(directory: Path) -> dict[str, str]:
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> RenderedConfig:
    return render(MONITORING, tmp_path_factory.mktemp("fast"), FAST, ENDPOINTS, SINKS)


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory) -> RenderedConfig:
    return render(MONITORING, tmp_path_factory.mktemp("prod"), PROD, ENDPOINTS, SINKS)


@pytest.fixture(params=["fast", "prod"])
def rendered(request: pytest.FixtureRequest) -> RenderedConfig:
    config: RenderedConfig = request.getfixturevalue(request.param)
    return config


# --------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5m", 300), ("250ms", 0.25), ("1m30s", 90), ("1h5m", 3900), ("2d", 172800), ("0", 0)],
)
def test_parse_duration_reads_prometheus_syntax(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["1.5s", "30s1m", "5", "", "5 m", "-5m"])
def test_parse_duration_rejects_what_prometheus_rejects(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.25, "250ms"),
        (1.6, "1s600ms"),
        (5, "5s"),
        (60, "1m"),
        (90, "1m30s"),
        (3600, "1h"),
        (3725.5, "1h2m5s500ms"),
        (1 / 60, "17ms"),
    ],
)
def test_format_duration_emits_compound_millisecond_durations(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == round(seconds, 3)


def test_the_lexer_covers_the_expression_exactly() -> None:
    expr = 'sum by (service) (rate(x{a="[5m]", b=~`5m`}[5m] offset 1h)) # 5m\n > 0.1e1'
    assert "".join(token.text for token in tokenize(expr)) == expr


SIXTIETH = 1 / 60


@pytest.mark.parametrize(
    ("expr", "scaled"),
    [
        # range selectors
        ("rate(errors_total[5m])", "rate(errors_total[5s])"),
        ("rate(x[1h])", "rate(x[1m])"),
        # offsets, also negative and in capitals (PromQL keywords are case-insensitive)
        ("x offset 5m", "x offset 5s"),
        ("rate(x[5m] offset 1h)", "rate(x[5s] offset 1m)"),
        ("x offset -5m", "x offset -5s"),
        ("x OFFSET 10m", "x OFFSET 10s"),
        # subqueries: range and step, and the default step
        ("max_over_time(rate(x[5m])[30m:1m])", "max_over_time(rate(x[5s])[30s:1s])"),
        ("max_over_time(x[30m:])", "max_over_time(x[30s:])"),
        ("max_over_time(x[30m:1m] offset 2h)", "max_over_time(x[30s:1s] offset 2m)"),
        # compound durations in, compound durations out
        ("rate(x[1h30m])", "rate(x[1m30s])"),
        ("rate(x[1m30s])", "rate(x[1s500ms])"),
        # a step that is not a whole number of milliseconds is rounded: 1s / 60 = 16.67 ms
        ("max_over_time(x[1h:1s])", "max_over_time(x[1m:17ms])"),
    ],
)
def test_every_duration_position_is_scaled(expr: str, scaled: str) -> None:
    assert scale_durations(expr, SIXTIETH).text == scaled


@pytest.mark.parametrize(
    "expr",
    [
        # a recording rule name that ends like a duration
        "service:http_requests:rate5m > 10",
        "avg_over_time(service:http_requests:rate5m[1h] offset 5m)",
        # label values and regexes in every quote style, even ones that look like ranges
        'x{route="/api/[5m]", window=~"5m|1h"} offset 5m',
        "x{window='5m'} + y{window=`[1h:5m]`}",
        # a label called offset, in matchers and in grouping lists
        'sum by (offset) (x{offset="5m"})',
        # comments
        "x # over the last [5m]\n",
        # numbers that are not durations
        "x > 5 and y < 1e3 and z == 0x1f",
    ],
)
def test_only_durations_change(expr: str) -> None:
    scaled = scale_durations(expr, SIXTIETH).text
    # Everything except the genuine durations stays byte for byte.
    untouched = re.sub(r"\[[^\]\"'`]*\]|offset \d+\w+", "", scaled)
    assert untouched == re.sub(r"\[[^\]\"'`]*\]|offset \d+\w+", "", expr)
    for kept in ("rate5m", '"/api/[5m]"', '"5m|1h"', "'5m'", "`[1h:5m]`", "[5m]\n", "1e3"):
        if kept in expr:
            assert kept in scaled


def test_the_recording_rule_name_survives_scaling() -> None:
    expr = (
        "service:http_requests:rate5m > on (service) "
        "avg_over_time(service:http_requests:rate5m[1h] offset 5m)"
    )
    scaled = scale_durations(expr, SIXTIETH)
    assert scaled.text == (
        "service:http_requests:rate5m > on (service) "
        "avg_over_time(service:http_requests:rate5m[1m] offset 5s)"
    )
    assert [(e.position, e.original, e.rendered) for e in scaled.edits] == [
        ("range", "1h", "1m"),
        ("offset", "5m", "5s"),
    ]


def test_ranges_are_clamped_to_the_minimum_and_say_so() -> None:
    # 30s / 60 = 500 ms: fewer than 4 scrapes at 250 ms, so the range is raised to 1 s.
    scaled = scale_durations("rate(x[30s]) / rate(y[5m])", SIXTIETH, min_range=1.0)
    assert scaled.text == "rate(x[1s]) / rate(y[5s])"
    assert [edit.clamped for edit in scaled.edits] == [True, False]
    # Subquery ranges are ranges; steps and offsets are not clamped (only kept above 0).
    assert scale_durations("x[30s:1s] offset 1s", SIXTIETH, min_range=1.0).text == (
        "x[1s:17ms] offset 17ms"
    )


def test_scale_one_changes_nothing() -> None:
    expr = "rate(x[30s])  offset 5m"
    assert scale_durations(expr, 1.0, min_range=60.0).text == expr
    assert scale_durations(expr, 1.0).edits == ()


def test_expression_facts() -> None:
    facts = analyze(
        'sum by (service) (rate(http_requests_total{job="backend", route!~"/x"}[5m]))'
        " / on (service) avg_over_time(service:http_requests:rate5m[1h] offset 5m)"
        ' + max(up{job=~"a|b"}) + {__name__="pg_up"}'
    )
    assert facts.metric_names == {
        "http_requests_total",
        "service:http_requests:rate5m",
        "up",
        "pg_up",
    }
    assert ("job", "=", "backend") in {(m.name, m.op, m.value) for m in facts.matchers}
    assert [(r.seconds, r.offset) for r in facts.ranges] == [(300, False), (3600, True)]


def _rule_file(rules: list[dict[str, Any]], **group: Any) -> dict[str, Any]:
    return {"groups": [{"name": "g", **group, "rules": rules}]}


def test_for_is_scaled_but_not_below_one_evaluation_and_zero_stays_zero() -> None:
    source = _rule_file(
        [
            {"alert": "A", "expr": "x > 1", "for": "2m"},  # 2 s
            {"alert": "B", "expr": "x > 1", "for": "10s"},  # 167 ms < 250 ms: one evaluation
            {"alert": "C", "expr": "x > 1", "for": "0s"},  # stays 0
            {"alert": "D", "expr": "x > 1"},  # no for: untouched
            {"alert": "E", "expr": "x > 1", "for": "1m30s"},  # 1.5 s
        ]
    )
    rendered, rules = render_rule_file(
        source, FAST, source_evaluation_interval=15.0, job_intervals={}
    )
    out = {rule["alert"]: rule.get("for") for rule in rendered["groups"][0]["rules"]}
    assert out == {"A": "2s", "B": "250ms", "C": "0s", "D": None, "E": "1s500ms"}
    assert [rule.for_seconds for rule in rules] == [2.0, 0.25, 0.0, 0.0, 1.5]
    assert rules[1].edits[-1].clamped


def test_group_interval_keeps_its_ratio_to_the_evaluation_interval() -> None:
    # 1m in a file whose global evaluation is 15s: 4x it, so 4 x 250 ms when fast.
    source = _rule_file([{"alert": "A", "expr": "x > 1"}], interval="1m")
    rendered, rules = render_rule_file(
        source, FAST, source_evaluation_interval=15.0, job_intervals={}
    )
    assert rendered["groups"][0]["interval"] == "1s"
    assert rules[0].group_interval == 1.0


def test_a_range_covers_four_scrapes_of_the_job_it_reads() -> None:
    # postgres is scraped every 2 s when fast: a 5m range (5 s) would cover only 2.5 scrapes.
    source = _rule_file([{"alert": "A", "expr": 'rate(pg_x{job="postgres"}[5m]) > 1'}])
    _, rules = render_rule_file(
        source, FAST, source_evaluation_interval=15.0, job_intervals={"postgres": 2.0}
    )
    assert rules[0].expr == 'rate(pg_x{job="postgres"}[8s]) > 1'


# --------------------------------------------------------------------------- profiles


def test_profiles() -> None:
    assert profile_named("fast") is FAST
    assert profile_named("prod") is PROD
    with pytest.raises(ConfigError, match="unknown profile"):
        profile_named("medium")
    assert (FAST.scrape_interval, FAST.evaluation_interval, FAST.duration_scale) == (
        0.25,
        0.25,
        1 / 60,
    )
    assert (FAST.group_wait, FAST.group_interval, FAST.repeat_interval) == (0.0, 0.1, 3600.0)
    assert dict(FAST.min_scrape_interval) == {"postgres": 2.0}
    assert hash(FAST) != hash(PROD)  # usable as a key despite the mapping field
    with pytest.raises(TypeError):
        FAST.min_scrape_interval["redis"] = 1.0  # type: ignore[index]


def test_prod_profile_is_the_production_timing() -> None:
    prometheus = _load(MONITORING / "prometheus" / "prometheus.yml")["global"]
    route = _load(MONITORING / "alertmanager" / "alertmanager.yml")["route"]
    assert parse_duration(prometheus["scrape_interval"]) == PROD.scrape_interval
    assert parse_duration(prometheus["evaluation_interval"]) == PROD.evaluation_interval
    assert parse_duration(route["group_wait"]) == PROD.group_wait
    assert parse_duration(route["group_interval"]) == PROD.group_interval
    assert parse_duration(route["repeat_interval"]) == PROD.repeat_interval
    assert PROD.duration_scale == 1.0
    assert not PROD.min_scrape_interval


@pytest.mark.parametrize(
    "changes",
    [
        {"group_interval": 0.0},
        {"scrape_interval": -1.0},
        {"group_wait": -0.1},
        {"duration_scale": 0.0},
        {"min_scrape_interval": {"postgres": 0.0}},
    ],
)
def test_profiles_refuse_impossible_timing(changes: dict[str, Any]) -> None:
    values: dict[str, Any] = {**FAST.__dict__, "min_scrape_interval": {}, **changes}
    with pytest.raises(ValueError, match="must be"):
        Profile(**values)


def test_endpoints_must_be_host_port() -> None:
    with pytest.raises(ConfigError, match="host:port"):
        ScrapeEndpoints(**{**ENDPOINTS.__dict__, "redis": "http://127.0.0.1:6379"})


# --------------------------------------------------------------------------- rendered files


def test_rendered_files_pass_promtool_and_amtool(rendered: RenderedConfig) -> None:
    promtool, amtool = _tool("promtool"), _tool("amtool")
    config = _run([promtool, "check", "config", str(rendered.prometheus_yml)])
    assert config.returncode == 0, config.stdout + config.stderr
    assert "1 rule files found" in config.stdout
    rules = _run([promtool, "check", "rules", str(rendered.alerts_yml)])
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "12 rules found" in rules.stdout  # 11 alerts + 1 recording rule
    alertmanager = _run([amtool, "check-config", str(rendered.alertmanager_yml)])
    assert alertmanager.returncode == 0, alertmanager.stdout + alertmanager.stderr
    assert "1 templates" in alertmanager.stdout


def test_rendering_never_touches_the_production_files(tmp_path: Path) -> None:
    before = _digest(MONITORING)
    render(MONITORING, tmp_path, FAST, ENDPOINTS, SINKS)
    assert _digest(MONITORING) == before


def _compose_hosts() -> set[str]:
    """Every host:port the production files name (compose hostnames, localhost:9090)."""
    text = (MONITORING / "prometheus" / "prometheus.yml").read_text(encoding="utf-8")
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return set(re.findall(r"[a-z][a-z-]*:\d{4}", text))


def test_no_compose_hostname_or_placeholder_is_left(rendered: RenderedConfig) -> None:
    hosts = _compose_hosts()
    assert {"backend:8000", "alertmanager:9093", "blackbox-exporter:9115"} <= hosts
    for path in (rendered.prometheus_yml, rendered.alertmanager_yml):
        text = path.read_text(encoding="utf-8")
        assert not [host for host in hosts if host in text], path
        assert "${" not in text
        assert "example.com:587" not in text and "events.pagerduty.com" not in text


def test_every_job_scrapes_its_endpoint_and_keeps_its_service_label(
    rendered: RenderedConfig,
) -> None:
    config = _load(rendered.prometheus_yml)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    expected = {
        "backend": ENDPOINTS.backend,
        "blackbox-backend": ENDPOINTS.probe_url,
        "prometheus": ENDPOINTS.prometheus,
        "alertmanager": ENDPOINTS.alertmanager,
        "node": ENDPOINTS.node,
        "postgres": ENDPOINTS.postgres,
        "redis": ENDPOINTS.redis,
    }
    assert {name: job["static_configs"][0]["targets"] for name, job in jobs.items()} == {
        name: [target] for name, target in expected.items()
    }
    source = _load(MONITORING / "prometheus" / "prometheus.yml")["scrape_configs"]
    for job in source:
        assert (
            jobs[job["job_name"]]["static_configs"][0]["labels"]
            == job["static_configs"][0]["labels"]
        )
    # The probe goes to the exporter, with the service's URL as ?target=.
    relabel = jobs["blackbox-backend"]["relabel_configs"]
    assert {"target_label": "__address__", "replacement": ENDPOINTS.blackbox} in relabel
    assert jobs["blackbox-backend"]["params"] == {"module": ["http_2xx"]}
    assert config["alerting"]["alertmanagers"][0]["static_configs"] == [
        {"targets": [ENDPOINTS.alertmanager]}
    ]
    assert config["rule_files"] == ["alerts.yml"]
    assert config["global"]["external_labels"] == {"cluster": "drill"}


def test_fast_timing_in_prometheus_yml(fast: RenderedConfig) -> None:
    config = _load(fast.prometheus_yml)
    assert config["global"]["scrape_interval"] == "250ms"
    assert config["global"]["evaluation_interval"] == "250ms"
    assert config["global"]["scrape_timeout"] == "200ms"  # 80 % of the interval
    # A send to a vanished Alertmanager fails within 2 s, not Prometheus' default 10 s.
    assert [am["timeout"] for am in config["alerting"]["alertmanagers"]] == ["2s"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    # postgres_exporter needs ~1.03 s per scrape while PostgreSQL is down.
    assert (jobs["postgres"]["scrape_interval"], jobs["postgres"]["scrape_timeout"]) == (
        "2s",
        "1s600ms",
    )
    assert all("scrape_interval" not in job for name, job in jobs.items() if name != "postgres")
    assert dict(fast.scrape_intervals) == {
        "backend": 0.25,
        "blackbox-backend": 0.25,
        "prometheus": 0.25,
        "alertmanager": 0.25,
        "node": 0.25,
        "postgres": 2.0,
        "redis": 0.25,
    }


def test_the_cluster_label_is_the_argument(tmp_path: Path) -> None:
    config = render(MONITORING, tmp_path, FAST, ENDPOINTS, SINKS, cluster="ci-7")
    assert _load(config.prometheus_yml)["global"]["external_labels"]["cluster"] == "ci-7"
    # Floors route with the cluster label too: still the same receivers.
    assert config.floor("DatabaseDown").receivers == (
        "incident-webhook",
        "critical",
        "database-team",
    )


def test_prod_keeps_production_timing_and_rules_verbatim(prod: RenderedConfig) -> None:
    config = _load(prod.prometheus_yml)
    assert (
        config["global"]["scrape_interval"],
        config["global"]["evaluation_interval"],
        config["global"]["scrape_timeout"],
    ) == ("15s", "15s", "10s")
    assert [am["timeout"] for am in config["alerting"]["alertmanagers"]] == ["10s"]
    assert all("scrape_interval" not in job for job in config["scrape_configs"])
    source = _load(MONITORING / "prometheus" / "alerts.yml")
    assert _load(prod.alerts_yml) == source  # every expr, for, label and annotation
    assert all(rule.edits == () for rule in prod.rules)
    route = _load(prod.alertmanager_yml)["route"]
    assert route == _load(MONITORING / "alertmanager" / "alertmanager.yml")["route"]


def test_fast_rules_are_scaled_and_nothing_else_changes(fast: RenderedConfig) -> None:
    source = _load(MONITORING / "prometheus" / "alerts.yml")
    out = _load(fast.alerts_yml)
    for group_in, group_out in zip(source["groups"], out["groups"], strict=True):
        assert group_in["name"] == group_out["name"]
        for rule_in, rule_out in zip(group_in["rules"], group_out["rules"], strict=True):
            # Names, labels and annotations identical; only expr and for differ.
            assert {k: v for k, v in rule_in.items() if k not in ("expr", "for")} == {
                k: v for k, v in rule_out.items() if k not in ("expr", "for")
            }
            assert re.sub(r"\[\w+\]|offset \w+", "", rule_in["expr"]) == re.sub(
                r"\[\w+\]|offset \w+", "", rule_out["expr"]
            )
    assert out["groups"][0]["rules"][0]["record"] == "service:http_requests:rate5m"
    assert {rule.name: rule.for_seconds for rule in fast.rules} == {
        "HighErrorRate": 2.0,
        "HighResponseTime": 5.0,
        "ServiceDown": 1.0,
        "DatabaseDown": 1.0,
        "DatabaseConnectionIssues": 5.0,
        "SlowDatabaseQueries": 5.0,
        "HighMemoryUsage": 5.0,
        "HighCPUUsage": 5.0,
        "LowDiskSpace": 5.0,
        "HighAuthenticationFailures": 2.0,
        "UnusualAPIActivity": 5.0,
    }
    unusual = fast.rule("UnusualAPIActivity")
    assert "avg_over_time(service:http_requests:rate5m[1m] offset 5s)" in unusual.expr
    assert unusual.expr.count("service:http_requests:rate5m") == 3
    assert "[1h] offset 5m" in unusual.source_expr
    assert not any(edit.clamped for rule in fast.rules for edit in rule.edits)


def test_alertmanager_points_every_integration_at_the_sinks(rendered: RenderedConfig) -> None:
    config = _load(rendered.alertmanager_yml)
    global_ = config["global"]
    assert global_["slack_api_url"] == SINKS.slack_url
    assert global_["pagerduty_url"] == SINKS.pagerduty_url
    assert global_["smtp_smarthost"] == SINKS.smtp_smarthost
    assert global_["smtp_from"] == SINKS.email_from
    assert global_["smtp_auth_username"] == SINKS.smtp_username
    assert global_["smtp_auth_password"] == SINKS.smtp_password
    assert global_["smtp_require_tls"] is False  # the SMTP sink is plain SMTP on 127.0.0.1
    receivers = {receiver["name"]: receiver for receiver in config["receivers"]}
    assert (
        receivers["critical"]["pagerduty_configs"][0]["routing_key"] == SINKS.pagerduty_routing_key
    )
    webhook = receivers["incident-webhook"]["webhook_configs"][0]
    assert webhook["url"] == SINKS.incident_webhook_url
    assert webhook["http_config"]["authorization"]["credentials"] == SINKS.incident_webhook_token
    integrations = [
        (kind, integration)
        for receiver in config["receivers"]
        for kind, entries in receiver.items()
        if kind.endswith("_configs")
        for integration in entries
    ]
    assert len(integrations) == 9  # 5 Slack, 1 PagerDuty, 1 webhook, 2 email

    assert all(integration["send_resolved"] is True for _, integration in integrations)
    assert all(i["require_tls"] is False for kind, i in integrations if kind == "email_configs")
    # Templates beside the file, by relative path.
    assert config["templates"] == ["templates/alertdrill.tmpl"]
    assert (rendered.directory / "templates" / "alertdrill.tmpl").is_file()
    # Credentials inside: only the owner may read the file or list the directory.
    assert rendered.alertmanager_yml.stat().st_mode & 0o077 == 0
    assert rendered.directory.stat().st_mode & 0o077 == 0


def test_fast_route_timers(fast: RenderedConfig) -> None:
    route = _load(fast.alertmanager_yml)["route"]
    assert (route["group_wait"], route["group_interval"], route["repeat_interval"]) == (
        "0s",
        "100ms",
        "1h",
    )


def test_child_route_overrides_keep_their_ratio_to_the_root() -> None:
    source: dict[str, Any] = {
        "route": {
            "receiver": "a",
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                {"receiver": "b", "group_interval": "10m", "repeat_interval": "1h"},
                {"receiver": "c", "routes": [{"receiver": "d", "group_wait": "1m"}]},
            ],
        },
        "receivers": [{"name": n} for n in "abcd"],
    }
    route = render_alertmanager_config(source, FAST, SINKS, templates=[])["route"]
    assert route["routes"][0]["group_interval"] == "200ms"  # 2x the root's
    assert route["routes"][0]["repeat_interval"] == "15m"  # 1/4 of the root's
    assert route["routes"][1]["routes"][0]["group_wait"] == "0s"  # 2x of 0
    assert "group_wait" not in route["routes"][1]  # inherited, not added
    # The prod profile's timers are the root's: the whole tree comes out unchanged.
    assert render_alertmanager_config(source, PROD, SINKS, templates=[])["route"] == source["route"]


def test_an_unknown_placeholder_is_an_error() -> None:
    source = {"global": {"slack_api_url": "${SLACK_WEBHOOK_URL}"}, "x": "${NOT_A_SINK}"}
    with pytest.raises(ConfigError, match="NOT_A_SINK"):
        render_alertmanager_config(source, FAST, SINKS, templates=[])


def test_an_unknown_scrape_job_is_an_error(tmp_path: Path) -> None:
    source = tmp_path / "monitoring"
    shutil.copytree(MONITORING, source)
    prometheus = source / "prometheus" / "prometheus.yml"
    config = _load(prometheus)
    config["scrape_configs"].append(
        {"job_name": "mystery", "static_configs": [{"targets": ["mystery:1234"]}]}
    )
    prometheus.write_text(yaml.safe_dump(config), encoding="utf-8")
    with pytest.raises(ConfigError, match="'mystery' has no local endpoint"):
        render(source, tmp_path / "out", FAST, ENDPOINTS, SINKS)


def test_scaled_rule_fires_on_the_scaled_schedule(fast: RenderedConfig, tmp_path: Path) -> None:
    """Prometheus' own rule engine (promtool test rules) on the rendered HighErrorRate.

    4 errors/s from t=0, one sample per 250 ms: the 5 s rate exists from the second sample
    (t=250ms) and is far above 0.1/s, so the alert is pending from 250 ms and fires at the
    first evaluation 2 s later (2.25 s), not before. The value then is 9 errors over the 5 s
    window = 1.80/s: rate() does not extrapolate a counter below zero, so the window's first
    2.75 s (before the series existed) count as empty.
    """
    promtool = _tool("promtool")
    tests = {
        "rule_files": [str(fast.alerts_yml)],
        "evaluation_interval": "250ms",
        "tests": [
            {
                "interval": "250ms",
                "input_series": [
                    {
                        "series": 'errors_total{service="backend",status_code="500"}',
                        "values": "0+1x40",
                    }
                ],
                "alert_rule_test": [
                    {"eval_time": "2s", "alertname": "HighErrorRate", "exp_alerts": []},
                    {
                        "eval_time": "2250ms",
                        "alertname": "HighErrorRate",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "service": "backend",
                                    "severity": "critical",
                                    "category": "application",
                                    "team": "backend",
                                },
                                "exp_annotations": dict(fast.rule("HighErrorRate").annotations)
                                | {
                                    "summary": "backend is failing requests with server errors",
                                    "description": (
                                        "backend returns 1.80 server errors (5xx) per second, "
                                        "above the 0.1/s threshold. Check errors_total by type "
                                        "and endpoint, recent deploys, and the service's "
                                        "dependencies (database, Redis)."
                                    ),
                                },
                            }
                        ],
                    },
                ],
            }
        ],
    }
    test_file = tmp_path / "high_error_rate_test.yml"
    test_file.write_text(yaml.safe_dump(tests), encoding="utf-8")
    result = _run([promtool, "test", "rules", str(test_file)])
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------- floors

# The fast profile's floor of every alert, part by part (seconds). Columns:
#   scrape       scrape interval of the job feeding the rule (postgres: 2 s, others 250 ms)
#   timeout      scrape timeout, only for availability signals (up, pg_up, probe_success):
#                200 ms, postgres 1.6 s; 0 for rules whose scrape is healthy
#   evaluation   250 ms (every group at the global evaluation interval)
#   recording    one recording-group evaluation (250 ms), only UnusualAPIActivity
#   for          the scaled for (1/60): 2m -> 2 s, 5m -> 5 s, 1m -> 1 s
#   send         one evaluation (250 ms) for Prometheus -> Alertmanager
#   group        max(group_wait 0, group_interval 100 ms) = 100 ms
#   window       (resolve) longest un-offset range: the 5 s rate windows, 0 for instant rules
FAST_FLOORS: dict[str, tuple[float, float, float, float, float, float, float, float]] = {
    #                           scrape timeout eval  rec   for  send  group window
    "HighErrorRate": (0.25, 0.0, 0.25, 0.0, 2.0, 0.25, 0.1, 5.0),
    "HighResponseTime": (0.25, 0.0, 0.25, 0.0, 5.0, 0.25, 0.1, 5.0),
    "ServiceDown": (0.25, 0.2, 0.25, 0.0, 1.0, 0.25, 0.1, 0.0),
    "DatabaseDown": (2.0, 1.6, 0.25, 0.0, 1.0, 0.25, 0.1, 0.0),
    "DatabaseConnectionIssues": (2.0, 0.0, 0.25, 0.0, 5.0, 0.25, 0.1, 0.0),
    "SlowDatabaseQueries": (0.25, 0.0, 0.25, 0.0, 5.0, 0.25, 0.1, 5.0),
    "HighMemoryUsage": (0.25, 0.0, 0.25, 0.0, 5.0, 0.25, 0.1, 0.0),
    "HighCPUUsage": (0.25, 0.0, 0.25, 0.0, 5.0, 0.25, 0.1, 5.0),
    "LowDiskSpace": (0.25, 0.0, 0.25, 0.0, 5.0, 0.25, 0.1, 0.0),
    "HighAuthenticationFailures": (0.25, 0.0, 0.25, 0.0, 2.0, 0.25, 0.1, 5.0),
    # The recorded 5 s rate is its window; the [1m] offset 5s baseline is not waited out.
    "UnusualAPIActivity": (0.25, 0.0, 0.25, 0.25, 5.0, 0.25, 0.1, 5.0),
}


def test_floors_exist_for_exactly_the_eleven_alerts(fast: RenderedConfig) -> None:
    assert set(fast.floors()) == ALERTS == set(FAST_FLOORS)
    assert {rule.name for rule in fast.rules} == ALERTS


@pytest.mark.parametrize("alertname", sorted(FAST_FLOORS))
def test_fast_floor(fast: RenderedConfig, alertname: str) -> None:
    scrape, timeout, evaluation, recording, for_, send, group, window = FAST_FLOORS[alertname]
    floor = fast.floor(alertname)
    assert (
        floor.scrape,
        floor.scrape_timeout,
        floor.evaluation,
        floor.recording_lag,
        floor.for_,
        floor.send,
        floor.group,
        floor.window,
    ) == FAST_FLOORS[alertname]
    assert floor.total == pytest.approx(
        scrape + timeout + evaluation + recording + for_ + send + group
    )
    assert floor.resolve_total == pytest.approx(
        scrape + window + evaluation + recording + send + 0.1
    )
    assert floor.deadline() == pytest.approx(floor.total + DEFAULT_SLACK)
    assert floor.deadline(slack=0.5) == pytest.approx(floor.total + 0.5)
    assert floor.resolve_deadline() == pytest.approx(floor.resolve_total + DEFAULT_SLACK)


def test_fast_floor_headline_numbers(fast: RenderedConfig) -> None:
    # HighErrorRate: scrape 0.25 + evaluation 0.25 + for 2 + send 0.25 + group 0.1.
    assert fast.floor("HighErrorRate").total == 2.85
    assert fast.floor("HighErrorRate").describe() == (
        "scrape 0.25 + evaluation 0.25 + for 2 + send 0.25 + group 0.1 = 2.85 s"
    )
    # ServiceDown: a frozen service holds the scrape until its 200 ms timeout.
    assert fast.floor("ServiceDown").total == 2.05
    # DatabaseDown: postgres scraped every 2 s, up to 1.6 s per scrape while the DB is down.
    assert fast.floor("DatabaseDown").total == 5.2
    assert fast.floor("DatabaseDown").jobs == ("postgres",)
    # UnusualAPIActivity reads the recorded rate: one more evaluation.
    assert fast.floor("UnusualAPIActivity").total == 6.1
    assert fast.floor("HighErrorRate").resolve_total == 5.85
    assert fast.floor("ServiceDown").resolve_total == 0.85


def test_prod_floors_use_production_timing(prod: RenderedConfig) -> None:
    floor = prod.floor("HighErrorRate")
    # 15 s scrape + 15 s evaluation + for 2m + 15 s send + max(30 s, 5 m) group.
    assert (floor.scrape, floor.evaluation, floor.for_, floor.send) == (15.0, 15.0, 120.0, 15.0)
    assert (floor.group_wait, floor.group_interval) == (30.0, 300.0)
    assert floor.total == 465.0
    assert prod.floor("DatabaseDown").scrape == 15.0  # no per-job minimum in prod


def test_floors_read_from_the_files_equal_the_rendered_ones(rendered: RenderedConfig) -> None:
    assert floors_from_files(rendered.prometheus_yml, rendered.alertmanager_yml) == dict(
        rendered.floors()
    )


def test_unknown_alert_is_a_config_error(fast: RenderedConfig) -> None:
    with pytest.raises(ConfigError, match="NoSuchAlert"):
        fast.floor("NoSuchAlert")


@pytest.mark.parametrize("alertname", sorted(ALERTS))
def test_floor_routing_agrees_with_amtool(fast: RenderedConfig, alertname: str) -> None:
    """The floors' own walk of the routing tree picks the receivers amtool picks."""
    amtool = _tool("amtool")
    labels: Mapping[str, str] = fast.rule(alertname).labels
    result = _run(
        [
            amtool,
            "config",
            "routes",
            "test",
            f"--config.file={fast.alertmanager_yml}",
            f"alertname={alertname}",
            *(f"{k}={v}" for k, v in labels.items()),
            "cluster=drill",
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert tuple(result.stdout.strip().split(",")) == fast.floor(alertname).receivers


def test_route_timers_take_the_slowest_matching_route() -> None:
    config = {
        "route": {
            "receiver": "default",
            "group_wait": "30s",
            "routes": [
                {"receiver": "pager", "matchers": ['severity="critical"'], "continue": True},
                {"receiver": "db", "match_re": {"category": "data.*"}, "group_wait": "1m"},
                {"receiver": "never", "matchers": ["severity=critical"]},  # after a non-continue
            ],
        }
    }
    timers = route_timers(config, {"severity": "critical", "category": "database"})
    assert timers.receivers == ("pager", "db")
    assert (timers.group_wait, timers.group_interval, timers.repeat_interval) == (60, 300, 14400)
    assert route_timers(config, {"severity": "info"}).receivers == ("default",)
