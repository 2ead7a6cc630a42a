"""What a drill test leaves for people: the HTML page beside its JSON, allure attachments only
under --alluredir (logs only on failure), and `alertdrill report` rendering JSON to HTML."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import allure
import pytest

from alertdrill.cli import main
from alertdrill.report.attachments import publish_drill_test, receiver_payloads
from alertdrill.report.journal import write_report
from alertdrill.report.timeline import FAULT_INJECT, FAULT_REVERT, NOTIFICATION, Timeline

pytestmark = pytest.mark.unit


@dataclass(frozen=True)
class Slackish:
    channel: str
    wall_time: float
    raw: str


@dataclass(frozen=True)
class Unexpected:
    path: str


class FakeReceivers:
    def __init__(self, *records: object) -> None:
        self._records = records

    def records(self) -> tuple[object, ...]:
        return self._records


RECEIVERS = FakeReceivers(
    Slackish("#alerts-critical", 1_700_000_002.5, '{"text": "HighErrorRate firing"}'),
    Slackish("#alerts", 1_700_000_003.0, "not json {"),
    Unexpected("/nowhere"),
)


def _report(tmp_path: Path, name: str = "t.json") -> Path:
    clock = [100.0]
    timeline = Timeline("scenarios/x.py::test_y", clock=lambda: clock[0])
    timeline.mark(FAULT_INJECT, "error_rate", at=100.0)
    timeline.mark(NOTIFICATION, "slack:#c", at=102.0, alert="HighErrorRate", status="firing")
    timeline.mark(FAULT_REVERT, "error_rate", at=103.0)
    return write_report(
        tmp_path / name, name="scenarios/x.py::test_y", outcome="passed", timeline=timeline
    )


@pytest.fixture
def attached(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    calls: list[tuple[str, str, str]] = []

    def fake_attach(body: str, name: str, attachment_type: object) -> None:
        calls.append((name, str(attachment_type), body))

    monkeypatch.setattr(allure, "attach", fake_attach)
    return calls


def test_receiver_payloads_keep_what_arrived_in_order() -> None:
    documents = json.loads(receiver_payloads(RECEIVERS))
    assert [d["type"] for d in documents] == ["Slackish", "Slackish", "Unexpected"]
    assert documents[0]["payload"] == {"text": "HighErrorRate firing"}  # JSON parsed
    assert documents[1]["payload"] == "not json {"  # text kept as text
    assert "nowhere" in documents[2]["payload"]  # no raw body: the record itself


def test_without_alluredir_only_the_html_is_written(
    tmp_path: Path, attached: list[tuple[str, str, str]]
) -> None:
    published = publish_drill_test(
        _report(tmp_path), receivers=RECEIVERS, logs=None, alluredir=None
    )
    assert published.html == tmp_path / "t.html" and published.html.exists()
    assert published.attached == () and attached == []


def test_with_alluredir_timeline_report_and_payloads_are_attached(
    tmp_path: Path, attached: list[tuple[str, str, str]]
) -> None:
    published = publish_drill_test(
        _report(tmp_path), receivers=RECEIVERS, logs=None, alluredir=str(tmp_path / "allure")
    )
    names = [name for name, _, _ in attached]
    assert names == ["alertdrill timeline", "alertdrill report", "receiver payloads"]
    assert list(published.attached) == names
    timeline, html, payloads = (body for _, _, body in attached)
    assert "fault.inject" in timeline and "error_rate" in timeline
    assert html.startswith("<!DOCTYPE html>")
    assert "HighErrorRate firing" in payloads
    assert [kind for _, kind, _ in attached] == [
        str(allure.attachment_type.TEXT),
        str(allure.attachment_type.HTML),
        str(allure.attachment_type.JSON),
    ]


def test_logs_are_attached_when_given_on_failure(
    tmp_path: Path, attached: list[tuple[str, str, str]]
) -> None:
    logs = {"service": "Traceback: boom", "alertmanager": "level=warn"}
    publish_drill_test(_report(tmp_path), receivers=RECEIVERS, logs=logs, alluredir="x")
    names = [name for name, _, _ in attached]
    assert names[-2:] == ["log alertmanager", "log service"]
    assert attached[-1][2] == "Traceback: boom"


def test_report_command_renders_files_and_directories(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = _report(tmp_path, "one.json")
    _report(tmp_path, "two.json")
    (tmp_path / "latency.json").write_text('{"schema": "alertdrill.latency/v1"}')

    assert main(["report", str(one), "--html", str(tmp_path / "out" / "x.html")]) == 0
    assert (tmp_path / "out" / "x.html").read_text().startswith("<!DOCTYPE html>")
    assert main(["report", str(tmp_path)]) == 0
    printed = capsys.readouterr().out.split()
    assert printed[1:] == [str(tmp_path / "one.html"), str(tmp_path / "two.html")]
    assert not (tmp_path / "latency.html").exists()  # not a report: skipped in a directory


def test_report_command_refuses_what_is_not_a_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "latency.json"
    other.write_text('{"schema": "alertdrill.latency/v1"}')
    assert main(["report", str(other)]) == 1
    assert "not an alertdrill.report/v1 report" in capsys.readouterr().err
    assert main(["report", str(tmp_path), "--html", str(tmp_path / "x.html")]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(empty)]) == 1
