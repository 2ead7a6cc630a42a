"""``Receivers``: both sinks, their URLs, and the store of everything they got."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Self, TypeVar

from alertdrill.errors import ExpectationFailed
from alertdrill.receivers.http_sink import HttpSink
from alertdrill.receivers.records import (
    Email,
    InjectedFailure,
    Notification,
    PagerDutyEvent,
    Record,
    SentryEvent,
    SlackMessage,
    UnexpectedRequest,
    WebhookDelivery,
)
from alertdrill.receivers.smtp_sink import SmtpSink
from alertdrill.stack.ports import LOCALHOST
from alertdrill.timing import Deadline, eventually, parse_duration

__all__ = ["Receivers"]

T = TypeVar("T")
R = TypeVar("R")

# eventually() sleeps this long between checks; our check itself blocks until
# a record arrives, so this only re-arms the wait and must stay tiny.
_REARM = 0.001


class Receivers:
    """The HTTP sink (Slack, PagerDuty, webhooks, Sentry) and the SMTP sink, started together.

    Records are kept in arrival order until ``clear()``. Use as a context
    manager, or ``start()``/``stop()``; ``stop()`` joins every thread, closes
    every socket and releases both ports, and a stopped hub can start again.
    """

    def __init__(
        self,
        *,
        smtp_username: str | None = "alertmanager",
        smtp_password: str | None = None,
        host: str = LOCALHOST,
        forward_timeout: float = 10.0,
    ) -> None:
        if smtp_username is not None and smtp_password is None:
            smtp_password = secrets.token_urlsafe(18)  # per run; read it from .smtp_password
        self._changed = threading.Condition()
        self._records: list[Record] = []
        self._version = 0
        self._http = HttpSink(
            self._add, on_replace=self._replace, host=host, forward_timeout=forward_timeout
        )
        self._smtp = SmtpSink(self._add, username=smtp_username, password=smtp_password, host=host)
        self._smtp_username = smtp_username
        self._smtp_password = smtp_password
        self._running = False

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> Self:
        if self._running:
            return self
        self._http.start()
        try:
            self._smtp.start()
        except BaseException:
            self._http.stop()
            raise
        self._running = True
        return self

    def stop(self) -> None:
        """Stop both sinks (idempotent); the records stay readable."""
        self._running = False
        try:
            self._http.stop()
        finally:
            self._smtp.stop()

    @property
    def running(self) -> bool:
        return self._running

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- where integrations send -----------------------------------------------

    @property
    def http_url(self) -> str:
        return self._http.url

    @property
    def http_port(self) -> int:
        return self._http.port

    @property
    def smtp_host(self) -> str:
        return self._smtp.host

    @property
    def smtp_port(self) -> int:
        return self._smtp.port

    @property
    def smtp_smarthost(self) -> str:
        """``host:port`` for Alertmanager's ``smarthost``."""
        return f"{self.smtp_host}:{self.smtp_port}"

    @property
    def smtp_username(self) -> str | None:
        return self._smtp_username

    @property
    def smtp_password(self) -> str | None:
        return self._smtp_password

    def sentry_dsn(self, project_id: int = 1, public_key: str = "public") -> str:
        port = self._http.port
        return f"http://{public_key}@{LOCALHOST}:{port}/{project_id}"

    def slack_url(self, name: str) -> str:
        return f"{self.http_url}/slack/{name}"

    @property
    def pagerduty_url(self) -> str:
        return f"{self.http_url}/pagerduty/v2/enqueue"

    def webhook_url(self, name: str) -> str:
        return f"{self.http_url}/webhook/{name}"

    def set_forward(self, name: str, url: str | None) -> None:
        """Relay ``/webhook/<name>`` deliveries to ``url`` (None stops relaying)."""
        self._http.set_forward(name, url)

    def fail_next(self, path_prefix: str, count: int = 1, status: int = 500) -> None:
        """Answer the next ``count`` HTTP requests under ``path_prefix`` with ``status``."""
        self._http.fail_next(path_prefix, count, status)

    # -- the store -------------------------------------------------------------

    def _add(self, record: Record) -> None:
        with self._changed:
            self._records.append(record)
            self._version += 1
            self._changed.notify_all()

    def _replace(self, old: Record, new: Record) -> None:
        """Put ``new`` where ``old`` (by identity) is: a relayed webhook gets its upstream's
        verdict. Nothing happens when ``old`` was cleared meanwhile (a reset between drills)."""
        with self._changed:
            for index, record in enumerate(self._records):
                if record is old:
                    self._records[index] = new
                    self._version += 1
                    self._changed.notify_all()
                    return

    def clear(self) -> None:
        """Forget every record and pending injected failure (per-test reset); forwards stay."""
        self._http.clear_failures()
        with self._changed:
            self._records.clear()
            self._version += 1
            self._changed.notify_all()

    def records(self) -> tuple[Record, ...]:
        """Everything, in the order it was recorded."""
        with self._changed:
            return tuple(self._records)

    def _select(self, kind: type[R]) -> tuple[R, ...]:
        return tuple(r for r in self.records() if isinstance(r, kind))

    def notifications(self) -> tuple[Notification, ...]:
        """Every alert notification (Slack, PagerDuty, webhook, email), by arrival time."""
        views = [
            view
            for record in self.records()
            if isinstance(record, SlackMessage | PagerDutyEvent | WebhookDelivery | Email)
            for view in record.notifications()
        ]
        return tuple(sorted(views, key=lambda n: n.arrived_at))

    def slack(self) -> tuple[SlackMessage, ...]:
        return self._select(SlackMessage)

    def pagerduty(self) -> tuple[PagerDutyEvent, ...]:
        return self._select(PagerDutyEvent)

    def webhooks(self) -> tuple[WebhookDelivery, ...]:
        return self._select(WebhookDelivery)

    def emails(self) -> tuple[Email, ...]:
        return self._select(Email)

    def sentry_events(self) -> tuple[SentryEvent, ...]:
        return self._select(SentryEvent)

    def unexpected(self) -> tuple[UnexpectedRequest, ...]:
        return self._select(UnexpectedRequest)

    def injected_failures(self) -> tuple[InjectedFailure, ...]:
        return self._select(InjectedFailure)

    def summary(self) -> str:
        """One line per notification and unexpected request, for failure messages."""
        lines = [
            f"{n.arrived_at:.3f} {n.receiver} {n.alertname} {n.status}"
            for n in self.notifications()
        ]
        lines += [
            f"{u.arrived_at:.3f} UNEXPECTED {u.protocol} {u.method} {u.path} → {u.status}: "
            f"{u.reason}"
            for u in self.unexpected()
        ]
        sentry = len(self.sentry_events())
        if sentry:
            lines.append(f"{sentry} sentry event(s)")
        return "\n".join(lines) if lines else "nothing received"

    # -- waiting ---------------------------------------------------------------

    def wait_for(self, predicate: Callable[[], T | None], *, within: float | str, what: str) -> T:
        """Wait until ``predicate()`` (a function of the records) is truthy; return its value.

        Raises ExpectationFailed at the deadline, with what was received so far.
        """
        budget = parse_duration(within)
        deadline = Deadline.after(budget)
        seen = -1  # the store version the predicate last saw; -1: check at once

        def check() -> T | None:
            nonlocal seen
            with self._changed:
                # Block until a record arrives (or the deadline) rather than poll on
                # a fixed period: a delivery wakes us within microseconds, so measured
                # notification latencies carry no polling error, and an idle wait
                # costs nothing. Records only change under this condition, so a
                # predicate over them cannot become true while we sleep.
                if seen == self._version:
                    self._changed.wait_for(
                        lambda: self._version != seen, timeout=deadline.remaining()
                    )
                seen = self._version
            return predicate()

        try:
            return eventually(check, within=budget, every=_REARM, what=what)
        except ExpectationFailed as error:
            raise ExpectationFailed(
                error.message,
                last_observation=f"{error.last_observation!r}; received:\n{self.summary()}",
                elapsed=error.elapsed,
                timeline=error.timeline,
            ) from error
