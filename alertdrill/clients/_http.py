"""What the three clients share: one bounded HTTP session, one error shape, JSON parsing helpers.

Errors keep to the harness's tree: a component that cannot be reached (refused, timed out) is
a ``StackError`` naming it; a component that answered something the caller did not expect (a
status, or a body of the wrong shape) is an ``ApiError``, a ``StackError`` that also carries the
status code, so a caller can tell "Prometheus is down" from "my query was wrong".
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from datetime import datetime

import httpx

from alertdrill.errors import StackError
from alertdrill.lifecycle import CloseContext
from alertdrill.receivers.records import FrozenMap

__all__ = [
    "ApiError",
    "JsonHttp",
    "as_list",
    "as_object",
    "as_text",
    "parse_time",
    "text_map",
]

# How much of an unexpected body goes into an error message.
_BODY_CHARS = 500
# Go's zero time.Time ("0001-01-01T00:00:00Z") means "not set" in Prometheus and Alertmanager.
_GO_ZERO_YEAR = 1


class ApiError(StackError):
    """A component answered, but not as expected (status code or body shape)."""

    def __init__(
        self, message: str, *, component: str, status_code: int | None = None, hint: str = ""
    ) -> None:
        super().__init__(message, component=component, hint=hint)
        self.status_code = status_code

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_api_error, (self.message, self.component, self.status_code, self.hint))


def _rebuild_api_error(
    message: str, component: str, status_code: int | None, hint: str
) -> ApiError:
    return ApiError(message, component=component, status_code=status_code, hint=hint)


class JsonHttp(CloseContext):
    """One ``httpx.Client`` for one component: base URL, a timeout on every call, errors mapped."""

    def __init__(self, base_url: str, *, component: str, timeout: float) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self.base_url = base_url.rstrip("/")
        self.component = component
        self.timeout = timeout
        self._client = httpx.Client(base_url=self.base_url, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | list[str]] | None = None,
        json_body: object = None,
        headers: Mapping[str, str] | None = None,
        expect: Collection[int] | None = (200,),
    ) -> httpx.Response:
        """Send one request; ``expect=None`` accepts any status (the caller inspects it)."""
        try:
            response = self._client.request(
                method,
                path,
                params=params,
                json=json_body,
                headers=headers,
            )
        except httpx.TimeoutException as error:
            raise StackError(
                f"{method} {self.base_url}{path} timed out after {self.timeout:g}s",
                component=self.component,
                hint="the component is hung or overloaded (paused by a fault?)",
            ) from error
        except httpx.TransportError as error:
            raise StackError(
                f"{method} {self.base_url}{path} failed: {error}",
                component=self.component,
                hint="is the component running and listening on this address?",
            ) from error
        if expect is not None and response.status_code not in expect:
            raise ApiError(
                f"{method} {path} answered {response.status_code}: {snippet(response.text)}",
                component=self.component,
                status_code=response.status_code,
            )
        return response

    def json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | list[str]] | None = None,
        json_body: object = None,
        headers: Mapping[str, str] | None = None,
        expect: Collection[int] | None = (200,),
    ) -> object:
        """``request`` and the decoded body; a body that is not JSON is an ApiError."""
        response = self.request(
            method, path, params=params, json_body=json_body, headers=headers, expect=expect
        )
        return decode_json(response, self.component)

    def close(self) -> None:
        self._client.close()


class HttpClientBase(CloseContext):
    """What every client owning one `JsonHttp` shares: `close()` and use with `with`."""

    _http: JsonHttp

    def close(self) -> None:
        self._http.close()


def snippet(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _BODY_CHARS else text[:_BODY_CHARS] + "…"


def decode_json(response: httpx.Response, component: str) -> object:
    try:
        decoded: object = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ApiError(
            f"{response.request.method} {response.request.url.path}: body is not JSON: "
            f"{snippet(response.text)}",
            component=component,
            status_code=response.status_code,
        ) from error
    return decoded


# -- shape checks: parse at the edge, fail with the field's name -------------


def _shape_error(what: str, expected: str, value: object, component: str) -> ApiError:
    return ApiError(
        f"unexpected response: {what} should be {expected}, got {snippet(repr(value))}",
        component=component,
    )


def as_object(value: object, what: str, component: str) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise _shape_error(what, "an object", value, component)
    return value


def as_list(value: object, what: str, component: str) -> list[object]:
    if not isinstance(value, list):
        raise _shape_error(what, "a list", value, component)
    return value


def as_text(value: object, what: str, component: str) -> str:
    if not isinstance(value, str):
        raise _shape_error(what, "a string", value, component)
    return value


def text_map(value: object, what: str, component: str) -> FrozenMap:
    """A str→str JSON object (labels, annotations) as an immutable mapping; null is empty."""
    if value is None:
        return FrozenMap()
    obj = as_object(value, what, component)
    return FrozenMap((str(k), as_text(v, f"{what}.{k}", component)) for k, v in obj.items())


def parse_time(value: object, what: str, component: str) -> datetime | None:
    """An RFC 3339 time; null, "" and Go's zero time are None (3.11 reads "Z" and nanoseconds)."""
    if value is None or value == "":
        return None
    text = as_text(value, what, component)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as error:
        raise _shape_error(what, "an RFC 3339 time", value, component) from error
    return None if parsed.year == _GO_ZERO_YEAR else parsed
