"""What a drill reads from the receivers, wherever they run, and the stand-in for none.

``ReceiverCapture`` is the read side of the receivers hub: records, the typed views over
them, ``wait_for`` and ``clear``. Three things provide it: ``Receivers`` (the sinks in this
process, which the local and container stacks start), ``RemoteReceivers`` (a sink running
elsewhere, through its read API) and ``NoReceiverCapture`` (an external stack given no sink:
every question about a notification fails with "no receiver capture configured" instead of
passing on an empty list). ``RecordViews`` derives the typed views from ``records()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from alertdrill.errors import ExpectationFailed, StackError
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

__all__ = [
    "NO_CAPTURE",
    "NoReceiverCapture",
    "ReceiverCapture",
    "ReceiverCaptureMissing",
    "RecordViews",
    "with_received",
]

T = TypeVar("T")
R = TypeVar("R")

NO_CAPTURE = (
    "no receiver capture configured: this stack's notifications cannot be checked (pass "
    "--receivers-url or ALERTDRILL_RECEIVERS_URL: an alertdrill receiver sink that "
    "Alertmanager delivers to)"
)


class ReceiverCapture(Protocol):
    """The receivers as a drill reads them (``alertdrill.receivers.Receivers`` fits as is)."""

    def records(self) -> tuple[Record, ...]: ...
    def notifications(self) -> tuple[Notification, ...]: ...
    def slack(self) -> tuple[SlackMessage, ...]: ...
    def pagerduty(self) -> tuple[PagerDutyEvent, ...]: ...
    def webhooks(self) -> tuple[WebhookDelivery, ...]: ...
    def emails(self) -> tuple[Email, ...]: ...
    def sentry_events(self) -> tuple[SentryEvent, ...]: ...
    def unexpected(self) -> tuple[UnexpectedRequest, ...]: ...
    def injected_failures(self) -> tuple[InjectedFailure, ...]: ...
    def summary(self) -> str: ...
    def clear(self) -> None: ...
    def wait_for(
        self, predicate: Callable[[], T | None], *, within: float | str, what: str
    ) -> T: ...


class RecordViews:
    """The typed views of ``records()`` (as ``Receivers`` has them), for other captures."""

    def records(self) -> tuple[Record, ...]:
        raise NotImplementedError

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
        records = self.records()
        notes = sorted(
            (
                view
                for record in records
                if isinstance(record, SlackMessage | PagerDutyEvent | WebhookDelivery | Email)
                for view in record.notifications()
            ),
            key=lambda n: n.arrived_at,
        )
        lines = [f"{n.arrived_at:.3f} {n.receiver} {n.alertname} {n.status}" for n in notes]
        lines += [
            f"{u.arrived_at:.3f} UNEXPECTED {u.protocol} {u.method} {u.path} → {u.status}: "
            f"{u.reason}"
            for u in records
            if isinstance(u, UnexpectedRequest)
        ]
        sentry = sum(isinstance(r, SentryEvent) for r in records)
        if sentry:
            lines.append(f"{sentry} sentry event(s)")
        return "\n".join(lines) if lines else "nothing received"


def with_received(error: ExpectationFailed, received: str) -> ExpectationFailed:
    """``error`` again, with what the receivers got meanwhile (``summary()``) after its last
    observation: a wait for a notification that timed out says what did arrive."""
    return ExpectationFailed(
        error.message,
        last_observation=f"{error.last_observation!r}; received:\n{received}",
        elapsed=error.elapsed,
        timeline=error.timeline,
    )


class ReceiverCaptureMissing(StackError):
    """A notification was asked about on a stack without receiver capture.

    Not an ``ExpectationFailed`` on purpose: a negative expectation ("no notification")
    reads a wait that times out as silence, and would pass; this propagates through every
    expectation instead.
    """

    def __init__(self, what: str = "") -> None:
        super().__init__(f"{what}: {NO_CAPTURE}" if what else NO_CAPTURE, component="receivers")


class NoReceiverCapture:
    """The receivers of a stack whose notifications nobody captures.

    ``records()`` and ``notifications()`` are empty: a session's reset reads them between
    drills (nothing captured, nothing owed). Everything that asks what a receiver got raises
    ``ReceiverCaptureMissing`` (a StackError saying ``NO_CAPTURE``): ``wait_for``, which
    every notification expectation, positive or negative, goes through, and the typed views.
    """

    skip_reason = NO_CAPTURE

    def records(self) -> tuple[Record, ...]:
        return ()

    def notifications(self) -> tuple[Notification, ...]:
        return ()

    def _missing(self) -> StackError:
        return ReceiverCaptureMissing()

    def slack(self) -> tuple[SlackMessage, ...]:
        raise self._missing()

    def pagerduty(self) -> tuple[PagerDutyEvent, ...]:
        raise self._missing()

    def webhooks(self) -> tuple[WebhookDelivery, ...]:
        raise self._missing()

    def emails(self) -> tuple[Email, ...]:
        raise self._missing()

    def sentry_events(self) -> tuple[SentryEvent, ...]:
        raise self._missing()

    def unexpected(self) -> tuple[UnexpectedRequest, ...]:
        raise self._missing()

    def injected_failures(self) -> tuple[InjectedFailure, ...]:
        raise self._missing()

    def summary(self) -> str:
        return NO_CAPTURE

    def clear(self) -> None:
        """Nothing is held, so nothing to forget."""

    def wait_for(self, predicate: Callable[[], T | None], *, within: float | str, what: str) -> T:
        raise ReceiverCaptureMissing(what)
