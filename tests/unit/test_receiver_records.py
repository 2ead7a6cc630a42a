"""Parsing deliveries into records, from bodies Alertmanager 0.25 really sent (no servers)."""

from __future__ import annotations

import dataclasses
import gzip
import json
import zlib
from datetime import UTC, datetime

import brotli  # type: ignore[import-untyped]
import pytest
from sentry_sdk.envelope import Envelope, Item, PayloadRef

from alertdrill.receivers import (
    Arrival,
    FrozenMap,
    PayloadError,
    decode_body,
    parse_email,
    parse_pagerduty,
    parse_sentry_envelope,
    parse_sentry_event,
    parse_slack,
    parse_subject,
    parse_webhook,
)
from alertdrill.receivers.sentry import sentry_key

pytestmark = pytest.mark.unit

AT = Arrival(arrived_at=100.0, wall_time=1_700_000_000.0)
DEDUP = "cbc7a356b874c7d0332c73753d5082204bea3c18a5cb2a9a50e75f6687ffb86b"
ROUTING_KEY = "0123456789abcdef0123456789abcdef"

# Captured from prometheus-alertmanager 0.25 with default templates (host name shortened).
SLACK_FIRING = (
    b'{"channel":"#alerts-critical","username":"Alertmanager","attachments":[{"title":'
    b'"[FIRING:1] HighErrorRate (backend critical)","title_link":"http://am:9093/#/alerts?'
    b'receiver=critical","text":"","fallback":"[FIRING:1] HighErrorRate (backend critical) | '
    b'http://am:9093/#/alerts?receiver=critical","callback_id":"","footer":"","color":"danger",'
    b'"mrkdwn_in":["fallback","pretext","text"]}]}\n'
)
SLACK_RESOLVED = SLACK_FIRING.replace(b"[FIRING:1]", b"[RESOLVED]").replace(b"danger", b"good")

_INSTANCES = (
    "Labels:\n - alertname = HighErrorRate\n - service = backend\n - severity = critical\n"
    "Annotations:\n - summary = error rate above 0.1/s\nSource: http://prometheus.example/graph\n"
)


def pagerduty_body(action: str = "trigger") -> dict[str, object]:
    firing = action == "trigger"
    return {
        "routing_key": ROUTING_KEY,
        "dedup_key": DEDUP,
        "event_action": action,
        "payload": {
            "summary": f"[{'FIRING:1' if firing else 'RESOLVED'}] HighErrorRate (backend critical)",
            "source": "Alertmanager",
            "severity": "error",
            "custom_details": {
                "firing": _INSTANCES if firing else "",
                "num_firing": "1" if firing else "0",
                "num_resolved": "0" if firing else "1",
                "resolved": "" if firing else _INSTANCES,
            },
        },
        "client": "Alertmanager",
        "client_url": "http://am:9093/#/alerts?receiver=critical",
    }


def webhook_body(status: str = "firing") -> dict[str, object]:
    labels = {"alertname": "HighErrorRate", "service": "backend", "severity": "critical"}
    ends = "0001-01-01T00:00:00Z" if status == "firing" else "2026-11-28T05:26:39.876621Z"
    return {
        "receiver": "critical",
        "status": status,
        "alerts": [
            {
                "status": status,
                "labels": labels,
                "annotations": {"summary": "error rate above 0.1/s"},
                "startsAt": "2026-11-28T05:26:10.854208123Z",
                "endsAt": ends,
                "generatorURL": "http://prometheus.example/graph",
                "fingerprint": "57d7fae278411949",
            }
        ],
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": labels,
        "commonAnnotations": {"summary": "error rate above 0.1/s"},
        "externalURL": "http://am:9093",
        "version": "4",
        "groupKey": '{}:{alertname="HighErrorRate"}',
        "truncatedAlerts": 0,
    }


def dumps(obj: object) -> bytes:
    return json.dumps(obj).encode()


