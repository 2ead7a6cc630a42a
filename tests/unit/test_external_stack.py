"""The external backend without servers: fault classes and the external stack's policy, the live
configuration parsed from the JSON Prometheus and Alertmanager serve, the missing receiver
capture, the record codec, and the command-line flags."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import typing
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alertdrill.errors import ConfigError, FaultError, StackError
from alertdrill.faults import BaseFault
from alertdrill.faults.classes import (
    FACTORY_CLASSES,
    NON_DESTRUCTIVE,
    FaultClass,
    factory_class,
    fault_allowed,
    fault_refusal,
    format_fault_classes,
    parse_fault_classes,
    require_fault_allowed,
)
from alertdrill.receivers.capture import NO_CAPTURE, NoReceiverCapture, ReceiverCaptureMissing
from alertdrill.receivers.codec import RECORD_TYPES, decode_record, encode_record
from alertdrill.receivers.parsers import parse_email, parse_pagerduty, parse_slack, parse_webhook
from alertdrill.receivers.records import (
    AlertRecord,
    Arrival,
    FrozenMap,
    InjectedFailure,
    PayloadError,
)
from alertdrill.receivers.sentry import parse_sentry_store
from alertdrill.session import DrillSession
from alertdrill.stack.components.service import ServiceCredentials
from alertdrill.stack.external import (
    ENVIRONMENT,
    ExternalStack,
    add_external_arguments,
    external_stack_from_args,
)
from alertdrill.stack.floors import floors_from_files
from alertdrill.stack.live_config import (
    infer_duration_scale,
    live_rendered_config,
    rule_file_from_api,
)
from alertdrill.stack.local import MONITORING_DIR, LocalStack
from alertdrill.stack.render import FAST, RenderedConfig, RenderedRule
from tests.unit.test_expect import Rig

pytestmark = pytest.mark.unit

TOKEN = "faults-token-for-tests"

# -- the live configuration, shaped as Prometheus 2.42 / Alertmanager 0.25 serve it -----------

PROMETHEUS_YAML = """\
global:
  scrape_interval: 250ms
  scrape_timeout: 200ms
  evaluation_interval: 250ms
  external_labels:
    cluster: drill
rule_files:
- /elsewhere/alerts.yml
scrape_configs:
- job_name: backend
  scrape_interval: 250ms
  scrape_timeout: 200ms
  static_configs:
  - targets: [127.0.0.1:8000]
- job_name: postgres
  scrape_interval: 2s
  scrape_timeout: 1s600ms
  static_configs:
  - targets: [127.0.0.1:9187]
"""
STATUS_CONFIG = {"status": "success", "data": {"yaml": PROMETHEUS_YAML}}
HIGH_ERROR_RATE = 'sum by (service) (rate(errors_total{status_code=~"5.."}[5s])) > 0.1'
RULES = {
    "status": "success",
    "data": {
        "groups": [
            {
                "name": "application",
                "file": "/elsewhere/alerts.yml",
                "interval": 0.25,
                "rules": [
                    {
                        "state": "inactive",
                        "name": "HighErrorRate",
                        "query": HIGH_ERROR_RATE,
                        "duration": 2,
                        "labels": {"severity": "critical", "category": "application"},
                        "annotations": {"summary": "errors"},
                        "alerts": [],
                        "health": "ok",
                        "type": "alerting",
                    },
                    {
                        "name": "DatabaseDown",
                        "query": "pg_up == 0",
                        "duration": 1,
                        "labels": {"severity": "critical", "category": "database"},
                        "annotations": {},
                        "type": "alerting",
                    },
                ],
            },
            {
                "name": "recording",
                "file": "/elsewhere/alerts.yml",
                "interval": 0.5,
                "rules": [
                    {
                        "name": "service:http_requests:rate5m",
                        "query": "sum by (service) (rate(http_requests_total[5s]))",
                        "labels": {},
                        "type": "recording",
                    }
                ],
            },
        ]
    },
}
ALERTMANAGER_YAML = """\
global:
  resolve_timeout: 5m
  slack_api_url: <secret>
