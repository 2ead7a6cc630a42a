"""What the receivers got, as frozen records (the parsers live in parsers.py and sentry.py).

One record per delivery: ``SlackMessage`` (Slack incoming webhook),
``PagerDutyEvent`` (Events API v2), ``WebhookDelivery`` (Alertmanager webhook
v4), ``Email`` (SMTP) and ``SentryEvent`` (Sentry envelope/store). Requests
that match no integration, or that an integration would reject, become
``UnexpectedRequest`` so a misrouted or misconfigured receiver is visible.

Every alert notification also has the common ``Notification`` view, so an
expectation can compare exact receiver sets ("slack:#alerts-critical",
"pagerduty:<routing key>", "webhook:incident", "email:db-team@example.com").

Status and alertname of Slack, PagerDuty and email come from the subject line:
Alertmanager's default ``__subject`` template and the harness's own templates
both start with ``[FIRING:<n>] <alertname>`` or ``[RESOLVED] <alertname>``.
(The default template prints the group labels' values, alertname first, so the
first word is the alertname whenever the route groups by it.)

Each record keeps the raw body as text (``raw``, out of repr and equality) for
debugging; every other field is typed.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

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
    "parse_subject",
]

Status = Literal["firing", "resolved", "unknown"]
NotificationKind = Literal["slack", "pagerduty", "webhook", "email"]
PagerDutyAction = Literal["trigger", "resolve", "acknowledge"]

_SUBJECT = re.compile(
    r"^\s*\[(?:FIRING:(?P<count>\d+)|(?P<resolved>RESOLVED))\]\s*(?P<alertname>[^\s()]*)"
)


class PayloadError(ValueError):
    """A body that is not what the integration it was sent to accepts."""


class FrozenMap(Mapping[str, str]):
    """An immutable, hashable str→str mapping (labels, annotations, tags).

    Compares equal to any mapping with the same items, so
    ``alert.labels == {"alertname": "HighErrorRate"}`` reads naturally.
    """

    __slots__ = ("_data", "_hash")

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        self._data: dict[str, str] = dict(sorted(pairs))
        self._hash: int | None = None

    def __getitem__(self, key: str) -> str:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(tuple(self._data.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


@dataclass(frozen=True)
class Arrival:
    """When a delivery arrived: monotonic (for latencies) and wall clock (for reports)."""

    arrived_at: float
    wall_time: float

    @classmethod
    def now(cls) -> Arrival:
        return cls(arrived_at=time.monotonic(), wall_time=time.time())


@dataclass(frozen=True)
class Subject:
    """``[FIRING:2] HighErrorRate ...`` → status, firing count and alertname."""

    status: Status
    firing_count: int
    alertname: str


def parse_subject(text: str) -> Subject:
    """Status, firing count and alertname from a title/subject; "unknown" if no prefix."""
    match = _SUBJECT.match(text)
    if match is None:
        return Subject(status="unknown", firing_count=0, alertname="")
    if match.group("resolved"):
        return Subject(status="resolved", firing_count=0, alertname=match.group("alertname"))
    return Subject(
        status="firing", firing_count=int(match.group("count")), alertname=match.group("alertname")
    )


@dataclass(frozen=True)
class Notification:
    """The receiver-independent view of one alert notification.

    ``receiver`` is ``<kind>:<channel|routing key|webhook name|address>``;
    ``alertnames`` lists every alertname of the group when the payload says
    (webhook), else just ``alertname``.
    """

    kind: NotificationKind
    receiver: str
    alertname: str
    status: Status
    arrived_at: float
    alertnames: tuple[str, ...] = ()


# -- Slack ------------------------------------------------------------------


@dataclass(frozen=True)
class SlackMessage:
    """One Slack incoming-webhook post (Alertmanager ``slack_configs``)."""

    name: str  # the <name> of POST /slack/<name>: which webhook URL was used
    channel: str
    username: str
    status: Status
    firing_count: int
    alertname: str
    title: str
    text: str
    fallback: str
    color: str
    arrived_at: float
    wall_time: float
    raw: str = field(default="", repr=False, compare=False)

    @property
    def receiver(self) -> str:
        """``slack:#channel``; a webhook without channel posts to its own, named by the URL."""
        return f"slack:{self.channel or self.name}"

    def notifications(self) -> tuple[Notification, ...]:
        return (
            Notification(
                "slack", self.receiver, self.alertname, self.status, self.arrived_at,
                (self.alertname,),
            ),
        )  # fmt: skip


# -- PagerDuty --------------------------------------------------------------


@dataclass(frozen=True)
class PagerDutyLink:
    href: str
    text: str


@dataclass(frozen=True)
class PagerDutyImage:
    src: str
    href: str
    alt: str


@dataclass(frozen=True)
class PagerDutyEvent:
    """One PagerDuty Events API v2 event (Alertmanager ``pagerduty_configs``)."""

    routing_key: str
    event_action: PagerDutyAction
    dedup_key: str
    summary: str
    source: str
    severity: str
    component: str
    group: str
    event_class: str  # payload.class
    custom_details: FrozenMap
    client: str
    client_url: str
    links: tuple[PagerDutyLink, ...]
    images: tuple[PagerDutyImage, ...]
    alertname: str  # from the summary, which Alertmanager renders from __subject
    arrived_at: float
    wall_time: float
    raw: str = field(default="", repr=False, compare=False)

    @property
    def status(self) -> Status:
        if self.event_action == "trigger":
            return "firing"
        return "resolved" if self.event_action == "resolve" else "unknown"

    @property
    def receiver(self) -> str:
        return f"pagerduty:{self.routing_key}"

    def notifications(self) -> tuple[Notification, ...]:
        return (
            Notification(
                "pagerduty", self.receiver, self.alertname, self.status, self.arrived_at,
                (self.alertname,),
            ),
        )  # fmt: skip