# Alertmanager's email: headers, then multipart/alternative (note the two spaces
# before boundary=) with quoted-printable parts; by default only the HTML part.
EMAIL = (
    b"To: DB-Team@example.com\r\n"
    b"From: alertmanager@example.com\r\n"
    b"Subject: [FIRING:2] DatabaseDown (db critical)\r\n"
    b"Message-Id: <1795843600865510936.8491605320416494796@vm>\r\n"
    b"Date: Sat, 28 Nov 2026 05:26:40 +0000\r\n"
    b"Content-Type: multipart/alternative;  boundary=b432ee8d\r\n"
    b"MIME-Version: 1.0\r\n\r\n"
    b"--b432ee8d\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"Content-Type: text/plain; charset=UTF-8\r\n\r\n"
    b"DatabaseDown: PostgreSQL is unreachable =E2=80=94 page the database team\r\n"
    b"--b432ee8d\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"Content-Type: text/html; charset=UTF-8\r\n\r\n"
    b'<html xmlns=3D"http://www.w3.org/1999/xhtml"><title>[FIRING:2] DatabaseDown</t=\r\n'
    b"itle></html>\r\n"
    b"--b432ee8d--\r\n"
)


# -- subjects ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "status", "count", "alertname"),
    [
        ("[FIRING:1] HighErrorRate (backend critical)", "firing", 1, "HighErrorRate"),
        ("[FIRING:12] DatabaseDown", "firing", 12, "DatabaseDown"),
        ("[RESOLVED] HighErrorRate (backend critical)", "resolved", 0, "HighErrorRate"),
        ("[RESOLVED] ServiceDown — backend is down", "resolved", 0, "ServiceDown"),
        ("  [FIRING:1] job:errors:rate5m high", "firing", 1, "job:errors:rate5m"),
        ("[FIRING:1]  (backend critical)", "firing", 1, ""),  # grouped by nothing
        ("HighErrorRate is firing", "unknown", 0, ""),
        ("", "unknown", 0, ""),
    ],
)
def test_parse_subject(text: str, status: str, count: int, alertname: str) -> None:
    subject = parse_subject(text)
    assert (subject.status, subject.firing_count, subject.alertname) == (status, count, alertname)


# -- Slack --------------------------------------------------------------------------


def test_slack_firing_and_resolved_from_alertmanager() -> None:
    firing = parse_slack("critical", SLACK_FIRING, AT)
    resolved = parse_slack("critical", SLACK_RESOLVED, AT)

    assert (firing.channel, firing.username, firing.color) == (
        "#alerts-critical",
        "Alertmanager",
        "danger",
    )
    assert (firing.status, firing.firing_count, firing.alertname) == ("firing", 1, "HighErrorRate")
    assert (resolved.status, resolved.alertname, resolved.color) == (
        "resolved",
        "HighErrorRate",
        "good",
    )
    (view,) = firing.notifications()
    assert (view.kind, view.receiver, view.alertname, view.status, view.arrived_at) == (
        "slack",
        "slack:#alerts-critical",
        "HighErrorRate",
        "firing",
        100.0,
    )
    assert firing.raw == SLACK_FIRING.decode()
    assert "raw" not in repr(firing)


