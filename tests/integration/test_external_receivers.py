"""Reading a receiver sink from elsewhere: the sink's read API (GET /-/records) and
``RemoteReceivers`` against a real ``Receivers`` hub, and an external stack whose URLs do not
answer. Local sockets only; well under a second each."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from alertdrill.errors import ExpectationFailed, StackError
from alertdrill.receivers import Receivers
from alertdrill.receivers.remote import RemoteReceivers
from alertdrill.stack.components.service import ServiceCredentials
from alertdrill.stack.external import ExternalStack
from alertdrill.stack.ports import free_port, release_port

pytestmark = pytest.mark.integration


def _slack(title: str) -> dict[str, object]:
    return {"channel": "#alerts", "attachments": [{"title": title, "text": "t"}]}


@pytest.fixture
def hub() -> Iterator[Receivers]:
    with Receivers() as receivers:
        yield receivers


@pytest.fixture
def reader(hub: Receivers) -> Iterator[RemoteReceivers]:
    with RemoteReceivers(hub.http_url, poll=0.01) as remote:
        yield remote


def test_the_remote_reader_sees_what_the_hub_holds(hub: Receivers, reader: RemoteReceivers) -> None:
    assert reader.check()
    assert reader.records() == ()
    httpx.post(hub.slack_url("alertmanager"), json=_slack("[FIRING:1] HighErrorRate"), timeout=5)
    hub.fail_next("/slack/", count=1, status=503)
    httpx.post(hub.slack_url("alertmanager"), json=_slack("[RESOLVED] HighErrorRate"), timeout=5)
    local, remote = hub.records(), reader.records()
    assert len(remote) == 2
    # Equal but for arrived_at, mapped onto this process's clock (the same clock here).
    for mine, theirs in zip(local, remote, strict=True):
        assert type(mine) is type(theirs)
        assert abs(mine.arrived_at - theirs.arrived_at) < 0.05
        assert mine.wall_time == theirs.wall_time
    assert [n.receiver for n in reader.notifications()] == ["slack:#alerts"]
    assert reader.slack()[0].alertname == "HighErrorRate"
    assert reader.injected_failures()[0].status == 503
    assert "slack:#alerts HighErrorRate firing" in reader.summary()
    reader.close()  # as the external stack's stop() does; a restarted stack reads again
    assert len(reader.records()) == 2


def test_clear_moves_the_readers_cursor_and_leaves_the_sink_alone(
    hub: Receivers, reader: RemoteReceivers
) -> None:
    httpx.post(hub.slack_url("a"), json=_slack("[FIRING:1] A"), timeout=5)
    reader.clear()
    assert reader.records() == ()
    assert len(hub.records()) == 1  # read-only: the sink still holds it
    httpx.post(hub.slack_url("a"), json=_slack("[FIRING:1] B"), timeout=5)
    assert [m.alertname for m in reader.slack()] == ["B"]
    hub.clear()  # the sink's own reset does not reuse sequence numbers
    httpx.post(hub.slack_url("a"), json=_slack("[FIRING:1] C"), timeout=5)
    assert [m.alertname for m in reader.slack()] == ["C"]


def test_wait_for_returns_once_a_delivery_lands_and_times_out_with_the_records(
    hub: Receivers, reader: RemoteReceivers
) -> None:
    def deliver() -> None:
        httpx.post(hub.slack_url("a"), json=_slack("[FIRING:1] Late"), timeout=5)

    # The delivery comes 0.2 s after the wait began.
    sender = threading.Timer(0.2, deliver)
    began = time.monotonic()
    sender.start()
    try:
        got = reader.wait_for(
            lambda: next((m for m in reader.slack() if m.alertname == "Late"), None),
            within=5,
            what="Late on slack",
        )
    finally:
        sender.join()
    assert 0.2 <= time.monotonic() - began < 2
    assert began + 0.15 <= got.arrived_at <= time.monotonic()
    with pytest.raises(ExpectationFailed, match="Nope") as caught:
        reader.wait_for(lambda: None, within=0.1, what="Nope on slack")
    assert "slack:#alerts Late firing" in str(caught.value)


def test_the_read_api_rejects_a_bad_cursor(hub: Receivers) -> None:
    bad = httpx.get(f"{hub.http_url}/-/records", params={"after": "x"}, timeout=5)
    assert bad.status_code == 400
    good = httpx.get(f"{hub.http_url}/-/records", params={"after": "0"}, timeout=5)
    assert good.status_code == 200 and good.json()["records"] == []
    assert hub.unexpected() == ()  # reads are not deliveries


def test_an_external_stack_that_does_not_answer_fails_naming_the_url() -> None:
    port = free_port()  # reserved and closed: nothing listens there
    try:
        url = f"http://127.0.0.1:{port}"
        stack = ExternalStack(
            prometheus_url=url,
            alertmanager_url=url,
            service_url=url,
            credentials=ServiceCredentials(),
            ready_timeout=0.5,
        )
        began = time.monotonic()
        with pytest.raises(StackError, match=rf"{url}/-/ready not ready within 0.5s") as caught:
            stack.start()
        assert time.monotonic() - began < 5
        assert caught.value.component == "prometheus"
    finally:
        release_port(port)
