"""Sentry's ingestion protocol → ``SentryEvent``.

The service's SDK posts envelopes (``/api/<project>/envelope/``) or, from old
SDKs, bare events (``/api/<project>/store/``), compressed with gzip or brotli.
Envelopes are split with the SDK's own parser (``Envelope.deserialize``), so
the sink reads exactly what the SDK wrote; only ``event`` items become records
(sessions, client reports and transactions are acknowledged and dropped).
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Mapping
from urllib.parse import parse_qs

import brotli  # type: ignore[import-untyped]  # no stubs; two functions used
from sentry_sdk.envelope import Envelope

from alertdrill.receivers.parsers import (
    _as_object,
    _get_list,
    _get_object,
    _get_str,
    _load_object,
    _loose_map,
    _scalar_text,
    _text,
)
from alertdrill.receivers.records import (
    Arrival,
    Breadcrumb,
    PayloadError,
    SentryEvent,
    SentryException,
    SentryRequest,
    SentryUser,
)

__all__ = [
    "decode_body",
    "parse_sentry_envelope",
    "parse_sentry_event",
    "parse_sentry_store",
    "sentry_key",
]

# A decompressed body larger than this is refused (413), not buffered.
MAX_DECODED_BYTES = 32 * 1024 * 1024


def decode_body(body: bytes, content_encoding: str) -> bytes:
    """Undo ``Content-Encoding`` (gzip, br, deflate, identity; several applied in order)."""
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    data = body
    for coding in reversed(codings):  # the last coding listed was applied last
        try:
            if coding in ("gzip", "x-gzip"):
                data = gzip.decompress(data)
            elif coding == "br":
                data = bytes(brotli.decompress(data))
            elif coding == "deflate":
                data = _inflate(data)
            elif coding != "identity":
                raise PayloadError(f"unsupported Content-Encoding {coding!r}")
        except (OSError, EOFError, zlib.error, brotli.error) as error:
            raise PayloadError(f"body is not valid {coding}: {error}") from error
        if len(data) > MAX_DECODED_BYTES:
            raise PayloadError(f"decoded body larger than {MAX_DECODED_BYTES} bytes")
    return data


def _inflate(data: bytes) -> bytes:
    # HTTP "deflate" is zlib-wrapped by the spec, raw deflate in some clients.
    try:
        return zlib.decompress(data)
    except zlib.error:
        return zlib.decompress(data, -zlib.MAX_WBITS)


def sentry_key(headers: Mapping[str, str], query: str) -> str:
    """The DSN's public key from ``X-Sentry-Auth`` (or ``?sentry_key=``), "" if absent."""
    lower = {k.lower(): v for k, v in headers.items()}
    auth = lower.get("x-sentry-auth", "")
    if auth.lower().startswith("sentry "):
        for part in auth[len("sentry ") :].split(","):
            key, _, value = part.strip().partition("=")
            if key == "sentry_key":
                return value
    return parse_qs(query).get("sentry_key", [""])[0]


def parse_sentry_envelope(
    project_id: str,
    body: bytes,
    *,
    public_key: str = "",
    content_encoding: str = "",
    arrival: Arrival | None = None,
) -> tuple[SentryEvent, ...]:
    """Every ``event`` item of an (already decoded) envelope."""
    at = arrival or Arrival.now()
    try:
        envelope = Envelope.deserialize(body)
    except Exception as error:  # json errors, bad lengths: the SDK parser is not defensive
        raise PayloadError(f"sentry envelope: cannot parse ({error})") from error
    events: list[SentryEvent] = []
    for item in envelope.items:
        if item.type != "event":
            continue
        payload = item.payload.json
        if payload is None:
            raise PayloadError("sentry envelope: event item without a JSON payload")
        events.append(
            parse_sentry_event(
                project_id,
                payload,
                public_key=public_key,
                content_encoding=content_encoding,
                arrival=at,
                raw=item.get_bytes(),
            )
        )
    return tuple(events)


def parse_sentry_store(
    project_id: str,
    body: bytes,
    *,
    public_key: str = "",
    content_encoding: str = "",
    arrival: Arrival | None = None,
) -> SentryEvent:
    """A legacy ``/store/`` body: the event JSON itself."""
    event = _load_object(body, "sentry event")
    return parse_sentry_event(
        project_id,
        event,
        public_key=public_key,
        content_encoding=content_encoding,
        arrival=arrival,
        raw=body,
    )


