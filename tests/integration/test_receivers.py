"""The receivers over real sockets: httpx, smtplib, the real Sentry SDK, the real Alertmanager."""

from __future__ import annotations

import gzip
import json
import shutil
import smtplib
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal

import httpx
import pytest
import sentry_sdk
import yaml
from sentry_sdk.envelope import Envelope, Item, PayloadRef

from alertdrill.errors import ExpectationFailed, StackError
from alertdrill.receivers import Notification, Receivers
from alertdrill.stack.ports import LOCALHOST, free_port, is_port_free, release_port
from alertdrill.stack.process import ManagedProcess

pytestmark = pytest.mark.integration

ROUTING_KEY = "0123456789abcdef0123456789abcdef"
WEBHOOK_TOKEN = "incident-webhook-token"


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    with Receivers() as hub:
        yield hub


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0, trust_env=False) as client:
        yield client


def slack_body(title: str, channel: str = "#alerts-critical") -> dict[str, object]:
    return {
        "channel": channel,
        "username": "Alertmanager",
        "attachments": [{"title": title, "text": "", "fallback": title, "color": "danger"}],
    }


def webhook_body(status: str = "firing") -> dict[str, object]:
    labels = {"alertname": "HighErrorRate", "service": "backend", "severity": "critical"}
    return {
        "receiver": "critical",
        "status": status,
        "alerts": [
            {
                "status": status,
                "labels": labels,
                "annotations": {"summary": "errors"},
                "startsAt": "2024-05-01T10:00:00.123456789Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus/graph",
                "fingerprint": "c5a4e0d1a4b2f3e6",
            }
        ],
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": labels,
        "commonAnnotations": {"summary": "errors"},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": '{}:{alertname="HighErrorRate"}',
        "truncatedAlerts": 0,
    }


# -- HTTP routes ----------------------------------------------------------------


def test_slack_post_is_recorded_and_answered_like_slack(
    receivers: Receivers, http: httpx.Client
) -> None:
    response = http.post(
        receivers.slack_url("critical"), json=slack_body("[FIRING:2] HighErrorRate")
    )

    assert (response.status_code, response.text) == (200, "ok")
    (message,) = receivers.slack()
    assert (message.name, message.channel, message.status) == (
        "critical",
        "#alerts-critical",
        "firing",
    )
    assert (message.alertname, message.firing_count) == ("HighErrorRate", 2)
    assert [n.receiver for n in receivers.notifications()] == ["slack:#alerts-critical"]


def test_pagerduty_event_is_acknowledged_like_pagerduty(
    receivers: Receivers, http: httpx.Client
) -> None:
    event = {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": "abc123",
        "payload": {"summary": "[FIRING:1] DatabaseDown", "source": "am", "severity": "critical"},
    }
    response = http.post(receivers.pagerduty_url, json=event)

    assert response.status_code == 202
    assert response.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "abc123",
    }
    (recorded,) = receivers.pagerduty()
    assert (recorded.event_action, recorded.alertname) == ("trigger", "DatabaseDown")


def test_pagerduty_rejects_what_pagerduty_rejects(receivers: Receivers, http: httpx.Client) -> None:
    event = {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "payload": {"summary": "x", "source": "am", "severity": "page"},
    }
    response = http.post(receivers.pagerduty_url, json=event)

    assert response.status_code == 400
    assert response.json()["status"] == "invalid event"
    assert receivers.pagerduty() == ()
    (unexpected,) = receivers.unexpected()
    assert "severity" in unexpected.reason


def test_webhook_records_payload_and_whether_authorization_was_sent(
    receivers: Receivers, http: httpx.Client
) -> None:
    response = http.post(
        receivers.webhook_url("incident"),
        json=webhook_body(),
        headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"},
    )

    assert response.status_code == 200
    (delivery,) = receivers.webhooks()
    assert (delivery.name, delivery.receiver, delivery.status) == ("incident", "critical", "firing")
    assert (delivery.has_authorization, delivery.authorization_scheme) == (True, "Bearer")
    assert WEBHOOK_TOKEN not in repr(delivery)
    assert delivery.alerts[0].labels["alertname"] == "HighErrorRate"
    assert delivery.forwarded_status is None


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/hooks/nowhere", b"{}", 404),
        ("GET", "/slack/critical", b"", 405),
        ("POST", "/slack/critical", b"{not json", 400),
        ("POST", "/slack/critical", b'{"attachments": "nope"}', 400),
        ("POST", "/webhook/incident", b'{"alerts": [], "status": "pending"}', 400),
        ("POST", "/pagerduty/v2/enqueue", b"[]", 400),
        ("POST", "/api/1/envelope/", b"\x00garbage", 401),
    ],
)
def test_bad_requests_are_refused_recorded_and_do_not_crash_the_sink(
    receivers: Receivers, http: httpx.Client, method: str, path: str, body: bytes, status: int
) -> None:
    response = http.request(method, receivers.http_url + path, content=body)

    assert response.status_code == status
    (unexpected,) = receivers.unexpected()
    assert (unexpected.method, unexpected.path, unexpected.status) == (method, path, status)
    assert receivers.notifications() == ()
    # Still serving:
    ok = http.post(receivers.slack_url("critical"), json=slack_body("[RESOLVED] HighErrorRate"))
    assert ok.status_code == 200


