"""A Sentry transport that keeps envelopes in memory, for asserting what would be sent."""

from __future__ import annotations

import threading
from typing import Any

from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport


class CapturingTransport(Transport):
    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self._lock = threading.Lock()
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        with self._lock:
            self.envelopes.append(envelope)

    def events(self) -> list[dict[str, Any]]:
        """Error and message events (not sessions/transactions), as sent."""
        with self._lock:
            envelopes = list(self.envelopes)
        found: list[dict[str, Any]] = []
        for envelope in envelopes:
            for item in envelope.items:
                if item.type == "event" and item.payload.json is not None:
                    found.append(item.payload.json)
        return found