def parse_sentry_event(
    project_id: str,
    event: object,
    *,
    public_key: str = "",
    content_encoding: str = "",
    arrival: Arrival | None = None,
    raw: bytes = b"",
) -> SentryEvent:
    """One event payload (the JSON object the SDK serialized) → ``SentryEvent``."""
    at = arrival or Arrival.now()
    obj = _as_object(event, "sentry event")
    exceptions = tuple(_exception(x) for x in _values(obj.get("exception"), "exception"))
    outermost = exceptions[-1] if exceptions else None
    user = obj.get("user")
    request = obj.get("request")
    return SentryEvent(
        project_id=project_id,
        public_key=public_key,
        content_encoding=content_encoding,
        event_id=_get_str(obj, "event_id", "sentry event"),
        level=_get_str(obj, "level", "sentry event") or "error",
        message=_message(obj),
        exception_type=outermost.type if outermost else "",
        exception_value=outermost.value if outermost else "",
        exceptions=exceptions,
        tags=_loose_map(obj.get("tags"), "sentry tags"),
        user=_user(_as_object(user, "sentry user")) if user else None,
        breadcrumbs=tuple(_breadcrumb(x) for x in _values(obj.get("breadcrumbs"), "breadcrumbs")),
        request=_request(_as_object(request, "sentry request")) if request else None,
        environment=_get_str(obj, "environment", "sentry event"),
        release=_get_str(obj, "release", "sentry event"),
        platform=_get_str(obj, "platform", "sentry event"),
        server_name=_get_str(obj, "server_name", "sentry event"),
        transaction=_get_str(obj, "transaction", "sentry event"),
        logger=_get_str(obj, "logger", "sentry event"),
        contexts_json=json.dumps(_get_object(obj, "contexts", "sentry event"), sort_keys=True),
        arrived_at=at.arrived_at,
        wall_time=at.wall_time,
        raw=_text(raw) if raw else json.dumps(obj, sort_keys=True),
    )


def _values(value: object, what: str) -> list[object]:
    """Sentry's ``{"values": [...]}`` interfaces, also accepted as a bare list."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return _get_list(_as_object(value, what), "values", what)


def _message(obj: Mapping[str, object]) -> str:
    for key in ("logentry", "message"):
        value = obj.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, dict):
            text = value.get("formatted") or value.get("message")
            if isinstance(text, str) and text:
                return text
    return ""


def _exception(value: object) -> SentryException:
    exc = _as_object(value, "sentry exception")
    mechanism = _get_object(exc, "mechanism", "sentry exception")
    handled = mechanism.get("handled")
    return SentryException(
        type=_get_str(exc, "type", "sentry exception"),
        value=_scalar_text(exc.get("value", "")),
        module=_get_str(exc, "module", "sentry exception"),
        mechanism=_get_str(mechanism, "type", "sentry mechanism"),
        handled=handled if isinstance(handled, bool) else None,
    )


def _user(user: Mapping[str, object]) -> SentryUser:
    def text(key: str) -> str:
        value = user.get(key)
        return "" if value is None else _scalar_text(value)

    return SentryUser(
        id=text("id"), email=text("email"), username=text("username"), ip_address=text("ip_address")
    )


def _breadcrumb(value: object) -> Breadcrumb:
    crumb = _as_object(value, "sentry breadcrumb")
    timestamp = crumb.get("timestamp")
    return Breadcrumb(
        type=_get_str(crumb, "type", "sentry breadcrumb"),
        category=_get_str(crumb, "category", "sentry breadcrumb"),
        message=_scalar_text(crumb.get("message") or ""),
        level=_get_str(crumb, "level", "sentry breadcrumb"),
        timestamp="" if timestamp is None else _scalar_text(timestamp),
        data=_loose_map(crumb.get("data"), "breadcrumb data"),
    )


def _request(request: Mapping[str, object]) -> SentryRequest:
    query = request.get("query_string")
    return SentryRequest(
        method=_get_str(request, "method", "sentry request"),
        url=_get_str(request, "url", "sentry request"),
        query_string="" if query is None else _scalar_text(query),
        headers=_loose_map(request.get("headers"), "sentry request headers"),
    )
