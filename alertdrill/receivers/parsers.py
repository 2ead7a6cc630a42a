"""Alertmanager's notification payloads → records: Slack, PagerDuty v2, webhook v4, email.

The formats are those of Alertmanager 0.25's notifiers (notify/slack,
notify/pagerduty, notify/webhook, notify/email). A body an integration would
reject raises ``PayloadError``; the sink turns that into the integration's own
error status and an ``UnexpectedRequest``, never into a crashed server.
"""

from __future__ import annotations

import email.policy
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.message import EmailMessage
from email.parser import BytesParser

from alertdrill.receivers.records import (
    AlertRecord,
    Arrival,
    Email,
    FrozenMap,
    PagerDutyAction,
    PagerDutyEvent,
    PagerDutyImage,
    PagerDutyLink,
    PayloadError,
    SlackMessage,
    Status,
    WebhookDelivery,
    parse_subject,
)

__all__ = ["parse_email", "parse_pagerduty", "parse_slack", "parse_webhook"]

# PagerDuty rejects (HTTP 400) a trigger whose severity is not one of these.
_PD_SEVERITIES = frozenset({"critical", "error", "warning", "info"})
_PD_ACTIONS: Mapping[str, PagerDutyAction] = {
    "trigger": "trigger",
    "resolve": "resolve",
    "acknowledge": "acknowledge",
}
# Go's zero time.Time ("0001-01-01T00:00:00Z"): Alertmanager's endsAt when unset.
_GO_ZERO_TIME_YEAR = 1


def parse_slack(name: str, body: bytes, arrival: Arrival | None = None) -> SlackMessage:
    """Parse what Alertmanager's slack notifier posts (one attachment with the title)."""
    at = arrival or Arrival.now()
    obj = _load_object(body, "slack message")
    attachments = _get_list(obj, "attachments", "slack message")
    first = _as_object(attachments[0], "slack attachment") if attachments else {}
    title = _get_str(first, "title", "slack attachment")
    text = _get_str(first, "text", "slack attachment") or _get_str(obj, "text", "slack message")
    fallback = _get_str(first, "fallback", "slack attachment")
    if not (title or text or fallback):
        # Slack itself answers 400 "no_text" to a message with nothing to show.
        raise PayloadError("slack message: no_text (no title, text or fallback)")
    subject = parse_subject(title or fallback or text)
    return SlackMessage(
        name=name,
        channel=_get_str(obj, "channel", "slack message"),
        username=_get_str(obj, "username", "slack message"),
        status=subject.status,
        firing_count=subject.firing_count,
        alertname=subject.alertname,
        title=title,
        text=text,
        fallback=fallback,
        color=_get_str(first, "color", "slack attachment"),
        arrived_at=at.arrived_at,
        wall_time=at.wall_time,
        raw=_text(body),
    )


