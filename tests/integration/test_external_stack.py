"""The external backend against a stack started separately: a LocalStack in another process,
reached only through its URLs and credentials, as a staging stack would be.

The live configuration read over the APIs gives the floors the stack rendered; the
incident-response drill (error rate through the admin API -> HighErrorRate fires -> exactly
the critical receivers notified, seen through the sink's read API -> incident opened ->
everything resolves) runs through ``ExternalStack`` + ``DrillSession`` unchanged; process
and network faults are refused by default, and nothing was touched by the refusal.
"""

from __future__ import annotations

import dataclasses
import json
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import httpx
import pytest

from alertdrill.clients import AlertmanagerClient, PostableAlert, ServiceClient
from alertdrill.drills import incident_response
from alertdrill.errors import FaultError, StackError
from alertdrill.faults import Outage
from alertdrill.faults.classes import FaultClass
from alertdrill.report.timeline import NOTIFICATION
from alertdrill.session import RESET_TIMEOUT, DrillSession
from alertdrill.stack.components.service import ServiceCredentials
from alertdrill.stack.external import ExternalStack
from alertdrill.stack.render import FAST
from alertdrill.timing import Deadline, eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 120.0
# Runs in its own process: starts a LocalStack, prints what an operator would hand over
# (URLs, credentials) plus the floors it rendered, and stops when stdin closes.
_SEPARATE_STACK = """
import json, sys
from alertdrill.stack.local import LocalStack

stack = LocalStack(drill_filesystem=False)
stack.start()
try:
    creds = stack.credentials
    print(json.dumps({
        "prometheus": stack.prometheus.url,
        "alertmanager": stack.alertmanager.url,
        "service": stack.service.url,
        "receivers": stack.receivers.http_url,
        "fault_proxy": stack.fault_proxy.url,
        "superuser_email": creds.superuser_email,
        "superuser_password": creds.superuser_password,
        "webhook_token": creds.webhook_token,
        "faults_token": creds.faults_token,
        "floors": {n: [f.total, f.resolve_total] for n, f in stack.rendered.floors().items()},
    }), flush=True)
    sys.stdin.read()
finally:
    stack.stop()
"""


def _first_line(stream: IO[str], deadline: Deadline) -> str:
    while not deadline.expired():
        ready, _, _ = select.select([stream], [], [], deadline.remaining())
        if ready:
            return stream.readline()
    return ""


@pytest.fixture(scope="module")
def separate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    log = tmp_path_factory.mktemp("separate-stack") / "stderr.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", _SEPARATE_STACK],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        assert process.stdin is not None and process.stdout is not None
        try:
            line = _first_line(process.stdout, Deadline.after(START_TIMEOUT))
            if not line:
                pytest.fail(f"the separate stack did not start:\n{log.read_text()[-3000:]}")
            yield json.loads(line)
        finally:
            process.stdin.close()  # the child stops its stack and exits
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
                raise
            finally:
                process.stdout.close()


def separate_answers(separate: dict[str, object]) -> bool:
    """The separate stack's service still answers ready (the external stack stops nothing)."""
    return httpx.get(f"{separate['service']}/health/ready", timeout=5).status_code == 200


