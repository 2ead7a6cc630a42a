"""What a drill test leaves behind for people: its HTML report, and allure attachments.

The pytest plugin calls ``publish_drill_test`` after writing a drill test's JSON report. It
writes the HTML page beside the JSON, and when allure-pytest is collecting (``--alluredir``)
attaches to the test: the timeline as text, the HTML report, what every receiver got (the
raw payloads as JSON) and, when the test failed, the components' log tails.

allure is optional: without the package, or without ``--alluredir``, nothing is attached and
nothing fails (``allure.attach`` without a listener is a no-op, but not importing it at all
keeps the plugin usable in an environment that lacks it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from alertdrill.receivers.capture import ReceiverCapture
from alertdrill.report.html import write_html
from alertdrill.report.journal import read_report

__all__ = ["HasRecords", "Published", "publish_drill_test", "receiver_payloads"]


class HasRecords(Protocol):
    """``alertdrill.receivers.Receivers`` as far as this module reads it."""

    def records(self) -> Sequence[object]: ...


class _Attach(Protocol):
    def __call__(self, body: str, *, name: str, kind: str) -> None: ...


@dataclass(frozen=True)
class Published:
    html: Path
    attached: tuple[str, ...]
    """Names of the allure attachments made (empty without allure)."""


def receiver_payloads(receivers: ReceiverCapture) -> str:
    """Every record the receivers hold (Slack, PagerDuty, webhooks, email, Sentry, unexpected),
    in arrival order, as a JSON document: type, wall time and the payload as received."""
    documents: list[dict[str, object]] = []
    for record in receivers.records():
        raw = getattr(record, "raw", "")
        payload: object = raw
        if isinstance(raw, str) and raw[:1] in ("{", "["):
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = raw  # not JSON after all: keep the text
        documents.append(
            {
                "type": type(record).__name__,
                "wall_time": getattr(record, "wall_time", None),
                "payload": payload if raw else repr(record),
            }
        )
    return json.dumps(documents, indent=2, ensure_ascii=False, default=str)


def publish_drill_test(
    report_json: Path,
    *,
    receivers: ReceiverCapture,
    logs: Mapping[str, str] | None,
    alluredir: str | None,
) -> Published:
    """Write ``report_json``'s HTML beside it; attach to allure when ``alluredir`` is set.

    ``logs`` (component → log tail) are attached only when given, i.e. on failure.
    """
    report = read_report(report_json)
    html = write_html(report, report_json.with_suffix(".html"))
    attach = _allure_attach() if alluredir else None
    if attach is None:
        return Published(html, ())
    names = ["alertdrill timeline", "alertdrill report", "receiver payloads"]
    attach(report.timeline_text, name=names[0], kind="text")
    attach(html.read_text(encoding="utf-8"), name=names[1], kind="html")
    attach(receiver_payloads(receivers), name=names[2], kind="json")
    for component, text in sorted((logs or {}).items()):
        names.append(f"log {component}")
        attach(text, name=names[-1], kind="text")
    return Published(html, tuple(names))


def _allure_attach() -> _Attach | None:
    try:
        import allure
    except ImportError:
        return None
    kinds = {
        "text": allure.attachment_type.TEXT,
        "html": allure.attachment_type.HTML,
        "json": allure.attachment_type.JSON,
    }

    def attach(body: str, *, name: str, kind: str) -> None:
        allure.attach(body, name=name, attachment_type=kinds[kind])

    return attach