def test_fail_next_fails_exactly_count_requests_then_recovers(
    receivers: Receivers, http: httpx.Client
) -> None:
    receivers.fail_next("/slack/", count=2, status=503)
    url = receivers.slack_url("critical")
    statuses = [http.post(url, json=slack_body("[FIRING:1] A")).status_code for _ in range(3)]

    assert statuses == [503, 503, 200]
    assert [f.status for f in receivers.injected_failures()] == [503, 503]
    assert len(receivers.slack()) == 1
    assert receivers.unexpected() == ()


def test_clear_forgets_records_and_pending_failures(
    receivers: Receivers, http: httpx.Client
) -> None:
    receivers.fail_next("/slack/", count=5)
    http.post(receivers.slack_url("a"), json=slack_body("[FIRING:1] A"))
    receivers.clear()

    assert receivers.records() == ()
    assert http.post(receivers.slack_url("a"), json=slack_body("[FIRING:1] A")).status_code == 200


# -- Sentry, with the real SDK ----------------------------------------------------


@pytest.mark.parametrize("algo", ["gzip", "br"])
def test_sentry_sdk_events_arrive_parsed(receivers: Receivers, algo: Literal["gzip", "br"]) -> None:
    client = sentry_sdk.Client(
        dsn=receivers.sentry_dsn(project_id=7),
        default_integrations=False,
        auto_enabling_integrations=False,
        environment="drill",
        release="service@1.2.3",
        # The SDK's stubs say CompressionAlgo (an Enum), but its transport compares
        # with the strings "gzip"/"br"; an Enum member would disable compression.
        _experiments={"transport_compression_algo": algo},  # type: ignore[typeddict-item]
    )
    try:
        with sentry_sdk.isolation_scope() as scope:
            scope.set_client(client)
            scope.set_tag("team", "database")
            scope.set_user({"id": "user-42", "email": "u@example.com"})
            sentry_sdk.add_breadcrumb(category="db", message="SELECT 1", level="info")
            try:
                raise ConnectionError("database is down")
            except ConnectionError as error:
                event_id = sentry_sdk.capture_exception(error)
        client.flush(timeout=5.0)
    finally:
        client.close(timeout=5.0)

    assert event_id is not None
    event = receivers.wait_for(
        lambda: next(iter(receivers.sentry_events()), None), within=5, what="sentry event"
    )
    assert (event.event_id, event.project_id, event.public_key) == (event_id, "7", "public")
    assert event.content_encoding == algo
    assert (event.exception_type, event.exception_value) == ("ConnectionError", "database is down")
    assert event.tags["team"] == "database"
    assert event.user is not None
    assert (event.user.id, event.user.email) == ("user-42", "u@example.com")
    assert [(b.category, b.message) for b in event.breadcrumbs] == [("db", "SELECT 1")]
    assert (event.environment, event.release, event.level) == ("drill", "service@1.2.3", "error")
    assert receivers.unexpected() == ()


def _envelope(event_id: str) -> bytes:
    envelope = Envelope(headers={"event_id": event_id})
    envelope.add_item(
        Item(
            payload=PayloadRef(json={"event_id": event_id, "message": "hello", "level": "warning"}),
            type="event",
        )
    )
    envelope.add_item(Item(payload=PayloadRef(bytes=b'{"sid": "x"}'), type="session"))
    return envelope.serialize()


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("identity", lambda b: b),
        ("", lambda b: b),
        ("deflate", zlib.compress),
        ("gzip", gzip.compress),
    ],
)
def test_sentry_envelope_encodings(
    receivers: Receivers, http: httpx.Client, encoding: str, encode: Callable[[bytes], bytes]
) -> None:
    headers = {"X-Sentry-Auth": "Sentry sentry_key=public, sentry_version=7"}
    if encoding:
        headers["Content-Encoding"] = encoding
    response = http.post(
        receivers.http_url + "/api/1/envelope/",
        content=encode(_envelope("a" * 32)),
        headers=headers,
    )

    assert response.status_code == 200
    assert response.json() == {"id": "a" * 32}
    (event,) = receivers.sentry_events()
    assert (event.message, event.level) == ("hello", "warning")