route:
  receiver: default
  group_by: [alertname, cluster, service]
  routes:
  - receiver: incident-webhook
    matchers:
    - severity="critical"
    continue: true
  - receiver: database-team
    matchers:
    - category="database"
  group_wait: 0s
  group_interval: 100ms
  repeat_interval: 1h
receivers:
- name: default
- name: incident-webhook
- name: database-team
"""


@pytest.fixture
def rendered(tmp_path: Path) -> RenderedConfig:
    return live_rendered_config(
        STATUS_CONFIG, RULES, ALERTMANAGER_YAML, tmp_path / "live", monitoring_dir=MONITORING_DIR
    )


def test_floors_come_from_the_live_intervals_rules_and_route_timers(
    rendered: RenderedConfig,
) -> None:
    high = rendered.floor("HighErrorRate")
    # scrape 0.25 + evaluation 0.25 + for 2 + send 0.25 + group max(0s, 100ms)
    assert high.total == 2.85
    # scrape 0.25 + window 5 + evaluation 0.25 + send 0.25 + group_interval 0.1
    assert high.resolve_total == 5.85
    assert high.receivers == ("incident-webhook",)
    down = rendered.floor("DatabaseDown")
    # postgres is scraped every 2 s with a 1.6 s timeout, and pg_up is an availability signal
    assert (down.scrape, down.scrape_timeout, down.for_) == (2.0, 1.6, 1.0)
    assert down.total == 5.2
    assert down.receivers == ("incident-webhook", "database-team")
    assert [r.record for r in rendered.recording_rules] == ["service:http_requests:rate5m"]
    assert rendered.recording_rules[0].group_interval == 0.5
    assert dict(rendered.scrape_intervals) == {"backend": 0.25, "postgres": 2.0}


def test_the_live_profile_is_the_fast_profile_when_the_stack_runs_it(
    rendered: RenderedConfig,
) -> None:
    # for: 2m -> 2 s and 1m -> 1 s in the production rules: the scale is 1/60 exactly.
    assert rendered.profile == dataclasses.replace(FAST, name="live")


def test_the_written_copy_gives_the_same_floors(rendered: RenderedConfig) -> None:
    again = floors_from_files(rendered.prometheus_yml, rendered.alertmanager_yml)
    assert again == dict(rendered.floors())
    assert rendered.directory.stat().st_mode & 0o077 == 0


def test_the_rules_api_becomes_a_rule_file() -> None:
    groups = rule_file_from_api(RULES)["groups"]
    assert [g["interval"] for g in groups] == ["250ms", "500ms"]
    high, down = groups[0]["rules"]
    assert high == {
        "alert": "HighErrorRate",
        "expr": HIGH_ERROR_RATE,
        "for": "2s",
        "labels": {"severity": "critical", "category": "application"},
        "annotations": {"summary": "errors"},
    }
    assert down["for"] == "1s"
    assert groups[1]["rules"] == [
        {"record": "service:http_requests:rate5m", "expr": groups[1]["rules"][0]["expr"]}
    ]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"status": "error", "error": "boom"}, "should be an object"),
        ({"status": "success", "data": {"yaml": "- a list"}}, "not a YAML mapping"),
    ],
)
def test_an_unusable_config_payload_is_reported(
    tmp_path: Path, payload: object, message: str
) -> None:
    with pytest.raises((ConfigError, StackError), match=message):
        live_rendered_config(payload, RULES, ALERTMANAGER_YAML, tmp_path / "x")


def test_duration_scale_is_the_median_for_ratio_snapped_to_one_over_n() -> None:
    def rule(name: str, for_seconds: float) -> RenderedRule:
        return RenderedRule(name, "g", 1.0, "up", for_seconds, FrozenMap(), FrozenMap(), "up")

    source = (rule("A", 120), rule("B", 300), rule("C", 5), rule("D", 0))
    # C is clamped to one evaluation interval (0.25 s, not 5/60): the median ignores it.
    live = (rule("A", 2.0), rule("B", 5.0), rule("C", 0.25), rule("D", 0), rule("E", 3))
    assert infer_duration_scale(live, source) == 1 / 60
    assert infer_duration_scale(source, source) == 1.0
    assert infer_duration_scale(live, ()) == 1.0


# -- fault classes -----------------------------------------------------------------------------


def _fault_factories() -> set[str]:
    found = set()
    for name, member in inspect.getmembers(DrillSession, inspect.isfunction):
        returned = typing.get_type_hints(member).get("return")
        if isinstance(returned, type) and issubclass(returned, BaseFault):
            found.add(name)
    return found


def test_every_session_fault_factory_has_a_class() -> None:
    factories = _fault_factories()
    assert "error_rate" in factories  # the introspection finds factories at all
    assert set(FACTORY_CLASSES) == factories
    assert {factory_class(f) for f in factories} == set(FaultClass)
    with pytest.raises(ConfigError, match="not a fault factory"):
        factory_class("traffic")  # background traffic is not a fault


def test_fault_class_lists_parse_and_format() -> None:
    assert parse_fault_classes("service, TRAFFIC") == NON_DESTRUCTIVE
    assert parse_fault_classes("none") == parse_fault_classes("") == frozenset()
    assert parse_fault_classes("all") == frozenset(FaultClass)
    assert format_fault_classes(parse_fault_classes("traffic,service")) == "service,traffic"
    assert format_fault_classes(()) == "none"
    with pytest.raises(ConfigError, match=r"unknown fault class.*chaos"):
        parse_fault_classes("service,chaos")


def test_stacks_without_a_policy_allow_everything() -> None:
    local = LocalStack()  # not started: nothing runs
    assert all(fault_allowed(local, c) for c in FaultClass)
    assert fault_refusal(local, FaultClass.PROCESS) is None
    require_fault_allowed(object(), FaultClass.NETWORK)


def _stack(**overrides: object) -> ExternalStack:
    options: dict[str, object] = {
        "prometheus_url": "http://127.0.0.1:9090",
        "alertmanager_url": "http://127.0.0.1:9093",
        "service_url": "http://127.0.0.1:8000",
        "credentials": ServiceCredentials(faults_token=TOKEN),
    }
    options.update(overrides)
    return ExternalStack(**options)  # type: ignore[arg-type]


def test_external_default_allows_service_and_traffic_only() -> None:
    stack = _stack()
    assert {c for c in FaultClass if stack.allows(c)} == {FaultClass.SERVICE, FaultClass.TRAFFIC}
    assert stack.refusal(FaultClass.SERVICE) == ""
    for refused in (FaultClass.RESOURCE, FaultClass.NETWORK):
        reason = stack.refusal(refused)
        assert f"{refused.value} faults" in reason
        wider = format_fault_classes(NON_DESTRUCTIVE | {refused})
        assert f"--allow-faults {wider}" in reason
        assert "ALERTDRILL_ALLOW_FAULTS" in reason
        with pytest.raises(FaultError, match=f"{refused.value} faults .* refused"):
            require_fault_allowed(stack, refused)
        assert "destructive" in reason
    excluded = _stack(allow=frozenset()).refusal(FaultClass.SERVICE)
    assert "excluded by the allowed classes" in excluded and "destructive" not in excluded
    assert "--allow-faults service " in excluded
    # Process faults are impossible here whatever is allowed, and the refusal says so.
    assert not stack.allows(FaultClass.PROCESS)
    assert "which --allow-faults cannot change" in stack.refusal(FaultClass.PROCESS)


def test_allowed_classes_still_need_what_they_run_on() -> None:
    bare = _stack(allow=frozenset(FaultClass), credentials=ServiceCredentials(faults_token=""))
    assert not bare.allows(FaultClass.NETWORK)
    assert "no fault proxy configured" in bare.refusal(FaultClass.NETWORK)
    assert not bare.allows(FaultClass.SERVICE)
    assert "ALERTDRILL_FAULTS_TOKEN" in bare.refusal(FaultClass.SERVICE)
    assert "no handle on processes" in bare.refusal(FaultClass.PROCESS)
    assert bare.allows(FaultClass.RESOURCE) and bare.allows(FaultClass.TRAFFIC)
    equipped = _stack(allow=frozenset(FaultClass), fault_proxy_url="http://127.0.0.1:8474")
    assert equipped.allows(FaultClass.NETWORK) and equipped.allows(FaultClass.SERVICE)
    assert not equipped.allows(FaultClass.PROCESS)  # never, whatever is allowed


def test_external_handles_that_do_not_exist_say_so() -> None:
    stack = _stack(postgres_dsn="postgresql://drill:s3cret@db.staging:5432/app")
    with pytest.raises(StackError, match="no process access"):
        stack.component("service")
    with pytest.raises(StackError, match="no drill filesystem"):
        _ = stack.drill_filesystem
    with pytest.raises(StackError, match="start\\(\\) the external stack"):
        _ = stack.rendered
    with pytest.raises(StackError, match="no PostgreSQL DSN"):
        _ = _stack().postgres
    assert stack.postgres.url.endswith("s3cret@db.staging:5432/app")
    assert stack.endpoints["postgres"] == "postgresql://drill:***@db.staging:5432/app"
    assert "s3cret" not in repr(stack.postgres)
    assert stack.logs() == {}
    with pytest.raises(ConfigError, match="not an http"):
        _stack(service_url="127.0.0.1:8000")


FACTORY_ARGS: Mapping[str, tuple[tuple[object, ...], dict[str, object]]] = {
    "kill": (("service",), {}),
    "stop": (("service",), {}),
    "pause": (("service",), {}),
    "restart": (("service",), {}),
    "dependency_latency": (("postgres",), {}),
    "blackhole": (("postgres",), {}),
    "reset_peer": (("postgres",), {}),
    "outage": (("postgres",), {}),
    "bandwidth": (("postgres",), {"kbps": 10}),
    "memory_hog": ((), {"megabytes": 10}),
    "request_spike": ((), {"rate": 20.0}),
}


@pytest.fixture
def offline_session(rendered: RenderedConfig) -> Iterator[tuple[ExternalStack, DrillSession]]:
    """A session on an external stack that is never contacted: the live configuration is
    the one parsed above, set where start() would put it."""
    stack = _stack(allow=frozenset(), postgres_dsn="postgresql://x@127.0.0.1:9/x")
    stack._rendered = rendered
    session = DrillSession(stack)
    yield stack, session
    session.close()


@pytest.mark.parametrize("factory", sorted(FACTORY_CLASSES))
def test_the_session_refuses_every_factory_of_a_refused_class(
    offline_session: tuple[ExternalStack, DrillSession], factory: str
) -> None:
    stack, session = offline_session
    args, kwargs = FACTORY_ARGS.get(factory, ((), {}))
    fault_class = FACTORY_CLASSES[factory]
    with pytest.raises(FaultError, match=f"{fault_class.value} faults .*--allow-faults"):
        getattr(session, factory)(*args, **kwargs)
    # Positive control: allowed, the factory builds its fault (nothing is injected yet).
    stack.allowed = frozenset({FaultClass.SERVICE, FaultClass.TRAFFIC, FaultClass.RESOURCE})
    if fault_class in stack.allowed and factory != "disk_fill":
        assert isinstance(getattr(session, factory)(*args, **kwargs), BaseFault)


# -- no receiver capture ---------------------------------------------------------------------


def test_without_receiver_capture_notification_expectations_fail_clearly() -> None:
    rig = Rig()
    rig.receivers.deliver("webhook:incident", "HighErrorRate")
    # Positive control: the same expectations pass (or fail for cause) with a capture.
    rig.expect().notified({"webhook:incident"}, alert="HighErrorRate", within=0.5)
    rig.expect().no_notification(during=0.05, alert="DatabaseDown")

    missing = NoReceiverCapture()
    rig.receivers = missing  # type: ignore[assignment]
    # A missing capture is not silence: the negative expectation must not pass either.
    with pytest.raises(ReceiverCaptureMissing, match=r"HighErrorRate.*no receiver capture"):
        rig.expect().notified({"webhook:incident"}, alert="HighErrorRate", within=0.5)
    with pytest.raises(ReceiverCaptureMissing, match="no receiver capture configured"):
        rig.expect().no_notification(during=0.05, alert="DatabaseDown")
    with pytest.raises(ReceiverCaptureMissing, match="no receiver capture configured"):
        rig.expect().pagerduty("HighErrorRate").triggered(within=0.5)


def test_no_receiver_capture_is_empty_for_the_reset_and_refuses_questions() -> None:
    missing = NoReceiverCapture()
    assert missing.records() == () and missing.notifications() == ()
    missing.clear()
    with pytest.raises(ReceiverCaptureMissing) as caught:
        missing.wait_for(lambda: True, within=1, what="anything")
    assert str(caught.value) == f"receivers: anything: {NO_CAPTURE}"
    with pytest.raises(ReceiverCaptureMissing, match="no receiver capture configured"):
        missing.webhooks()
    stack = _stack()
    assert isinstance(stack.receivers, NoReceiverCapture)
    assert stack.receiver_capture_skip_reason == NO_CAPTURE
    assert _stack(receivers_url="http://127.0.0.1:9").receiver_capture_skip_reason is None


# -- record codec ------------------------------------------------------------------------------


def _records() -> list[object]:
    at = Arrival(arrived_at=12.5, wall_time=1_700_000_000.25)
    slack = parse_slack(
        "alertmanager",
        json.dumps({"channel": "#alerts", "attachments": [{"title": "[FIRING:1] X"}]}).encode(),
        at,
    )
    pagerduty = parse_pagerduty(
        json.dumps(
            {
                "routing_key": "key",
                "event_action": "trigger",
                "dedup_key": "d",
                "payload": {"summary": "[FIRING:1] X", "source": "s", "severity": "critical"},
            }
        ).encode(),
        at,
    )
    alert = {
        "status": "firing",
        "labels": {"alertname": "X"},
        "annotations": {},
        "startsAt": "2026-11-28T08:00:00.123Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "",
        "fingerprint": "f",
    }
    webhook = parse_webhook(
        "incident",
        json.dumps(
            {
                "version": "4",
                "status": "firing",
                "receiver": "r",
                "groupKey": "g",
                "truncatedAlerts": 0,
                "groupLabels": {"alertname": "X"},
                "commonLabels": {"alertname": "X"},
                "commonAnnotations": {},
                "externalURL": "http://am",
                "alerts": [alert],
            }
        ).encode(),
        {"Content-Type": "application/json", "Authorization": "Bearer t"},
        at,
    )
    mail = parse_email(
        "alertmanager@alertdrill.test",
        ["db-team@example.com"],
        b"Subject: [FIRING:1] DatabaseDown\r\nTo: db-team@example.com\r\n\r\ndown\r\n",
        at,
        auth_login="alertmanager",
    )
    sentry = parse_sentry_store(
        "1",
        json.dumps(
            {
                "event_id": "a" * 32,
                "level": "error",
                "exception": {"values": [{"type": "RuntimeError", "value": "boom"}]},
                "user": {"id": "7", "email": "u@example.com"},
                "breadcrumbs": {"values": [{"category": "http", "data": {"status": 500}}]},
                "request": {"method": "GET", "url": "http://svc/api", "headers": {"X": "y"}},
                "tags": {"route": "/api"},
            }
        ).encode(),
        public_key="public",
        arrival=at,
    )
    return [slack, pagerduty, webhook, mail, sentry, InjectedFailure("/slack/", 503, 1.0, 2.0)]


def test_records_survive_json_exactly() -> None:
    records = _records()
    for record in records:
        wire = json.loads(json.dumps(encode_record(record)))  # type: ignore[arg-type]
        back = decode_record(wire)
        assert back == record
        assert getattr(back, "raw", None) == getattr(record, "raw", None)
    webhook = records[2]
    assert isinstance(webhook.alerts[0], AlertRecord)  # type: ignore[attr-defined]
    assert webhook.alerts[0].starts_at == datetime(2026, 11, 28, 8, 0, 0, 123000, tzinfo=UTC)  # type: ignore[attr-defined]
    assert {type(r).__name__ for r in records} == set(RECORD_TYPES) - {"UnexpectedRequest"}
    sentry = records[4]
    # The nested shapes were really there to travel: a user, breadcrumbs, request headers.
    assert sentry.user is not None and sentry.breadcrumbs and sentry.request is not None  # type: ignore[attr-defined]


def test_malformed_records_are_payload_errors() -> None:
    good = encode_record(_records()[0])  # type: ignore[arg-type]
    with pytest.raises(PayloadError, match="unknown record type"):
        decode_record({**good, "type": "Fax"})
    broken = {**good, "record": {**good["record"], "status": "maybe"}}  # type: ignore[dict-item]
    with pytest.raises(PayloadError, match="status"):
        decode_record(broken)
    webhook = encode_record(_records()[2])  # type: ignore[arg-type]
    alerts = webhook["record"]["alerts"]  # type: ignore[index]
    alerts[0]["labels"] = ["not", "a", "map"]
    with pytest.raises(PayloadError, match=r"alerts\[0\]\.labels: should be an object"):
        decode_record(webhook)


# -- command line ------------------------------------------------------------------------------


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_external_arguments(parser)
    return parser.parse_args(argv)


def test_flags_win_over_the_environment_and_secrets_come_from_it() -> None:
    env = {
        "ALERTDRILL_PROMETHEUS_URL": "http://prom.env:9090",
        "ALERTDRILL_ALERTMANAGER_URL": "http://am.env:9093",
        "ALERTDRILL_SERVICE_URL": "http://svc.env:8000",
        "ALERTDRILL_FAULTS_TOKEN": "from-env",
        "ALERTDRILL_SUPERUSER_PASSWORD": "pw",
        "ALERTDRILL_ALLOW_FAULTS": "service",
    }
    stack = external_stack_from_args(
        _parse("--prometheus-url", "http://prom.flag:9090", "--allow-faults", "traffic,network"),
        env,
    )
    assert stack.prometheus.url == "http://prom.flag:9090"
    assert stack.alertmanager.url == "http://am.env:9093"
    assert stack.credentials.faults_token == "from-env"
    assert stack.credentials.superuser_password == "pw"
    assert stack.credentials.superuser_email == "admin@alertdrill.test"
    assert stack.credentials.webhook_token == ""
    assert stack.allowed == {FaultClass.TRAFFIC, FaultClass.NETWORK}
    assert external_stack_from_args(_parse(), env).allowed == {FaultClass.SERVICE}
    del env["ALERTDRILL_ALLOW_FAULTS"]
    assert external_stack_from_args(_parse(), env).allowed == NON_DESTRUCTIVE
    assert all(name.startswith("ALERTDRILL_") for name in ENVIRONMENT.values())


def test_missing_urls_name_both_the_flag_and_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        external_stack_from_args(
            _parse("--service-url", "http://svc:8000"), {"ALERTDRILL_PROMETHEUS_URL": "http://p"}
        )
    message = str(caught.value)
    assert "--alertmanager-url (or ALERTDRILL_ALERTMANAGER_URL)" in message
    assert "prometheus" not in message and "--service-url" not in message
