"""``Receivers``: both sinks, their URLs, and the store of everything they got."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from typing import Self, TypeVar

from alertdrill.errors import ExpectationFailed
from alertdrill.lifecycle import StartStopContext
from alertdrill.receivers.capture import RecordViews, with_received
from alertdrill.receivers.http_sink import HttpSink
from alertdrill.receivers.records import Record
from alertdrill.receivers.smtp_sink import SmtpSink
from alertdrill.stack.ports import LOCALHOST
from alertdrill.timing import Deadline, eventually, parse_duration

__all__ = ["Receivers"]

T = TypeVar("T")

# eventually() sleeps this long between checks; our check itself blocks until
# a record arrives, so this only re-arms the wait and must stay tiny.
_REARM = 0.001


class Receivers(RecordViews, StartStopContext):
    """The HTTP sink (Slack, PagerDuty, webhooks, Sentry) and the SMTP sink, started together.

    Records are kept in arrival order until ``clear()``. Use as a context
    manager, or ``start()``/``stop()``; ``stop()`` joins every thread, closes
    every socket and releases both ports, and a stopped hub can start again.
    ``http_port``/``smtp_port``: fixed ports (a sink others are configured to reach,
    ``alertdrill receivers``); None picks free ones.
    """

    def __init__(
        self,
        *,
        smtp_username: str | None = "alertmanager",
        smtp_password: str | None = None,
        host: str = LOCALHOST,
        http_port: int | None = None,
        smtp_port: int | None = None,
        forward_timeout: float = 10.0,
    ) -> None:
        if smtp_username is not None and smtp_password is None:
            smtp_password = secrets.token_urlsafe(18)  # per run; read it from .smtp_password
        self._changed = threading.Condition()
        self._records: list[Record] = []
        # Sequence number of each record (parallel to _records): never reused, not reset by
        # clear(), kept by a replacement, so a remote reader's cursor stays meaningful.
        self._seqs: list[int] = []
        self._last_seq = 0
        self._version = 0
        self._http = HttpSink(
            self._add,
            on_replace=self._replace,
            read_records=self.snapshot,
            host=host,
            port=http_port,
            forward_timeout=forward_timeout,
        )
        self._smtp = SmtpSink(
            self._add, username=smtp_username, password=smtp_password, host=host, port=smtp_port
        )
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
            self._last_seq += 1
            self._records.append(record)
            self._seqs.append(self._last_seq)
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
            self._seqs.clear()
            self._version += 1
            self._changed.notify_all()

    def records(self) -> tuple[Record, ...]:
        """Everything, in the order it was recorded."""
        with self._changed:
            return tuple(self._records)

    def snapshot(self, after: int = 0) -> tuple[int, tuple[tuple[int, Record], ...]]:
        """(last sequence number issued, every held (seq, record) with seq > ``after``):
        what the sink's read API (``GET /-/records``) serves to a remote reader."""
        with self._changed:
            held = tuple(
                (n, r) for n, r in zip(self._seqs, self._records, strict=True) if n > after
            )
            return self._last_seq, held

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
            raise with_received(error, self.summary()) from error
