"""Who was told: the exact set of receivers notified, and silence during a window.

Receiver ids are ``Notification.receiver``: ``"slack:#alerts-critical"``,
``"pagerduty:<routing key>"``, ``"webhook:<name>"``, ``"email:<address>"``.

Exactness needs a settle window: after the last expected receiver got the
notification, the others of the same Alertmanager flush could still be in
flight. Alertmanager sends one group's notifications to all its receivers at
once, and parallel routes of one alert flush after the same ``group_wait``, so
siblings arrive within milliseconds of each other; the default settle window
is 0.5 s (``Expect(settle=...)``). With routes whose timers differ, pass
``settle=`` of about 2 × the longest ``group_interval`` of the rendered config.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from alertdrill.errors import ExpectationFailed
from alertdrill.expect.budget import FLOOR, Budget, Phase, Within, floor_seconds
from alertdrill.expect.context import Context
from alertdrill.receivers.records import Notification, Status
from alertdrill.report.timeline import NOTIFICATION, Detail
from alertdrill.timing import parse_duration

__all__ = ["expect_no_notification", "expect_notified", "matches"]


def matches(notification: Notification, alert: str, status: Status) -> bool:
    """The notification is about ``alert`` (alone or in its group) with ``status``."""
    return notification.status == status and (
        notification.alertname == alert or alert in notification.alertnames
    )


def expect_notified(
    ctx: Context,
    receivers: Iterable[str],
    *,
    alert: str,
    status: Status = "firing",
    within: Within = FLOOR,
    settle: float | str | None = None,
) -> tuple[Notification, ...]:
    """Every receiver in the set, and no other, got ``alert`` with ``status``.

    Returns the first matching notification of each expected receiver, in the
    set's sorted order, and marks each on the timeline at its arrival time.
    """
    expected = frozenset(receivers)
    if not expected:
        raise ValueError("notified() needs at least one receiver; use no_notification() for none")
    phase: Phase = "resolve" if status == "resolved" else "detect"
    budget = ctx.budget(within, alert=alert, phase=phase)
    what = f"{alert} {status} notified to exactly {sorted(expected)}"

    def first_of_each() -> dict[str, Notification] | None:
        found: dict[str, Notification] = {}
        for n in ctx.receivers.notifications():
            if n.receiver in expected and n.receiver not in found and matches(n, alert, status):
                found[n.receiver] = n
        return found if len(found) == len(expected) else None

    started = time.monotonic()
    found = ctx.on_receivers(first_of_each, budget=budget, what=what, mark_passed=False)

    floor = floor_seconds(ctx.floors, alert, phase)
    for receiver in sorted(expected):
        notification = found[receiver]
        details: dict[str, Detail] = {"alert": alert, "status": status}
        if floor is not None:
            details["floor"] = floor
        ctx.mark_once(NOTIFICATION, receiver, at=notification.arrived_at, **details)

    _no_other_receiver(ctx, expected, alert=alert, status=status, settle=settle, what=what)
    ctx.passed(what, time.monotonic() - started)
    return tuple(found[r] for r in sorted(expected))


def _no_other_receiver(
    ctx: Context,
    expected: frozenset[str],
    *,
    alert: str,
    status: Status,
    settle: float | str | None,
    what: str,
) -> None:
    seconds = ctx.settle if settle is None else parse_duration(settle)

    def others() -> tuple[Notification, ...] | None:
        extra = tuple(
            n
            for n in ctx.receivers.notifications()
            if n.receiver not in expected and matches(n, alert, status)
        )
        return extra or None

    # Waiting for the violation, condition-woken: an extra delivery fails at once, and a
    # quiet settle window ends in the timeout we want.
    started = time.monotonic()
    try:
        extra = ctx.receivers.wait_for(others, within=seconds, what=f"{what}: settle")
    except ExpectationFailed:
        return
    unexpected = sorted({n.receiver for n in extra})
    ctx.fail(
        f"{alert} {status} also notified {unexpected}, expected exactly {sorted(expected)}",
        what=what,
        observed=extra,
        elapsed=time.monotonic() - started,
    )


def expect_no_notification(ctx: Context, *, during: Within, alert: str | None = None) -> None:
    """No alert notification (of ``alert``, or at all) arrives during the window.

    Counts deliveries from the moment of the call. A negative assertion passes
    trivially when nothing could have notified (a broken route, stopped
    Alertmanager): always pair it with a positive control that proves the same
    path does deliver, as the architecture's habits ask.

    Without ``alert``, a notification ``ctx.foreign`` calls someone else's (an
    alert active on a shared stack before the session started) is not counted;
    with ``alert``, every notification of that alert is.
    """
    window: Budget = ctx.window(during, alert=alert)
    start = time.monotonic()  # the receivers' clock (Notification.arrived_at)
    what = f"no notification{f' of {alert}' if alert else ''} for {window.text}"

    def arrived() -> tuple[Notification, ...] | None:
        got = tuple(
            n
            for n in ctx.receivers.notifications()
            # Only the window: the final check at the deadline must not count a later arrival.
            if start <= n.arrived_at <= start + window.seconds
            and (
                n.alertname == alert or alert in n.alertnames
                if alert is not None
                else ctx.foreign is None or not ctx.foreign(n)
            )
        )
        return got or None

    try:
        got = ctx.receivers.wait_for(arrived, within=window.seconds, what=what)
    except ExpectationFailed:
        ctx.passed(what, time.monotonic() - start)
        return
    for n in got:
        ctx.mark_once(NOTIFICATION, n.receiver, at=n.arrived_at, alert=n.alertname, status=n.status)
    ctx.fail(
        f"{what}: got {', '.join(f'{n.receiver} {n.alertname} {n.status}' for n in got)}",
        what=what,
        observed=got,
        elapsed=time.monotonic() - start,
    )
