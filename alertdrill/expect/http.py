"""``expect.http(base_url, path).status(code)``: what an endpoint answers, e.g. health checks."""

from __future__ import annotations

from typing import Protocol

import httpx

from alertdrill.expect.budget import Within
from alertdrill.expect.context import Context, HttpObservation, Seen

__all__ = ["DEFAULT_WITHIN", "HasUrl", "HttpExpectation", "httpx_get"]

# Health endpoints answer from state the service already holds; seconds, not a floor.
DEFAULT_WITHIN = 5.0
_BODY_CHARS = 300


class HasUrl(Protocol):
    """A component or endpoint with a base URL (``stack.service``)."""

    @property
    def url(self) -> str: ...


def httpx_get(url: str, timeout: float) -> HttpObservation:
    """GET without redirects or retries: the first answer is the observation."""
    response = httpx.get(url, timeout=timeout, follow_redirects=False)
    return HttpObservation(status_code=response.status_code, body=response.text[:_BODY_CHARS])


class HttpExpectation:
    def __init__(self, context: Context, base: str | HasUrl, path: str) -> None:
        self._ctx = context
        base_url = base if isinstance(base, str) else base.url
        self.url = base_url.rstrip("/") + "/" + path.lstrip("/")

    def __repr__(self) -> str:
        return f"<http {self.url}>"

    def status(
        self, code: int, *, within: Within = DEFAULT_WITHIN, timeout: float = 2.0
    ) -> HttpObservation:
        """``GET`` answers ``code`` (each request bounded by ``timeout``)."""

        def probe() -> Seen[HttpObservation]:
            seen = self._ctx.http_get(self.url, timeout)
            return Seen(seen if seen.status_code == code else None, seen)

        return self._ctx.until(
            probe,
            budget=self._ctx.budget(within, alert=None),
            what=f"GET {self.url} → {code}",
        )
