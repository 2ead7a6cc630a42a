from __future__ import annotations

import pickle

import pytest

from alertdrill.errors import (
    AlertdrillError,
    ConfigError,
    ExpectationFailed,
    FaultError,
    MissingBinaryError,
    StackError,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("cls", [StackError, FaultError, ConfigError, ExpectationFailed])
def test_every_error_is_an_alertdrill_error(cls: type[Exception]) -> None:
    assert issubclass(cls, AlertdrillError)


def test_expectation_failed_is_a_test_failure_not_an_error() -> None:
    error = ExpectationFailed("alert never fired", last_observation="pending", elapsed=1.0)
    with pytest.raises(AssertionError):
        raise error


def test_stack_error_shows_message_hint_and_indented_log_tail() -> None:
    error = StackError(
        "not ready within 30s",
        component="postgres",
        hint="check the port",
        log_tail="line one\nFATAL: line two\n",
    )
    assert str(error).splitlines() == [
        "postgres: not ready within 30s",
        "hint: check the port",
        "last log lines:",
        "    line one",
        "    FATAL: line two",
    ]
    assert (error.component, error.hint) == ("postgres", "check the port")


def test_stack_error_without_extras_is_just_the_message() -> None:
    assert str(StackError("boom")) == "boom"


def test_missing_binary_names_binary_and_apt_package() -> None:
    error = MissingBinaryError("redis-server", package="redis-server", searched=("/opt/bin",))
    assert isinstance(error, StackError)
    text = str(error)
    assert "'redis-server' not found" in text
    assert "/opt/bin" in text
    assert "apt-get install -y redis-server" in text
    assert error.package == "redis-server"


def test_config_error_points_at_file_and_line() -> None:
    assert str(ConfigError("unknown receiver", path="am.yml", line=12)) == (
        "am.yml:12: unknown receiver"
    )
    assert str(ConfigError("unknown receiver", path="am.yml")) == "am.yml: unknown receiver"
    assert str(ConfigError("unknown receiver")) == "unknown receiver"


def test_expectation_failed_reports_observation_elapsed_and_timeline() -> None:
    error = ExpectationFailed(
        "DatabaseDown firing",
        last_observation={"state": "pending"},
        elapsed=12.345,
        timeline="t+0.0 fault injected\nt+5.0 rule pending",
    )
    text = str(error)
    assert text.startswith("DatabaseDown firing\n")
    assert "waited 12.35s; last observation: {'state': 'pending'}" in text
    assert "    t+5.0 rule pending" in text
    assert error.elapsed == 12.345


def test_huge_observations_are_truncated() -> None:
    error = ExpectationFailed("x", last_observation="a" * 10_000, elapsed=0.0)
    assert len(str(error)) < 2100


@pytest.mark.parametrize(
    "error",
    [
        StackError("m", component="c", hint="h", log_tail="t"),
        MissingBinaryError("b", package="p", component="c", searched=("/d",)),
        ConfigError("m", path="f.yml", line=3),
        ExpectationFailed("m", last_observation=[1], elapsed=2.0, timeline="tl"),
        FaultError("m"),
    ],
)
def test_errors_survive_pickling(error: AlertdrillError) -> None:
    # Errors cross process boundaries (subprocess runners, xdist workers).
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert type(copy) is type(error)
    assert str(copy) == str(error)