def parse_pagerduty(body: bytes, arrival: Arrival | None = None) -> PagerDutyEvent:
    """Parse and validate an Events API v2 event the way PagerDuty does (else 400)."""
    at = arrival or Arrival.now()
    obj = _load_object(body, "pagerduty event")
    routing_key = _get_str(obj, "routing_key", "pagerduty event")
    if not routing_key:
        raise PayloadError("pagerduty event: routing_key is missing (v1 service_key event?)")
    action = _PD_ACTIONS.get(_get_str(obj, "event_action", "pagerduty event"))
    if action is None:
        raise PayloadError(f"pagerduty event: invalid event_action {obj.get('event_action')!r}")
    dedup_key = _get_str(obj, "dedup_key", "pagerduty event")
    if action != "trigger" and not dedup_key:
        raise PayloadError(f"pagerduty event: {action} without dedup_key")
    payload = _get_object(obj, "payload", "pagerduty event")
    summary = _get_str(payload, "summary", "pagerduty payload")
    source = _get_str(payload, "source", "pagerduty payload")
    severity = _get_str(payload, "severity", "pagerduty payload")
    if action == "trigger":
        missing = [k for k, v in (("summary", summary), ("source", source)) if not v]
        if missing:
            raise PayloadError(f"pagerduty event: payload.{', payload.'.join(missing)} missing")
        if severity not in _PD_SEVERITIES:
            raise PayloadError(
                f"pagerduty event: payload.severity {severity!r} is not one of "
                f"{sorted(_PD_SEVERITIES)}"
            )
    links = tuple(
        PagerDutyLink(href=_get_str(link, "href", "link"), text=_get_str(link, "text", "link"))
        for link in (_as_object(x, "pagerduty link") for x in _get_list(obj, "links", "event"))
    )
    images = tuple(
        PagerDutyImage(
            src=_get_str(image, "src", "image"),
            href=_get_str(image, "href", "image"),
            alt=_get_str(image, "alt", "image"),
        )
        for image in (_as_object(x, "pagerduty image") for x in _get_list(obj, "images", "event"))
    )
    return PagerDutyEvent(
        routing_key=routing_key,
        event_action=action,
        dedup_key=dedup_key,
        summary=summary,
        source=source,
        severity=severity,
        component=_get_str(payload, "component", "pagerduty payload"),
        group=_get_str(payload, "group", "pagerduty payload"),
        event_class=_get_str(payload, "class", "pagerduty payload"),
        custom_details=_loose_map(payload.get("custom_details"), "custom_details"),
        client=_get_str(obj, "client", "pagerduty event"),
        client_url=_get_str(obj, "client_url", "pagerduty event"),
        links=links,
        images=images,
        alertname=parse_subject(summary).alertname,
        arrived_at=at.arrived_at,
        wall_time=at.wall_time,
        raw=_text(body),
    )


def parse_webhook(
    name: str,
    body: bytes,
    headers: Mapping[str, str],
    arrival: Arrival | None = None,
    *,
    forwarded_status: int | None = None,
) -> WebhookDelivery:
    """Parse an Alertmanager webhook v4 payload; ``headers`` keys are matched case-insensitively."""
    at = arrival or Arrival.now()
    lower = {k.lower(): v for k, v in headers.items()}
    obj = _load_object(body, "webhook payload")
    if "alerts" not in obj or "status" not in obj:
        raise PayloadError("webhook payload: not Alertmanager's (no 'alerts' or 'status')")
    alerts = tuple(_parse_alert(x) for x in _get_list(obj, "alerts", "webhook payload"))
    authorization = lower.get("authorization", "")
    truncated = obj.get("truncatedAlerts", 0)
    if not isinstance(truncated, int):
        raise PayloadError(f"webhook payload: truncatedAlerts {truncated!r} is not an integer")
    return WebhookDelivery(
        name=name,
        version=_get_str(obj, "version", "webhook payload"),
        status=_status(obj.get("status"), "webhook payload"),
        receiver=_get_str(obj, "receiver", "webhook payload"),
        group_key=_get_str(obj, "groupKey", "webhook payload"),
        group_labels=_str_map(obj.get("groupLabels"), "groupLabels"),
        common_labels=_str_map(obj.get("commonLabels"), "commonLabels"),
        common_annotations=_str_map(obj.get("commonAnnotations"), "commonAnnotations"),
        external_url=_get_str(obj, "externalURL", "webhook payload"),
        truncated_alerts=truncated,
        alerts=alerts,
        has_authorization=bool(authorization),
        authorization_scheme=authorization.split(" ", 1)[0] if authorization else "",
        content_type=lower.get("content-type", ""),
        user_agent=lower.get("user-agent", ""),
        forwarded_status=forwarded_status,
        arrived_at=at.arrived_at,
        wall_time=at.wall_time,
        raw=_text(body),
    )


def _parse_alert(value: object) -> AlertRecord:
    alert = _as_object(value, "webhook alert")
    return AlertRecord(
        status=_status(alert.get("status"), "webhook alert"),
        labels=_str_map(alert.get("labels"), "alert labels"),
        annotations=_str_map(alert.get("annotations"), "alert annotations"),
        starts_at=_timestamp(alert.get("startsAt"), "startsAt"),
        ends_at=_timestamp(alert.get("endsAt"), "endsAt"),
        generator_url=_get_str(alert, "generatorURL", "webhook alert"),
        fingerprint=_get_str(alert, "fingerprint", "webhook alert"),
    )


# -- JSON helpers (shared with sentry.py) ---------------------------------------