def test_sentry_legacy_store_endpoint(receivers: Receivers, http: httpx.Client) -> None:
    event = {"event_id": "b" * 32, "message": {"formatted": "stored"}, "tags": [["k", "v"]]}
    response = http.post(
        receivers.http_url + "/api/3/store/?sentry_key=public&sentry_version=7", json=event
    )

    assert response.json() == {"id": "b" * 32}
    (recorded,) = receivers.sentry_events()
    assert (recorded.project_id, recorded.message, dict(recorded.tags)) == (
        "3",
        "stored",
        {"k": "v"},
    )


# -- SMTP ---------------------------------------------------------------------------


def _mail(subject: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = "alertmanager@example.com"
    message["To"] = "db-team@example.com"
    message.set_content("DatabaseDown is firing")
    message.add_alternative("<p>DatabaseDown is <b>firing</b></p>", subtype="html")
    return message


def test_smtp_with_login_records_the_email(receivers: Receivers) -> None:
    assert receivers.smtp_username is not None
    assert receivers.smtp_password is not None
    with smtplib.SMTP(receivers.smtp_host, receivers.smtp_port, timeout=5) as smtp:
        smtp.login(receivers.smtp_username, receivers.smtp_password)
        smtp.send_message(_mail("[FIRING:1] DatabaseDown (db critical)"))

    (email,) = receivers.wait_for(receivers.emails, within=5, what="email")
    assert email.rcpt_tos == ("db-team@example.com",)
    assert (email.status, email.alertname, email.firing_count) == ("firing", "DatabaseDown", 1)
    assert email.text == "DatabaseDown is firing\n"
    assert "<b>firing</b>" in email.html
    assert email.auth_login == receivers.smtp_username
    assert [n.receiver for n in receivers.notifications()] == ["email:db-team@example.com"]


def test_smtp_wrong_password_is_refused_and_nothing_is_delivered(receivers: Receivers) -> None:
    assert receivers.smtp_username is not None
    with smtplib.SMTP(receivers.smtp_host, receivers.smtp_port, timeout=5) as smtp:
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            smtp.login(receivers.smtp_username, "not-the-password")
        assert refused.value.smtp_code == 535
        with pytest.raises(smtplib.SMTPSenderRefused) as unauthenticated:
            smtp.send_message(_mail("[FIRING:1] DatabaseDown"))
        assert unauthenticated.value.smtp_code == 530

    assert receivers.emails() == ()
    # smtplib tries every mechanism offered (PLAIN, LOGIN), then MAIL is refused:
    assert [(u.protocol, u.status) for u in receivers.unexpected()] == [
        ("smtp", 535),
        ("smtp", 535),
        ("smtp", 530),
    ]
    assert "wrong credentials for user 'alertmanager'" in receivers.unexpected()[0].reason


# -- webhook forwarding -------------------------------------------------------------


@dataclass
class Upstream:
    """A tiny stand-in for the service's webhook endpoint."""

    status: int = 200
    received: list[tuple[bytes, str | None]] = field(default_factory=list)


@pytest.fixture
def upstream() -> Iterator[tuple[Upstream, str]]:
    state = Upstream()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append((body, self.headers.get("Authorization")))
            reply = json.dumps({"seen": len(state.received)}).encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: object) -> None:
            pass

    port = free_port()
    server = ThreadingHTTPServer((LOCALHOST, port), Handler)
    server.daemon_threads = False
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield state, f"http://{LOCALHOST}:{port}/api/webhooks/alertmanager"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        release_port(port)


def test_forwarded_webhook_is_byte_identical_and_relays_the_upstream_status(
    receivers: Receivers, http: httpx.Client, upstream: tuple[Upstream, str]
) -> None:
    state, url = upstream
    receivers.set_forward("incident", url)
    body = json.dumps(webhook_body(), separators=(",", ":")).encode() + b"\n"
    headers = {"Authorization": f"Bearer {WEBHOOK_TOKEN}", "Content-Type": "application/json"}

    ok = http.post(receivers.webhook_url("incident"), content=body, headers=headers)
    state.status = 500
    failed = http.post(receivers.webhook_url("incident"), content=body, headers=headers)

    assert (ok.status_code, ok.json()) == (200, {"seen": 1})
    assert failed.status_code == 500
    assert state.received == [(body, f"Bearer {WEBHOOK_TOKEN}")] * 2
    assert [d.forwarded_status for d in receivers.webhooks()] == [200, 500]