# -- Webhook ----------------------------------------------------------------


@dataclass(frozen=True)
class AlertRecord:
    """One alert of a webhook v4 payload."""

    status: Status
    labels: FrozenMap
    annotations: FrozenMap
    starts_at: datetime | None
    ends_at: datetime | None  # None for Go's zero time (no end yet)
    generator_url: str
    fingerprint: str

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")


@dataclass(frozen=True)
class WebhookDelivery:
    """One Alertmanager webhook (v4) post to ``/webhook/<name>``."""

    name: str
    version: str
    status: Status
    receiver: str  # Alertmanager's receiver name, from the payload
    group_key: str
    group_labels: FrozenMap
    common_labels: FrozenMap
    common_annotations: FrozenMap
    external_url: str
    truncated_alerts: int
    alerts: tuple[AlertRecord, ...]
    has_authorization: bool
    authorization_scheme: str  # "Bearer", "Basic", "" (the credentials are not kept)
    content_type: str
    user_agent: str
    forwarded_status: int | None  # upstream's status when forwarded; None: not (yet) answered
    arrived_at: float
    wall_time: float
    raw: str = field(default="", repr=False, compare=False)

    @property
    def alertnames(self) -> tuple[str, ...]:
        return tuple(sorted({a.alertname for a in self.alerts if a.alertname}))

    @property
    def alertname(self) -> str:
        common = self.common_labels.get("alertname", "")
        names = self.alertnames
        return common or (names[0] if names else "")

    def notifications(self) -> tuple[Notification, ...]:
        return (
            Notification(
                "webhook", f"webhook:{self.name}", self.alertname, self.status, self.arrived_at,
                self.alertnames,
            ),
        )  # fmt: skip


# -- Email, Sentry and the rest ---------------------------------------------


@dataclass(frozen=True)
class Email:
    """One message accepted over SMTP (Alertmanager ``email_configs``)."""

    mail_from: str  # SMTP envelope
    rcpt_tos: tuple[str, ...]  # SMTP envelope, lower-cased
    header_from: str
    header_to: str
    subject: str
    text: str  # the text/plain part ("" when the config has no `text`)
    html: str  # the text/html part
    message_id: str
    status: Status
    firing_count: int
    alertname: str
    auth_login: str  # the SMTP AUTH user the client logged in as ("" if none)
    arrived_at: float
    wall_time: float
    raw: str = field(default="", repr=False, compare=False)

    def notifications(self) -> tuple[Notification, ...]:
        return tuple(
            Notification(
                "email", f"email:{rcpt}", self.alertname, self.status, self.arrived_at,
                (self.alertname,),
            )
            for rcpt in self.rcpt_tos
        )  # fmt: skip


@dataclass(frozen=True)
class SentryException:
    """One entry of ``exception.values`` (the SDK lists the outermost last)."""

    type: str
    value: str
    module: str
    mechanism: str  # mechanism.type, e.g. "generic", "fastapi"
    handled: bool | None


@dataclass(frozen=True)
class SentryUser:
    id: str
    email: str
    username: str
    ip_address: str


@dataclass(frozen=True)
class Breadcrumb:
    type: str
    category: str
    message: str
    level: str
    timestamp: str
    data: FrozenMap  # non-string values as JSON text


@dataclass(frozen=True)
class SentryRequest:
    method: str
    url: str
    query_string: str
    headers: FrozenMap


@dataclass(frozen=True)
class SentryEvent:
    """One error or message event sent by a Sentry SDK to the sink's DSN."""

    project_id: str
    public_key: str  # sentry_key of the DSN the SDK used
    content_encoding: str  # how the body came compressed ("gzip", "br", "" ...)
    event_id: str
    level: str
    message: str  # message / logentry.formatted, "" for exceptions without one
    exception_type: str  # of the outermost exception, "" when none
    exception_value: str
    exceptions: tuple[SentryException, ...]
    tags: FrozenMap
    user: SentryUser | None
    breadcrumbs: tuple[Breadcrumb, ...]
    request: SentryRequest | None
    environment: str
    release: str
    platform: str
    server_name: str
    transaction: str
    logger: str
    contexts_json: str  # the free-form "contexts" object, as JSON text
    arrived_at: float
    wall_time: float
    raw: str = field(default="", repr=False, compare=False)

    def context(self, name: str) -> object:
        """One context ("runtime", "trace", ...) decoded from JSON, None when absent."""
        contexts: object = json.loads(self.contexts_json or "{}")
        return contexts.get(name) if isinstance(contexts, dict) else None


@dataclass(frozen=True)
class UnexpectedRequest:
    """A request no integration accepts (unknown path, malformed body, bad credentials)."""

    protocol: Literal["http", "smtp"]
    method: str
    path: str
    status: int  # what the sink replied
    reason: str
    content_type: str
    body: str  # the start of the body, for the failure message
    arrived_at: float
    wall_time: float


@dataclass(frozen=True)
class InjectedFailure:
    """A request the sink failed on purpose (``fail_next``), to exercise retries."""

    path: str
    status: int
    arrived_at: float
    wall_time: float


Record = (
    SlackMessage
    | PagerDutyEvent
    | WebhookDelivery
    | Email
    | SentryEvent
    | UnexpectedRequest
    | InjectedFailure
)
