"""Real endpoints for Alertmanager's integrations and the Sentry SDK, as typed records.

``Receivers`` starts one HTTP sink (Slack, PagerDuty Events v2, generic
webhooks, Sentry) and one SMTP sink on 127.0.0.1, and keeps every delivery as a
frozen record; ``notifications()`` gives the receiver-independent view that
expectations compare.
"""

from __future__ import annotations

from alertdrill.receivers.hub import Receivers
from alertdrill.receivers.parsers import parse_email, parse_pagerduty, parse_slack, parse_webhook
from alertdrill.receivers.records import (
    AlertRecord,
    Arrival,
    Breadcrumb,
    Email,
    FrozenMap,
    InjectedFailure,
    Notification,
    NotificationKind,
    PagerDutyAction,
    PagerDutyEvent,
    PagerDutyImage,
    PagerDutyLink,
    PayloadError,
    Record,
    SentryEvent,
    SentryException,
    SentryRequest,
    SentryUser,
    SlackMessage,
    Status,
    Subject,
    UnexpectedRequest,
    WebhookDelivery,
    parse_subject,
)
from alertdrill.receivers.sentry import (
    decode_body,
    parse_sentry_envelope,
    parse_sentry_event,
    parse_sentry_store,
)

__all__ = [
    "AlertRecord",
    "Arrival",
    "Breadcrumb",
    "Email",
    "FrozenMap",
    "InjectedFailure",
    "Notification",
    "NotificationKind",
    "PagerDutyAction",
    "PagerDutyEvent",
    "PagerDutyImage",
    "PagerDutyLink",
    "PayloadError",
    "Receivers",
    "Record",
    "SentryEvent",
    "SentryException",
    "SentryRequest",
    "SentryUser",
    "SlackMessage",
    "Status",
    "Subject",
    "UnexpectedRequest",
    "WebhookDelivery",
    "decode_body",
    "parse_email",
    "parse_pagerduty",
    "parse_sentry_envelope",
    "parse_sentry_event",
    "parse_sentry_store",
    "parse_slack",
    "parse_subject",
    "parse_webhook",
]
