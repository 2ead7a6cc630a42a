"""`alertdrill receivers` in its own process: it prints the URLs to configure, captures a
Slack-shaped notification (and an e-mail) on the fixed ports it was given, serves them to
``RemoteReceivers``, refuses a port already taken, and releases both ports on Ctrl-C.
Local sockets only; a few seconds."""

from __future__ import annotations

import re
import signal
import smtplib
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from alertdrill.receivers.remote import RemoteReceivers
from alertdrill.stack.ports import free_port, is_port_free, release_port
from alertdrill.timing import eventually

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Sink:
    process: subprocess.Popen[str]
    lines: list[str]
    http_port: int
    smtp_port: int

    @property
    def output(self) -> str:
        return "".join(self.lines)


def _start(http_port: int, smtp_port: int) -> Sink:
    process = subprocess.Popen(
        [
            sys.executable, "-m", "alertdrill.cli", "receivers",
            "--http-port", str(http_port), "--smtp-port", str(smtp_port),
            "--forward", "incident=http://127.0.0.1:9/api/webhooks/alertmanager",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True).start()
    return Sink(process, lines, http_port, smtp_port)


def _stop(sink: Sink) -> int:
    if sink.process.poll() is None:
        sink.process.send_signal(signal.SIGINT)
    try:
        return sink.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        sink.process.kill()
        sink.process.wait(timeout=10)
        raise
    finally:
        if sink.process.stdout is not None:
            sink.process.stdout.close()


@pytest.fixture
def sink() -> Iterator[Sink]:
    http_port, smtp_port = free_port(), free_port()
    release_port(http_port)
    release_port(smtp_port)
    started = _start(http_port, smtp_port)
    try:
        eventually(
            lambda: "Ctrl-C" in started.output and "Sentry DSN" in started.output,
            within=30,
            what="alertdrill receivers to print its URLs",
        )
        yield started
    finally:
        _stop(started)


def test_the_sink_prints_its_urls_captures_and_serves_the_read_api(sink: Sink) -> None:
    output = sink.output
    base = f"http://127.0.0.1:{sink.http_port}"
    assert f"read API (--receivers-url / ALERTDRILL_RECEIVERS_URL): {base}" in output
    assert f"{base}/slack/alertmanager" in output
    assert f"{base}/pagerduty/v2/enqueue" in output
    assert f"{base}/webhook/incident" in output
    assert f"relaying {base}/webhook/incident -> http://127.0.0.1:9/api" in output
    smarthost = f"127.0.0.1:{sink.smtp_port}"
    assert smarthost in output
    password = re.search(r"auth_password: (\S+)", output)
    assert password, output

    with RemoteReceivers(base, poll=0.02) as reader:
        assert reader.records() == ()
        posted = httpx.post(
            f"{base}/slack/alertmanager",
            json={
                "channel": "#alerts-critical",
                "attachments": [{"title": "[FIRING:1] HighErrorRate", "text": "errors"}],
            },
            timeout=5,
        )
        assert posted.status_code == 200
        message = EmailMessage()
        message["From"], message["To"] = "alertmanager@alertdrill.test", "oncall@example.test"
        message["Subject"] = "[FIRING:1] DatabaseDown"
        message.set_content("database down")
        with smtplib.SMTP("127.0.0.1", sink.smtp_port, timeout=5) as smtp:
            smtp.login("alertmanager", password.group(1))
            smtp.send_message(message)

        got = reader.wait_for(
            lambda: reader.notifications() if len(reader.notifications()) == 2 else None,
            within=5,
            what="both notifications readable through the read API",
        )
        assert {(n.receiver, n.alertname, n.status) for n in got} == {
            ("slack:#alerts-critical", "HighErrorRate", "firing"),
            ("email:oncall@example.test", "DatabaseDown", "firing"),
        }
    assert _stop(sink) == 0
    assert "2 record(s) captured" in sink.output
    # Both fixed ports are free again once it stopped.
    assert is_port_free(sink.http_port) and is_port_free(sink.smtp_port)


def test_a_taken_port_is_refused_by_name(sink: Sink) -> None:
    other = _start(sink.http_port, free_port())
    try:
        assert other.process.wait(timeout=30) == 1
    finally:
        _stop(other)
    assert f"cannot bind 127.0.0.1:{sink.http_port}" in other.output
    # Positive control: the first sink still answers on that port.
    assert httpx.get(f"http://127.0.0.1:{sink.http_port}/-/records", timeout=5).status_code == 200