def test_forward_to_a_dead_upstream_answers_502_so_alertmanager_retries(
    receivers: Receivers, http: httpx.Client
) -> None:
    port = free_port()  # nothing listens there
    try:
        receivers.set_forward("incident", f"http://{LOCALHOST}:{port}/api/webhooks/alertmanager")
        response = http.post(receivers.webhook_url("incident"), json=webhook_body())
    finally:
        release_port(port)

    assert response.status_code == 502
    assert [d.forwarded_status for d in receivers.webhooks()] == [502]


# -- waiting and lifecycle ------------------------------------------------------------


def test_wait_for_wakes_on_the_record_not_on_a_poll(
    receivers: Receivers, http: httpx.Client
) -> None:
    timer = threading.Timer(
        0.3, lambda: http.post(receivers.slack_url("x"), json=slack_body("[FIRING:1] Late"))
    )
    timer.start()
    try:
        message = receivers.wait_for(
            lambda: next(iter(receivers.slack()), None), within=5, what="late slack message"
        )
        woke = time.monotonic()
    finally:
        timer.join(timeout=5)

    assert woke - message.arrived_at < 0.05


def test_wait_for_times_out_with_what_was_received(
    receivers: Receivers, http: httpx.Client
) -> None:
    http.post(receivers.slack_url("x"), json=slack_body("[FIRING:1] Other", channel="#ops"))

    with pytest.raises(ExpectationFailed) as failed:
        receivers.wait_for(lambda: receivers.pagerduty(), within=0.3, what="a page")

    assert "a page" in str(failed.value)
    assert "slack:#ops Other firing" in str(failed.value)
    assert 0.3 <= failed.value.elapsed < 1.0


def test_stop_leaves_no_thread_socket_or_port(http: httpx.Client) -> None:
    threads_before = set(threading.enumerate())
    hub = Receivers().start()
    http_port, smtp_port = hub.http_port, hub.smtp_port
    http.post(hub.slack_url("x"), json=slack_body("[FIRING:1] A"))
    hub.stop()
    hub.stop()  # idempotent

    assert set(threading.enumerate()) == threads_before
    assert is_port_free(http_port)
    assert is_port_free(smtp_port)
    with pytest.raises(httpx.ConnectError):
        http.post(f"http://{LOCALHOST}:{http_port}/slack/x", json={})
    with pytest.raises(StackError):
        _ = hub.http_url
    assert len(hub.slack()) == 1  # records outlive the sinks

    with hub:  # and a stopped hub starts again, on fresh ports
        assert http.post(hub.slack_url("x"), json=slack_body("[RESOLVED] A")).status_code == 200
    assert [m.status for m in hub.slack()] == ["firing", "resolved"]
    assert set(threading.enumerate()) == threads_before


# -- the real Alertmanager ---------------------------------------------------------


def _alertmanager_config(receivers: Receivers) -> dict[str, object]:
    return {
        "route": {
            "receiver": "critical",
            "group_by": ["alertname"],
            "group_wait": "0s",
            "group_interval": "100ms",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "critical",
                "slack_configs": [
                    {
                        "api_url": receivers.slack_url("critical"),
                        "channel": "#alerts-critical",
                        "send_resolved": True,
                    }
                ],
                "pagerduty_configs": [{"routing_key": ROUTING_KEY, "url": receivers.pagerduty_url}],
                "webhook_configs": [
                    {
                        "url": receivers.webhook_url("incident"),
                        "http_config": {
                            "authorization": {"type": "Bearer", "credentials": WEBHOOK_TOKEN}
                        },
                    }
                ],
                "email_configs": [
                    {
                        "to": "db-team@example.com",
                        "from": "alertmanager@example.com",
                        "smarthost": receivers.smtp_smarthost,
                        "auth_username": receivers.smtp_username,
                        "auth_password": receivers.smtp_password,
                        "require_tls": False,
                        "send_resolved": True,
                    }
                ],
            }
        ],
    }


