"""Small shared test helpers."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient


def wait_ready(client: TestClient, timeout: float = 30.0) -> None:
    """Poll GET /health/ready until 200 (migrations run in the background at start-up)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        response = client.get("/health/ready")
        if response.status_code == 200:
            return
        last = response
        time.sleep(0.05)
    detail = last.text if last is not None else "no response"
    raise AssertionError(f"service not ready within {timeout}s: {detail}")
