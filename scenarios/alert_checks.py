"""What every alert drill of this issue checks, in one place: the alert fires for a real fault
with the labels the rule promises, exactly its receivers are told, and after the revert it
resolves and the same receivers get the all-clear (every seed receiver has send_resolved).

Receiver sets are those of monitoring/README.md ("Who gets notified"), as the receivers
record them; CRITICAL and DATABASE_TEAM live in conftest.py.

Budgets. ``within="floor"`` is the alert's detection floor + the session's slack, counted from
the fault. The configured floor leaves out the time a fault needs to *reach* the metric (a
slow request is observed when it completes; a rate over a window needs part of the window to
cross its threshold). A drill whose fault needs that time gives it as a ``SignalDelay``
computed from the fault's own parameters (alertdrill/stack/floors.py): its waits use the
floor with that signal term, and a ``SIGNAL`` note puts the same floor in the latency table.
The signal assumes the fault gets what it asks for. A fault whose intensity is the machine's
to give (a CPU hog thread on a shared CPU) may say how much later it tolerates being, as
``extra_slack``: a deadline term, never part of the floor the benchmark compares with.
"""

from __future__ import annotations

from collections.abc import Mapping

from alertdrill.expect.protocols import ActiveAlertLike
from alertdrill.faults import BaseFault
from alertdrill.report.latency import SIGNAL, signal_note
from alertdrill.report.timeline import FAULT_INJECT, FAULT_REVERT, NOTE
from alertdrill.session import DrillSession
from alertdrill.stack.floors import SignalDelay

__all__ = [
    "DEFAULT",
    "OPS_TEAM",
    "SECURITY_TEAM",
    "assert_labels",
    "drill_alert",
    "floor_budget",
]

DEFAULT = frozenset({"slack:#alerts"})
OPS_TEAM = frozenset({"slack:#ops"})
SECURITY_TEAM = frozenset({"slack:#security", "email:security@example.com"})


def floor_budget(
    drill: DrillSession,
    alert: str,
    *,
    signal: SignalDelay | None = None,
    extra_slack: float = 0.0,
    resolve: bool = False,
) -> float:
    """Seconds left, from now, of the alert's floor (with the fault's ``signal``) + slack
    (+ ``extra_slack``), counted from the latest fault injection (``resolve``: revert) on the
    timeline, like ``within="floor"``."""
    floor = drill.stack.rendered.floors()[alert]
    if signal is not None:
        floor = floor.with_signal(signal)
    total = (floor.resolve_total if resolve else floor.total) + drill.slack + extra_slack
    timeline = drill.expect.timeline
    anchor = timeline.last(FAULT_REVERT if resolve else FAULT_INJECT)
    if anchor is None:
        return total
    return max(0.0, total - (timeline.now() - anchor.at))


def assert_labels(alert: ActiveAlertLike, expected: Mapping[str, str]) -> None:
    """Every expected label has exactly the expected value (others may exist: instance...)."""
    wrong = {k: alert.labels.get(k) for k, v in expected.items() if alert.labels.get(k) != v}
    assert not wrong, (
        f"{alert.name} fired with {dict(alert.labels)}; expected {dict(expected)}, "
        f"differing: {wrong}"
    )


def drill_alert(
    drill: DrillSession,
    alert: str,
    fault: BaseFault,
    *,
    receivers: frozenset[str],
    labels: Mapping[str, str],
    signal: SignalDelay | None = None,
    extra_slack: float = 0.0,
) -> ActiveAlertLike:
    """The whole check for one alert; returns the firing alert as Prometheus showed it.

    ``signal``: the time the fault needs to reach the metric after its injection and after
    its revert (see the module docstring), part of the floors this drill waits for.
    ``extra_slack``: detection deadlines only (see the module docstring).
    """
    expect = drill.expect
    if signal is not None:
        expect.timeline.mark(
            NOTE, SIGNAL, **signal_note(alert, signal.detect, signal.resolve, signal.why)
        )
    with fault.injected():
        detect = floor_budget(drill, alert, signal=signal, extra_slack=extra_slack)
        active = expect.alert(alert).firing(within=detect)
        assert_labels(active, labels)
        expect.notified(
            receivers,
            alert=alert,
            within=floor_budget(drill, alert, signal=signal, extra_slack=extra_slack),
        )
    expect.alert(alert).resolved(within=floor_budget(drill, alert, signal=signal, resolve=True))
    expect.notified(
        receivers,
        alert=alert,
        status="resolved",
        within=floor_budget(drill, alert, signal=signal, resolve=True),
    )
    return active