@pytest.fixture
def alertmanager(receivers: Receivers) -> Iterator[str]:
    run_dir = Path(tempfile.mkdtemp(prefix="alertdrill-am-"))
    port = free_port()
    config = run_dir / "alertmanager.yml"
    config.write_text(yaml.safe_dump(_alertmanager_config(receivers)))
    process = ManagedProcess(
        "alertmanager",
        "prometheus-alertmanager",
        [
            f"--config.file={config}",
            f"--storage.path={run_dir / 'data'}",
            f"--web.listen-address={LOCALHOST}:{port}",
            "--cluster.listen-address=",
            "--log.level=debug",
        ],
        package="prometheus-alertmanager",
        log_path=run_dir / "alertmanager.log",
        stop_grace=5.0,
    )
    url = f"http://{LOCALHOST}:{port}"

    def ready() -> bool:
        return httpx.get(f"{url}/-/ready", timeout=1.0, trust_env=False).status_code == 200

    try:
        process.start(ready=ready, timeout=20.0, hint="see alertmanager.log")
        yield url
    finally:
        process.stop()  # SIGTERM, wait with a grace period, SIGKILL the group, reap
        release_port(port)
        shutil.rmtree(run_dir, ignore_errors=True)


def _post_alert(http: httpx.Client, url: str, *, ends_at: datetime | None = None) -> None:
    alert: dict[str, object] = {
        "labels": {"alertname": "HighErrorRate", "service": "backend", "severity": "critical"},
        "annotations": {"summary": "error rate above 0.1/s"},
        "startsAt": (datetime.now(UTC) - timedelta(seconds=30)).isoformat(),
        "generatorURL": "http://prometheus.example/graph",
    }
    if ends_at is not None:
        alert["endsAt"] = ends_at.isoformat()
    response = http.post(f"{url}/api/v2/alerts", json=[alert])
    assert response.status_code == 200, response.text


def _all_four(receivers: Receivers, status: str) -> list[Notification] | None:
    seen = [n for n in receivers.notifications() if n.status == status]
    return seen if {n.kind for n in seen} == {"slack", "pagerduty", "webhook", "email"} else None


def test_real_alertmanager_notifies_every_receiver_and_resolves(
    receivers: Receivers, alertmanager: str, http: httpx.Client
) -> None:
    receivers.fail_next("/pagerduty/", count=1, status=500)  # Alertmanager must retry
    _post_alert(http, alertmanager)
    firing = receivers.wait_for(lambda: _all_four(receivers, "firing"), within=15, what="firing")

    expected = {
        "slack:#alerts-critical",
        f"pagerduty:{ROUTING_KEY}",
        "webhook:incident",
        "email:db-team@example.com",
    }
    assert {n.receiver for n in firing} == expected
    assert {n.alertname for n in firing} == {"HighErrorRate"}
    (slack,) = receivers.slack()
    assert slack.title.startswith("[FIRING:1] HighErrorRate")
    (trigger,) = receivers.pagerduty()
    assert (trigger.event_action, trigger.severity) == ("trigger", "error")
    assert trigger.dedup_key
    (failure,) = receivers.injected_failures()
    assert (failure.path, failure.status) == ("/pagerduty/v2/enqueue", 500)
    assert failure.arrived_at < trigger.arrived_at
    (webhook,) = receivers.webhooks()
    assert (webhook.version, webhook.receiver, webhook.alerts[0].alertname) == (
        "4",
        "critical",
        "HighErrorRate",
    )
    assert (webhook.has_authorization, webhook.authorization_scheme) == (True, "Bearer")
    assert webhook.alerts[0].ends_at is None or webhook.alerts[0].ends_at > datetime.now(UTC)
    (email,) = receivers.emails()
    assert email.subject.startswith("[FIRING:1] HighErrorRate")
    assert email.auth_login == receivers.smtp_username
    assert "HighErrorRate" in email.html

    _post_alert(http, alertmanager, ends_at=datetime.now(UTC) - timedelta(seconds=1))
    resolved = receivers.wait_for(
        lambda: _all_four(receivers, "resolved"), within=15, what="resolved"
    )

    assert {n.receiver for n in resolved} == expected
    resolve = receivers.pagerduty()[-1]
    assert (resolve.event_action, resolve.dedup_key) == ("resolve", trigger.dedup_key)
    assert receivers.slack()[-1].title.startswith("[RESOLVED] HighErrorRate")
    assert receivers.emails()[-1].subject.startswith("[RESOLVED] HighErrorRate")
    assert receivers.webhooks()[-1].alerts[0].status == "resolved"
    assert len(receivers.notifications()) == 8  # exactly one firing and one resolved each
    assert receivers.unexpected() == ()