def test_slack_without_channel_is_named_by_its_url() -> None:
    message = parse_slack("ops", dumps({"text": "[FIRING:1] DiskLow on node1"}), AT)
    assert (message.receiver, message.alertname, message.text) == (
        "slack:ops",
        "DiskLow",
        "[FIRING:1] DiskLow on node1",
    )


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{not json",
        b"[]",
        b'{"attachments": {"title": "x"}}',
        b'{"attachments": ["x"]}',
        b'{"attachments": [{"title": 5}]}',
        b'{"channel": "#a", "attachments": [{}]}',  # Slack's no_text
        b"\xff\xfe",
    ],
)
def test_malformed_slack_bodies_raise_payload_error(body: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_slack("critical", body, AT)


# -- PagerDuty ----------------------------------------------------------------------


def test_pagerduty_trigger_and_resolve_share_the_dedup_key() -> None:
    trigger = parse_pagerduty(dumps(pagerduty_body("trigger")), AT)
    resolve = parse_pagerduty(dumps(pagerduty_body("resolve")), AT)

    assert (trigger.event_action, trigger.status, resolve.event_action, resolve.status) == (
        "trigger",
        "firing",
        "resolve",
        "resolved",
    )
    assert trigger.dedup_key == resolve.dedup_key == DEDUP
    assert (trigger.summary, trigger.source, trigger.severity) == (
        "[FIRING:1] HighErrorRate (backend critical)",
        "Alertmanager",
        "error",
    )
    assert trigger.alertname == resolve.alertname == "HighErrorRate"
    assert trigger.custom_details["num_firing"] == "1"
    assert "alertname = HighErrorRate" in trigger.custom_details["firing"]
    assert (trigger.links, trigger.images) == ((), ())  # omitted when empty
    (view,) = trigger.notifications()
    assert view.receiver == f"pagerduty:{ROUTING_KEY}"


def test_pagerduty_links_images_and_non_string_details() -> None:
    body = pagerduty_body()
    body["links"] = [{"href": "http://runbook", "text": "runbook"}]
    body["images"] = [{"src": "http://graph.png", "href": "http://graph", "alt": "graph"}]
    payload = body["payload"]
    assert isinstance(payload, dict)
    payload["custom_details"] = {"count": 3, "nested": {"a": 1}}
    payload["class"] = "latency"

    event = parse_pagerduty(dumps(body), AT)

    assert [(link.href, link.text) for link in event.links] == [("http://runbook", "runbook")]
    assert event.images[0].src == "http://graph.png"
    assert dict(event.custom_details) == {"count": "3", "nested": '{"a": 1}'}
    assert event.event_class == "latency"


def _pd_without(**changes: object) -> bytes:
    body = pagerduty_body()
    payload = body["payload"]
    assert isinstance(payload, dict)
    for key, value in changes.items():
        target = payload if key in ("summary", "source", "severity") else body
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    return dumps(body)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (_pd_without(routing_key=None), "routing_key"),
        (_pd_without(event_action="page"), "event_action"),
        (_pd_without(event_action="resolve", dedup_key=None), "dedup_key"),
        (_pd_without(severity="page"), "severity"),
        (_pd_without(summary=None), "summary"),
        (_pd_without(source=None), "source"),
        (_pd_without(payload="text"), "payload"),
        (b"[1, 2]", "JSON object"),
    ],
)
def test_pagerduty_rejects_what_pagerduty_rejects(body: bytes, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        parse_pagerduty(body, AT)


# -- webhook ------------------------------------------------------------------------


def test_webhook_v4_from_alertmanager() -> None:
    headers = {"Authorization": "Bearer s3cret", "content-type": "application/json"}
    delivery = parse_webhook("incident", dumps(webhook_body()), headers, AT)

    assert (delivery.name, delivery.version, delivery.receiver, delivery.status) == (
        "incident",
        "4",
        "critical",
        "firing",
    )
    assert delivery.group_key == '{}:{alertname="HighErrorRate"}'
    assert delivery.common_labels == {
        "alertname": "HighErrorRate",
        "service": "backend",
        "severity": "critical",
    }
    (alert,) = delivery.alerts
    assert (alert.alertname, alert.status, alert.fingerprint) == (
        "HighErrorRate",
        "firing",
        "57d7fae278411949",
    )
    assert alert.starts_at == datetime(2026, 11, 28, 5, 26, 10, 854208, tzinfo=UTC)
    assert alert.ends_at is None  # Go's zero time
    assert (delivery.has_authorization, delivery.authorization_scheme) == (True, "Bearer")
    assert delivery.content_type == "application/json"
    assert "s3cret" not in repr(delivery)
    (view,) = delivery.notifications()
    assert (view.receiver, view.alertname, view.alertnames) == (
        "webhook:incident",
        "HighErrorRate",
        ("HighErrorRate",),
    )


def test_webhook_resolved_and_without_authorization() -> None:
    delivery = parse_webhook("incident", dumps(webhook_body("resolved")), {}, AT)

    assert delivery.status == "resolved"
    assert delivery.alerts[0].ends_at == datetime(2026, 11, 28, 5, 26, 39, 876621, tzinfo=UTC)
    assert (delivery.has_authorization, delivery.authorization_scheme) == (False, "")


def test_webhook_group_of_several_alertnames() -> None:
    body = webhook_body()
    alerts = body["alerts"]
    assert isinstance(alerts, list)
    other = json.loads(json.dumps(alerts[0]))
    other["labels"]["alertname"] = "HighLatency"
    body["alerts"] = [*alerts, other]
    body["commonLabels"] = {"service": "backend"}

    delivery = parse_webhook("ops", dumps(body), {}, AT)

    assert delivery.alertnames == ("HighErrorRate", "HighLatency")
    assert delivery.alertname == "HighErrorRate"
    assert delivery.notifications()[0].alertnames == ("HighErrorRate", "HighLatency")


def _webhook_with(**changes: object) -> bytes:
    body = webhook_body()
    body.update(changes)
    return dumps(body)


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b'{"status": "firing"}',
        _webhook_with(status="pending"),
        _webhook_with(alerts={"a": 1}),
        _webhook_with(alerts=[{"status": "firing", "labels": {"a": 1}}]),
        _webhook_with(alerts=[{"status": "firing", "startsAt": "yesterday"}]),
        _webhook_with(commonLabels=["alertname"]),
        _webhook_with(truncatedAlerts="0"),
        b"null",
    ],
)
def test_malformed_webhooks_raise_payload_error(body: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_webhook("incident", body, {}, AT)


# -- email ---------------------------------------------------------------------------


def test_email_as_alertmanager_sends_it() -> None:
    email = parse_email(
        "alertmanager@example.com",
        ["DB-Team@example.com", "oncall@example.com"],
        EMAIL,
        AT,
        auth_login="alertmanager",
    )

    assert email.subject == "[FIRING:2] DatabaseDown (db critical)"
    assert (email.status, email.firing_count, email.alertname) == ("firing", 2, "DatabaseDown")
    # The CRLF before a boundary belongs to the boundary, not to the part.
    assert email.text == "DatabaseDown: PostgreSQL is unreachable — page the database team"
    assert email.html == (
        '<html xmlns="http://www.w3.org/1999/xhtml"><title>[FIRING:2] DatabaseDown</title></html>'
    )
    assert email.header_to == "DB-Team@example.com"
    assert email.message_id.startswith("<1795843600865510936.")
    assert [n.receiver for n in email.notifications()] == [
        "email:db-team@example.com",
        "email:oncall@example.com",
    ]


def test_email_with_only_html_and_an_encoded_subject() -> None:
    data = (
        b"Subject: =?utf-8?q?=5BRESOLVED=5D_DiskLow_=E2=80=94_node1?=\r\n"
        b"Content-Type: text/html; charset=UTF-8\r\n\r\n<p>ok</p>\r\n"
    )
    email = parse_email("a@example.com", ["b@example.com"], data, AT)

    assert email.subject == "[RESOLVED] DiskLow — node1"
    assert (email.status, email.alertname, email.text, email.html) == (
        "resolved",
        "DiskLow",
        "",
        "<p>ok</p>\n",
    )


# -- Sentry ---------------------------------------------------------------------------

SENTRY_EVENT: dict[str, object] = {
    "event_id": "f" * 32,
    "level": "error",
    "platform": "python",
    "environment": "drill",
    "release": "service@1.2.3",
    "server_name": "backend",
    "transaction": "/api/orders",
    "exception": {
        "values": [
            {"type": "OSError", "value": "connection refused", "module": None},
            {
                "type": "OperationalError",
                "value": "database is down",
                "module": "psycopg",
                "mechanism": {"type": "fastapi", "handled": False},
            },
        ]
    },
    "tags": {"team": "database", "request_id": "r-1"},
    "user": {"id": 42, "email": "u@example.com"},
    "breadcrumbs": {
        "values": [
            {
                "type": "default",
                "category": "db",
                "message": "SELECT 1",
                "level": "info",
                "timestamp": "2026-11-28T05:26:10.000000Z",
                "data": {"rows": 1},
            }
        ]
    },
    "request": {
        "method": "POST",
        "url": "http://backend/api/orders",
        "query_string": "page=2",
        "headers": {"User-Agent": "locust"},
    },
    "contexts": {"runtime": {"name": "CPython", "version": "3.11.9"}},
}


def test_sentry_event_fields() -> None:
    event = parse_sentry_event("1", SENTRY_EVENT, public_key="public", arrival=AT)

    assert (event.exception_type, event.exception_value) == ("OperationalError", "database is down")
    assert [e.type for e in event.exceptions] == ["OSError", "OperationalError"]
    assert (event.exceptions[-1].mechanism, event.exceptions[-1].handled) == ("fastapi", False)
    assert dict(event.tags) == {"team": "database", "request_id": "r-1"}
    assert event.user is not None
    assert (event.user.id, event.user.email, event.user.username) == ("42", "u@example.com", "")
    (crumb,) = event.breadcrumbs
    assert (crumb.category, crumb.message, dict(crumb.data)) == ("db", "SELECT 1", {"rows": "1"})
    assert event.request is not None
    assert (event.request.method, event.request.query_string) == ("POST", "page=2")
    assert event.request.headers["User-Agent"] == "locust"
    assert event.context("runtime") == {"name": "CPython", "version": "3.11.9"}
    assert event.context("missing") is None
    assert (event.environment, event.release, event.transaction) == (
        "drill",
        "service@1.2.3",
        "/api/orders",
    )


def test_sentry_message_event_and_logentry() -> None:
    plain = parse_sentry_event("1", {"event_id": "a" * 32, "message": "hi"}, arrival=AT)
    logentry = parse_sentry_event(
        "1", {"logentry": {"message": "%s failed", "formatted": "job failed"}}, arrival=AT
    )

    assert (plain.message, plain.level, plain.exception_type, plain.user) == (
        "hi",
        "error",
        "",
        None,
    )
    assert logentry.message == "job failed"


def test_sentry_envelope_keeps_only_events() -> None:
    envelope = Envelope(headers={"event_id": "f" * 32})
    envelope.add_item(Item(payload=PayloadRef(json=SENTRY_EVENT), type="event"))
    envelope.add_item(Item(payload=PayloadRef(bytes=b'{"sid":"s"}'), type="session"))
    envelope.add_item(Item(payload=PayloadRef(json={"type": "transaction"}), type="transaction"))

    (event,) = parse_sentry_envelope("1", envelope.serialize(), public_key="k", arrival=AT)

    assert (event.event_id, event.public_key, event.exception_type) == (
        "f" * 32,
        "k",
        "OperationalError",
    )


@pytest.mark.parametrize(
    "body",
    [
        b"not json\n",
        b'{}\n{"type":"event","length":5}\n{"a":\n',
        b'{}\n{"type":"event","length":"x"}\n{}\n',
        b'{}\n{"type":"event"}\n[1,2]\n',
    ],
)
def test_malformed_sentry_envelopes_raise_payload_error(body: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_sentry_envelope("1", body, arrival=AT)


@pytest.mark.parametrize(
    ("encoding", "encoded"),
    [
        ("", b"hello"),
        ("identity", b"hello"),
        ("gzip", gzip.compress(b"hello", mtime=0)),
        ("br", brotli.compress(b"hello")),
        ("deflate", zlib.compress(b"hello")),
        ("deflate", zlib.compress(b"hello", wbits=-zlib.MAX_WBITS)),  # raw deflate
        ("gzip, br", brotli.compress(gzip.compress(b"hello", mtime=0))),
    ],
)
def test_decode_body(encoding: str, encoded: bytes) -> None:
    assert decode_body(encoded, encoding) == b"hello"


@pytest.mark.parametrize(("encoding", "body"), [("zstd", b"x"), ("gzip", b"x"), ("br", b"x")])
def test_decode_body_refuses_unknown_or_corrupt(encoding: str, body: bytes) -> None:
    with pytest.raises(PayloadError):
        decode_body(body, encoding)


def test_sentry_key_from_header_or_query() -> None:
    header = {"X-Sentry-Auth": "Sentry sentry_version=7, sentry_key=public, sentry_client=x"}
    assert sentry_key(header, "") == "public"
    assert sentry_key({}, "sentry_version=7&sentry_key=abc") == "abc"
    assert sentry_key({}, "") == ""


# -- values -----------------------------------------------------------------------------


def test_frozen_map_is_an_immutable_hashable_mapping() -> None:
    labels = FrozenMap({"b": "2", "a": "1"})

    assert labels == {"a": "1", "b": "2"}
    assert list(labels) == ["a", "b"]
    assert hash(labels) == hash(FrozenMap([("a", "1"), ("b", "2")]))
    assert labels != FrozenMap({"a": "1"})
    with pytest.raises(TypeError):
        labels["c"] = "3"  # type: ignore[index]


def test_records_are_frozen_and_hashable() -> None:
    delivery = parse_webhook("incident", dumps(webhook_body()), {}, AT)
    with pytest.raises(dataclasses.FrozenInstanceError):
        delivery.status = "resolved"  # type: ignore[misc]
    assert len({delivery, parse_webhook("incident", dumps(webhook_body()), {}, AT)}) == 1
