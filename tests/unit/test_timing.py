from __future__ import annotations

import time

import pytest

from alertdrill.errors import ExpectationFailed
from alertdrill.timing import Deadline, eventually, parse_duration

pytestmark = pytest.mark.unit


class FakeClock:
    """monotonic()/sleep() pair where sleeping advances the clock exactly."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr("alertdrill.timing.time.monotonic", fake.monotonic)
    monkeypatch.setattr("alertdrill.timing.time.sleep", fake.sleep)
    return fake


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250ms", 0.25),
        ("1.5s", 1.5),
        ("2m", 120.0),
        ("1h", 3600.0),
        ("1m30s", 90.0),
        (" 10s ", 10.0),
        ("0", 0.0),
        ("2.5", 2.5),
        (3, 3.0),
        (0.5, 0.5),
    ],
)
def test_parse_duration(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "fast", "10 s", "5x", "-1s", "-1", -2, float("inf"), True])
def test_parse_duration_rejects_nonsense(bad: str | float) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_deadline_counts_down(clock: FakeClock) -> None:
    deadline = Deadline.after(2.0)
    assert deadline.remaining() == 2.0
    assert not deadline.expired()
    clock.now += 1.5
    assert deadline.remaining() == pytest.approx(0.5)
    assert deadline.elapsed() == pytest.approx(1.5)
    clock.now += 1.0
    assert deadline.expired()
    assert deadline.remaining() == 0.0
    assert deadline.seconds == 2.0


def test_deadline_rejects_negative_budget() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        Deadline.after(-1)


def test_deadline_uses_the_real_monotonic_clock() -> None:
    deadline = Deadline.after(60)
    assert 59 < deadline.remaining() <= 60
    assert 0 <= deadline.elapsed() < 1


def test_eventually_returns_the_first_truthy_value(clock: FakeClock) -> None:
    answers = iter([None, 0, "", "ready"])
    assert eventually(lambda: next(answers), within=1, what="ready") == "ready"
    assert clock.sleeps == [0.05, 0.05, 0.05]


def test_eventually_does_not_sleep_when_already_true(clock: FakeClock) -> None:
    assert eventually(lambda: True, within=1, what="x") is True
    assert clock.sleeps == []


def test_eventually_treats_exceptions_as_not_yet(clock: FakeClock) -> None:
    calls: list[int | Exception] = [ConnectionError("refused"), ConnectionError("refused"), 42]

    def check() -> int:
        item = calls.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    assert eventually(check, within="1s", every="100ms", what="port open") == 42
    assert clock.sleeps == [0.1, 0.1]


def test_eventually_never_sleeps_past_the_deadline(clock: FakeClock) -> None:
    with pytest.raises(ExpectationFailed):
        eventually(lambda: False, within=0.12, every=0.05, what="never")
    assert clock.sleeps == pytest.approx([0.05, 0.05, 0.02])
    assert sum(clock.sleeps) == pytest.approx(0.12)


def test_timeout_reports_last_observation_and_elapsed(clock: FakeClock) -> None:
    states = iter(["inactive", "pending", "pending", "pending", "pending"])

    with pytest.raises(ExpectationFailed) as caught:
        eventually(lambda: next(states) == "firing" or None, within=0.1, what="alert firing")
    error = caught.value
    assert error.elapsed == pytest.approx(0.1)
    assert error.last_observation is None
    assert "alert firing: not true within 0.1s" in str(error)


def test_timeout_reports_and_chains_the_last_exception(clock: FakeClock) -> None:
    attempt = iter(range(100))

    def check() -> bool:
        raise ConnectionError(f"refused #{next(attempt)}")

    with pytest.raises(ExpectationFailed) as caught:
        eventually(check, within=0.2, every=0.1, what="server up")
    error = caught.value
    assert isinstance(error.last_observation, ConnectionError)
    assert str(error.last_observation) == "refused #2"
    assert error.__cause__ is error.last_observation
    assert "refused #2" in str(error)


def test_falsy_result_after_an_exception_is_reported_without_cause(clock: FakeClock) -> None:
    results: list[object] = [ValueError("first"), []]

    def check() -> list[int]:
        item = results.pop(0) if len(results) > 1 else results[0]
        if isinstance(item, Exception):
            raise item
        return []

    with pytest.raises(ExpectationFailed) as caught:
        eventually(check, within=0.1, what="items")
    assert caught.value.last_observation == []
    assert caught.value.__cause__ is None


def test_eventually_rejects_a_non_positive_interval() -> None:
    with pytest.raises(ValueError, match="every"):
        eventually(lambda: True, within=1, every=0, what="x")


def test_eventually_with_the_real_clock_times_out_on_time() -> None:
    started = time.monotonic()
    with pytest.raises(ExpectationFailed) as caught:
        eventually(lambda: False, within=0.2, every=0.05, what="never")
    took = time.monotonic() - started
    assert 0.2 <= caught.value.elapsed < 1.0
    assert 0.2 <= took < 1.0
