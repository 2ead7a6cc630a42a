"""``RemoteReceivers``: the records of an alertdrill receiver sink running elsewhere.

Reads the sink's read API (``GET /-/records``, see ``http_sink``) and offers the same read
side as the in-process hub (``ReceiverCapture``), so expectations and the session's reset work
unchanged on an external stack. Read-only: the sink's records are never deleted; ``clear()``
moves this reader's cursor past everything held so far (sequence numbers, issued by the sink,
are never reused), so several drills, or readers, can share one sink.

Arrival times: each record's ``arrived_at`` is on the sink's monotonic clock. Every read also
returns the sink's clock; the reader maps it onto its own as the midpoint of the request,
keeping the estimate from the fastest round trip seen (error at most half that round trip,
about a millisecond on one host or a LAN), so latencies measured against this process's
timeline stay right without trusting wall clocks. ``wait_for`` polls every ``poll`` seconds:
a delivery is noticed up to one poll late, but its recorded arrival time is exact.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import TypeVar

from alertdrill.clients._http import ApiError, JsonHttp, as_list, as_object
from alertdrill.errors import ExpectationFailed
from alertdrill.lifecycle import CloseContext
from alertdrill.receivers.capture import RecordViews, with_received
from alertdrill.receivers.codec import decode_record
from alertdrill.receivers.records import PayloadError, Record
from alertdrill.timing import eventually, parse_duration

__all__ = ["RemoteReceivers"]

T = TypeVar("T")
_COMPONENT = "receivers"


@dataclasses.dataclass(frozen=True)
class _Read:
    last_seq: int
    records: tuple[Record, ...]


class RemoteReceivers(RecordViews, CloseContext):
    """The records of the sink at ``url``; close it (or use ``with``)."""

    def __init__(self, url: str, *, timeout: float = 5.0, poll: float = 0.05) -> None:
        if poll <= 0:
            raise ValueError(f"poll must be positive, got {poll}")
        self.url = url.rstrip("/")
        self.poll = poll
        self.timeout = timeout
        self._http: JsonHttp | None = None  # opened on first read, again after close()
        self._cursor = 0  # records with a sequence number up to this were cleared
        self._offset = 0.0  # local monotonic - sink monotonic
        self._best_rtt = math.inf

    @property
    def http_url(self) -> str:
        return self.url

    def check(self) -> bool:
        """True, or StackError (unreachable) / ApiError (not a sink with the read API)."""
        try:
            self._read()
        except ApiError as error:
            raise ApiError(
                f"{self.url}/-/records: {error.message}",
                component=_COMPONENT,
                status_code=error.status_code,
                hint="is this an alertdrill receiver sink with the read API (GET /-/records)?",
            ) from error
        return True

    def _read(self) -> _Read:
        sent = time.monotonic()
        if self._http is None:
            self._http = JsonHttp(self.url, component=_COMPONENT, timeout=self.timeout)
        raw = self._http.json("GET", "/-/records", params={"after": str(self._cursor)})
        received = time.monotonic()
        body = as_object(raw, "records response", _COMPONENT)
        last_seq, sink_now = body.get("last_seq"), body.get("monotonic")
        if not isinstance(last_seq, int) or not isinstance(sink_now, int | float):
            raise ApiError(
                f"GET /-/records: no last_seq/monotonic in {sorted(body)}", component=_COMPONENT
            )
        if received - sent <= self._best_rtt:
            self._best_rtt = received - sent
            self._offset = (sent + received) / 2 - float(sink_now)
        items = as_list(body.get("records"), "records", _COMPONENT)
        try:
            decoded = tuple(decode_record(item) for item in items)
        except PayloadError as error:
            raise ApiError(f"GET /-/records: {error}", component=_COMPONENT) from error
        local = tuple(
            dataclasses.replace(r, arrived_at=r.arrived_at + self._offset) for r in decoded
        )
        return _Read(last_seq, local)

    def records(self) -> tuple[Record, ...]:
        """Everything the sink holds since the last ``clear()``, in arrival order."""
        return self._read().records

    def clear(self) -> None:
        """Forget (for this reader) everything the sink holds now."""
        self._cursor = max(self._cursor, self._read().last_seq)

    def wait_for(self, predicate: Callable[[], T | None], *, within: float | str, what: str) -> T:
        """Poll until ``predicate()`` (a function of the records) is truthy; return its value.

        Raises ExpectationFailed at the deadline, with what was received so far.
        """
        budget = parse_duration(within)
        try:
            return eventually(predicate, within=budget, every=self.poll, what=what)
        except ExpectationFailed as error:
            try:
                received = self.summary()
            except Exception as read_error:  # the sink itself is what failed: say so
                received = f"(cannot read {self.url}: {read_error})"
            raise with_received(error, received) from error

    def close(self) -> None:
        """Close the connection pool; a later read opens a new one."""
        http, self._http = self._http, None
        if http is not None:
            http.close()

    def __repr__(self) -> str:
        return f"<RemoteReceivers {self.url}>"