def _text(body: bytes) -> str:
    return body.decode("utf-8", "replace")


def _load_object(body: bytes | str, what: str) -> dict[str, object]:
    try:
        value = json.loads(body)
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
        raise PayloadError(f"{what}: not JSON ({error})") from error
    return _as_object(value, what)


def _as_object(value: object, what: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise PayloadError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def _get_object(obj: Mapping[str, object], key: str, what: str) -> dict[str, object]:
    value = obj.get(key)
    return {} if value is None else _as_object(value, f"{what}.{key}")


def _get_list(obj: Mapping[str, object], key: str, what: str) -> list[object]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"{what}.{key}: expected a list, got {type(value).__name__}")
    return value


def _get_str(obj: Mapping[str, object], key: str, what: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PayloadError(f"{what}.{key}: expected a string, got {type(value).__name__}")
    return value


def _scalar_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _str_map(value: object, what: str) -> FrozenMap:
    """A JSON object of strings (labels, annotations); anything else is malformed."""
    if value is None:
        return FrozenMap()
    obj = _as_object(value, what)
    for key, item in obj.items():
        if not isinstance(item, str):
            raise PayloadError(f"{what}.{key}: expected a string, got {type(item).__name__}")
    return FrozenMap((k, str(v)) for k, v in obj.items())


def _loose_map(value: object, what: str) -> FrozenMap:
    """An object or list of [key, value] pairs; non-string values kept as JSON text."""
    if value is None:
        return FrozenMap()
    if isinstance(value, list):
        pairs: list[tuple[str, str]] = []
        for item in value:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
                raise PayloadError(f"{what}: expected [key, value] pairs, got {item!r}")
            pairs.append((item[0], _scalar_text(item[1])))
        return FrozenMap(pairs)
    return FrozenMap((k, _scalar_text(v)) for k, v in _as_object(value, what).items())


def _status(value: object, what: str) -> Status:
    if value == "firing":
        return "firing"
    if value == "resolved":
        return "resolved"
    raise PayloadError(f"{what}: status {value!r} is neither 'firing' nor 'resolved'")


def _timestamp(value: object, what: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{what}: expected an RFC 3339 string, got {value!r}")
    try:
        # 3.11's fromisoformat takes "Z" and Go's nanoseconds (truncated to µs).
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise PayloadError(f"{what}: not an RFC 3339 time: {value!r}") from error
    return None if parsed.year == _GO_ZERO_TIME_YEAR else parsed


def parse_email(
    mail_from: str,
    rcpt_tos: Sequence[str],
    data: bytes,
    arrival: Arrival | None = None,
    *,
    auth_login: str = "",
) -> Email:
    """Parse a message as received over SMTP (Alertmanager sends multipart/alternative)."""
    at = arrival or Arrival.now()
    try:
        message = BytesParser(policy=email.policy.default).parsebytes(data)
    except Exception as error:  # the parser is lenient; anything raised means garbage
        raise PayloadError(f"email: not a MIME message ({error})") from error
    if not isinstance(message, EmailMessage):  # always true with policy.default
        raise PayloadError("email: not a MIME message")
    subject = str(message.get("Subject", ""))
    parsed = parse_subject(subject)
    return Email(
        mail_from=mail_from,
        rcpt_tos=tuple(r.lower() for r in rcpt_tos),
        header_from=str(message.get("From", "")),
        header_to=str(message.get("To", "")),
        subject=subject,
        text=_part(message, "plain"),
        html=_part(message, "html"),
        message_id=str(message.get("Message-Id", "")),
        status=parsed.status,
        firing_count=parsed.firing_count,
        alertname=parsed.alertname,
        auth_login=auth_login,
        arrived_at=at.arrived_at,
        wall_time=at.wall_time,
        raw=_text(data),
    )


def _part(message: EmailMessage, subtype: str) -> str:
    body = message.get_body(preferencelist=(subtype,))
    if body is None or body.get_content_subtype() != subtype:
        return ""
    content = body.get_content()
    text = content if isinstance(content, str) else _text(bytes(content))
    return text.replace("\r\n", "\n")  # SMTP's line endings are transport, not content