def _external(separate: dict[str, object], **overrides: object) -> ExternalStack:
    options: dict[str, object] = {
        "prometheus_url": separate["prometheus"],
        "alertmanager_url": separate["alertmanager"],
        "service_url": separate["service"],
        "receivers_url": separate["receivers"],
        "fault_proxy_url": separate["fault_proxy"],
        "credentials": ServiceCredentials(
            superuser_email=str(separate["superuser_email"]),
            superuser_password=str(separate["superuser_password"]),
            webhook_token=str(separate["webhook_token"]),
            faults_token=str(separate["faults_token"]),
        ),
        "ready_timeout": 30.0,
    }
    options.update(overrides)
    return ExternalStack(**options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def external(separate: dict[str, object]) -> Iterator[ExternalStack]:
    with _external(separate) as stack:
        yield stack


def test_the_live_configuration_gives_the_floors_the_stack_rendered(
    external: ExternalStack, separate: dict[str, object]
) -> None:
    live = {n: [f.total, f.resolve_total] for n, f in external.rendered.floors().items()}
    assert live == separate["floors"]
    assert external.rendered.profile == dataclasses.replace(FAST, name="live")
    assert external.rendered.alertmanager_yml.read_text().count("<secret>") > 0
    # stop() stops nothing but drops the private copy; start() reads the live config again.
    copy = external.rendered.directory
    external.stop()
    assert not copy.exists()
    assert separate_answers(separate)
    external.start()
    assert {n: f.total for n, f in external.rendered.floors().items()} == {
        n: totals[0]
        for n, totals in separate["floors"].items()  # type: ignore[attr-defined]
    }


def test_a_drill_runs_through_urls_only_and_destructive_faults_are_refused(
    external: ExternalStack,
) -> None:
    session = DrillSession(external)
    try:
        session.begin("external-incident-response")
        results = incident_response.run(session, progress=lambda _line: None)
        assert results and all(step.passed for step in results)
        # Arrival times read through the sink's API land on this process's timeline.
        notified = [
            latency
            for latency in session.expect.timeline.latencies(session.floors)
            if latency.kind == NOTIFICATION
        ]
        steps = {
            (latency.what, latency.step.rpartition("(")[2].rstrip(")")) for latency in notified
        }
        assert steps == {(r, s) for r in incident_response.CRITICAL for s in ("firing", "resolved")}
        for latency in notified:
            assert latency.floor is not None
            assert 0 < latency.seconds <= latency.floor + session.slack + 5, latency

        with pytest.raises(FaultError, match=r"process faults .*--allow-faults"):
            session.kill("service")
        with pytest.raises(FaultError, match=r"network faults .*--allow-faults"):
            session.outage("postgres")
        with pytest.raises(FaultError, match=r"resource faults .*--allow-faults"):
            session.cpu_hog()
        # The refusals touched nothing: no service fault, no toxic, the service still ready.
        assert session.service.faults() == ()
        assert all(not p.toxics for p in session.fault_proxy.proxies().values())
        assert session.service.health("/health/ready").status_code == 200

        # Positive control: allowed, the network fault is built on the real proxy; process
        # faults stay impossible on a stack alertdrill did not start.
        external.allowed = frozenset({*external.allowed, FaultClass.NETWORK, FaultClass.PROCESS})
        try:
            assert isinstance(session.outage("postgres"), Outage)
            with pytest.raises(FaultError, match="no handle on processes"):
                session.kill("service")
        finally:
            external.allowed = frozenset(
                external.allowed - {FaultClass.NETWORK, FaultClass.PROCESS}
            )
    finally:
        session.close()


def test_someone_elses_alert_and_fault_neither_hold_nor_join_a_drill(
    external: ExternalStack, separate: dict[str, object]
) -> None:
    """Staging as it is: an unrelated alert fires the whole time (posted straight to the
    stack's Alertmanager, far endsAt, routed to the same critical receivers) and someone
    else's service fault is active. The drill still passes, counts only its own alert, and
    its reset deletes only its own fault."""
    others = ServiceClient(
        str(separate["service"]), faults_token=str(separate["faults_token"]), timeout=5
    )
    alertmanager = AlertmanagerClient(str(separate["alertmanager"]), timeout=5)
    foreign = PostableAlert(
        labels={"alertname": "SomeoneElsesAlert", "severity": "critical", "team": "other"},
        annotations={"summary": "not the drill's"},
        starts_at=datetime.now(UTC),
        ends_at=datetime.now(UTC) + timedelta(days=1),
    )
    session = DrillSession(external)
    theirs = others.add_fault("error_rate", duration_seconds=600, routes="*", probability=0.0)
    try:
        alertmanager.post_alerts([foreign])
        # It is delivered like any alert: the sink sees it before the drill begins.
        eventually(
            lambda: any(
                n.alertname == "SomeoneElsesAlert" for n in external.receivers.notifications()
            ),
            within=30,
            what="someone else's alert notified",
        )
        began = time.monotonic()
        session.begin("external-with-neighbours")
        assert time.monotonic() - began < RESET_TIMEOUT  # the reset did not wait it out
        assert "SomeoneElsesAlert" in session.baseline.alertnames

        results = incident_response.run(session, progress=lambda _line: None)
        assert results and all(step.passed for step in results)
        notified = {
            (e.what, e.details.get("alert"))
            for e in session.expect.timeline.events
            if e.kind == NOTIFICATION
        }
        assert notified == {(r, incident_response.ALERT) for r in incident_response.CRITICAL}
        # Still firing and still there: ignored, not resolved by anyone.
        assert any(a.name == "SomeoneElsesAlert" for a in session.alertmanager.alerts())

        report = session.revert_faults()
        assert report.ok
        assert [f.id for f in session.service.faults()] == [theirs.id]
        session.begin("again")  # settles again with the neighbour's alert still firing
    finally:
        session.close()
        # Leave the separate stack as found: the alert resolved, the fault gone.
        alertmanager.post_alerts([dataclasses.replace(foreign, ends_at=datetime.now(UTC))])
        others.delete_fault(theirs.id)
        others.close()
        alertmanager.close()


def test_a_url_that_is_no_receiver_sink_is_named(separate: dict[str, object]) -> None:
    stack = _external(separate, receivers_url=separate["prometheus"], ready_timeout=1.0)
    with pytest.raises(StackError, match=r"(?s)/-/records.*receiver sink") as caught:
        stack.start()
    assert caught.value.component == "receivers"
