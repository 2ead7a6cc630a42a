"""The fault-to-metric signal term of detection floors (floors.SignalDelay) and how the
latency table takes it from a drill's timeline."""

from __future__ import annotations

import pytest

from alertdrill.report.latency import SIGNAL, samples, signal_note
from alertdrill.report.timeline import ALERT_FIRING, FAULT_INJECT, NOTE, NOTIFICATION, Timeline
from alertdrill.stack.floors import DetectionFloor, SignalDelay

pytestmark = pytest.mark.unit


def _floor() -> DetectionFloor:
    # HighResponseTime at the fast profile: 0.25 + 0.25 + 5 + 0.25 + 0.1 = 5.85; resolve 5.85.
    return DetectionFloor(
        alertname="HighResponseTime",
        jobs=(),
        scrape=0.25,
        scrape_timeout=0.0,
        evaluation=0.25,
        recording_lag=0.0,
        for_=5.0,
        send=0.25,
        group_wait=0.0,
        group_interval=0.1,
        window=5.0,
        receivers=("slack:#alerts",),
    )


def test_completion_is_the_arrival_wait_plus_the_slow_operation() -> None:
    signal = SignalDelay.completion(2.05, arrival=0.25)
    assert (signal.detect, signal.resolve) == (2.3, 2.05)
    assert "2.05" in signal.why


def test_counter_ramp_is_the_window_share_the_threshold_needs() -> None:
    # One core of CPU seconds per second against 0.4 core over 5 s: 2 s; two cores: 1 s.
    assert SignalDelay.counter_ramp(window=5, threshold=0.4, rate=1.0).detect == 2.0
    assert SignalDelay.counter_ramp(window=5, threshold=0.4, rate=2.0).detect == 1.0
    with pytest.raises(ValueError, match="never passes"):
        SignalDelay.counter_ramp(window=5, threshold=0.4, rate=0.4)


def test_event_ramp_counts_whole_events_past_the_threshold() -> None:
    # 0.5/s over 5 s is 2.5 events: the 3rd crosses, at 5/s 0.6 s; exactly 50 (10/s x 5 s)
    # is not over 10/s: the 51st is needed.
    assert SignalDelay.event_ramp(window=5, threshold=0.5, rate=5).detect == 0.6
    assert SignalDelay.event_ramp(window=5, threshold=10, rate=50).detect == 1.02
    with pytest.raises(ValueError, match="never pass"):
        SignalDelay.event_ramp(window=5, threshold=10, rate=10)


def test_a_signal_delay_is_never_negative() -> None:
    with pytest.raises(ValueError, match="detect"):
        SignalDelay(detect=-0.1)


def test_with_signal_adds_the_term_to_both_totals() -> None:
    floor = _floor()
    assert (floor.total, floor.resolve_total) == (5.85, 5.85)
    slow = floor.with_signal(SignalDelay.completion(2.05, arrival=0.25))
    assert (slow.total, slow.resolve_total) == (8.15, 7.9)
    assert slow.describe().startswith("signal 2.3 + scrape 0.25")
    assert floor.describe().startswith("scrape 0.25")  # no signal, no term


def test_the_latency_table_takes_the_signal_from_the_drills_note() -> None:
    timeline = Timeline("t", clock=lambda: 100.0, wall_clock=lambda: 100.0)
    signal = SignalDelay.completion(2.05, arrival=0.25)
    timeline.mark(NOTE, SIGNAL, at=99.0, **signal_note("HighResponseTime", 2.3, 2.05, "x"))
    timeline.mark(FAULT_INJECT, "latency", at=100.0)
    timeline.mark(ALERT_FIRING, "HighResponseTime", at=107.4)
    timeline.mark(NOTIFICATION, "slack:#a", at=107.5, alert="HighResponseTime", status="firing")
    (sample,) = samples("t", timeline, {"HighResponseTime": _floor()})
    assert sample.signal == signal.detect
    assert (sample.floor, sample.resolve_floor) == (8.15, 7.9)
    # Positive control: the same timeline without the note has the configured floor only.
    bare = Timeline("t", clock=lambda: 100.0, wall_clock=lambda: 100.0)
    bare.mark(FAULT_INJECT, "latency", at=100.0)
    bare.mark(NOTIFICATION, "slack:#a", at=107.5, alert="HighResponseTime", status="firing")
    (plain,) = samples("t", bare, {"HighResponseTime": _floor()})
    assert (plain.signal, plain.floor) == (None, 5.85)
