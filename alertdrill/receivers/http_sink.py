"""One HTTP server that plays Slack, PagerDuty, a generic webhook and Sentry.

Routes (everything else is 404 and recorded as unexpected, so a misrouted
integration shows up instead of vanishing):

    POST /slack/<name>                  Slack incoming webhook   → 200 "ok"
    POST /pagerduty/v2/enqueue          PagerDuty Events API v2  → 202 {"status": "success", ...}
    POST /webhook/<name>                Alertmanager webhook v4  → 200, or the upstream's reply
    POST /api/<project>/envelope/       Sentry envelope          → 200 {"id": ...}
    POST /api/<project>/store/          Sentry legacy store      → 200 {"id": ...}
    GET  /-/ready                       readiness probe, not recorded
    GET  /-/records?after=<seq>         read API: held records as JSON, not recorded

The read API lets a drill on another process or host read what this sink captured (an
external stack's ``--receivers-url``; ``alertdrill.receivers.remote``). It is read-only:
``{"last_seq": n, "monotonic": <sink's clock>, "records": [{"seq": n, "type": ...,
"record": {...}}, ...]}`` (``alertdrill.receivers.codec``), every held record whose
sequence number is above ``after``. No credentials are kept in records; like the
receiving routes it is unauthenticated, so bind the sink where only the drill reaches it.

A body the real service would reject gets the real service's error status
(Slack 400 "invalid_payload", PagerDuty 400 "invalid event") and an UnexpectedRequest.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TypeVar, cast
from urllib.parse import parse_qs, urlsplit

import httpx

from alertdrill.errors import StackError
from alertdrill.receivers.codec import encode_record
from alertdrill.receivers.parsers import parse_pagerduty, parse_slack, parse_webhook
from alertdrill.receivers.records import (
    Arrival,
    InjectedFailure,
    PayloadError,
    Record,
    UnexpectedRequest,
)
from alertdrill.receivers.sentry import (
    decode_body,
    parse_sentry_envelope,
    parse_sentry_store,
    sentry_key,
)
from alertdrill.stack.ports import LOCALHOST, free_port, release_port

__all__ = ["HttpSink"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_SLACK = re.compile(r"/slack/(?P<name>[A-Za-z0-9_.:#-]+)/?")
_PAGERDUTY = re.compile(r"/pagerduty/v2/enqueue/?")
_WEBHOOK = re.compile(r"/webhook/(?P<name>[A-Za-z0-9_.:-]+)/?")
_SENTRY = re.compile(r"/api/(?P<project>\d+)/(?P<kind>envelope|store)/?")
_MAX_BODY = 16 * 1024 * 1024
_BODY_PREVIEW = 2000
# Headers a forwarded webhook keeps: what the upstream authenticates and parses.
_FORWARDED_HEADERS = ("content-type", "authorization", "user-agent")
_BIND_ATTEMPTS = 3
# Bounds every socket read, so a stalled client cannot hold stop() up for long.
_SOCKET_TIMEOUT = 10.0


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"


def _json_reply(status: int, payload: object) -> _Reply:
    return _Reply(status, json.dumps(payload).encode(), "application/json")


@dataclass
class _FailRule:
    path_prefix: str
    remaining: int
    status: int


class _Rejected(Exception):
    """A request to refuse with ``reply``, recorded as unexpected with ``reason``."""

    def __init__(self, reply: _Reply, reason: str) -> None:
        super().__init__(reason)
        self.reply = reply
        self.reason = reason


class HttpSink:
    """The HTTP receivers; every delivery goes to ``on_record`` (called from handler threads)."""

    def __init__(
        self,
        on_record: Callable[[Record], None],
        *,
        on_replace: Callable[[Record, Record], None] | None = None,
        read_records: Callable[[int], tuple[int, tuple[tuple[int, Record], ...]]] | None = None,
        host: str = LOCALHOST,
        port: int | None = None,
        forward_timeout: float = 10.0,
    ) -> None:
        self._on_record = on_record
        # None: a free port of the kernel's choosing; a number: exactly that one (a sink
        # others are configured to reach, `alertdrill receivers`), or a StackError.
        self._fixed_port = port
        self._on_replace = on_replace
        self._read_records = read_records
        self._host = host
        self._forward_timeout = forward_timeout
        self._lock = threading.Lock()
        self._forwards: dict[str, str] = {}
        self._fail_rules: list[_FailRule] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._client: httpx.Client | None = None
        self._port: int | None = None

    # -- lifecycle -----------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise StackError("not started", component="receivers")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def start(self) -> None:
        if self._server is not None:
            raise StackError("HTTP sink already running", component="receivers")
        server: _Server | None = None
        if self._fixed_port is not None:
            try:
                server = _Server((self._host, self._fixed_port), self)
            except OSError as error:
                raise StackError(
                    f"HTTP sink cannot bind {self._host}:{self._fixed_port}: {error}",
                    component="receivers",
                    hint="is something else listening there? pick another --http-port",
                ) from error
        for attempt in range(0 if server is not None else _BIND_ATTEMPTS):
            port = free_port(self._host)
            try:
                server = _Server((self._host, port), self)
                break
            except OSError as error:  # taken between free_port() and bind(): try another
                release_port(port)
                if attempt == _BIND_ATTEMPTS - 1:
                    raise StackError(
                        f"HTTP sink cannot bind {self._host}: {error}", component="receivers"
                    ) from error
        assert server is not None
        self._server = server
        self._port = server.server_address[1]
        self._client = httpx.Client(timeout=self._forward_timeout, trust_env=False)
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},  # how fast shutdown() is noticed
            name=f"alertdrill-http-sink-{self._port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, join every thread, close the socket, release the port. Idempotent."""
        server, thread, client, port = self._server, self._thread, self._client, self._port
        self._server = self._thread = self._client = None
        self._port = None
        if server is not None:
            server.shutdown()
            server.server_close()  # joins handler threads (block_on_close)
        if thread is not None:
            thread.join(timeout=10.0)
        if client is not None:
            client.close()
        if port is not None and self._fixed_port is None:  # only what free_port handed out
            release_port(port)

    # -- configuration -------------------------------------------------------

    def set_forward(self, name: str, url: str | None) -> None:
        """Relay ``/webhook/<name>`` to ``url`` (None: stop relaying, reply 200 ourselves)."""
        with self._lock:
            if url is None:
                self._forwards.pop(name, None)
            else:
                self._forwards[name] = url

    def fail_next(self, path_prefix: str, count: int = 1, status: int = 500) -> None:
        """Answer the next ``count`` requests under ``path_prefix`` with ``status``."""
        if count < 1 or not 100 <= status <= 599:
            raise ValueError(
                f"fail_next needs count >= 1 and an HTTP status, got {count}, {status}"
            )
        with self._lock:
            self._fail_rules.append(_FailRule(path_prefix, count, status))

    def clear_failures(self) -> None:
        with self._lock:
            self._fail_rules.clear()

    def _take_failure(self, path: str) -> int | None:
        with self._lock:
            for rule in self._fail_rules:
                if path.startswith(rule.path_prefix):
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        self._fail_rules.remove(rule)
                    return rule.status
        return None

    # -- request handling (called from handler threads) -----------------------

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes, at: Arrival
    ) -> _Reply:
        split = urlsplit(target)
        path = split.path
        if method == "GET" and path == "/-/ready":
            return _Reply(200, b"ok")
        if method == "GET" and path == "/-/records" and self._read_records is not None:
            return self._records_reply(split.query)
        try:
            failure = self._take_failure(path)
            if failure is not None:
                self._on_record(InjectedFailure(path, failure, at.arrived_at, at.wall_time))
                return _Reply(failure, b"injected failure")
            if method != "POST":
                raise _Rejected(_Reply(405, b"method not allowed"), f"{method} is not POST")
            return self._route(path, split.query, headers, body, at)
        except _Rejected as rejected:
            return self._unexpected(method, target, headers, body, rejected, at)
        except Exception as error:  # a parser bug must not take the sink down
            log.exception("receiver sink failed on %s %s", method, target)
            crash = _Rejected(_Reply(500, b"sink error"), f"sink error: {error!r}")
            return self._unexpected(method, target, headers, body, crash, at)

    def _records_reply(self, query: str) -> _Reply:
        assert self._read_records is not None
        after_text = parse_qs(query).get("after", ["0"])[-1]
        try:
            after = int(after_text)
        except ValueError:
            return _json_reply(400, {"error": f"after={after_text!r} is not an integer"})
        last_seq, held = self._read_records(after)
        return _json_reply(
            200,
            {
                "last_seq": last_seq,
                # The sink's monotonic clock, so a reader can map arrival times onto its own.
                "monotonic": time.monotonic(),
                "records": [{"seq": seq, **encode_record(record)} for seq, record in held],
            },
        )

    def _unexpected(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        rejected: _Rejected,
        at: Arrival,
    ) -> _Reply:
        reply = rejected.reply
        self._on_record(
            UnexpectedRequest(
                protocol="http",
                method=method,
                path=target,
                status=reply.status,
                reason=rejected.reason,
                content_type=_header(headers, "content-type"),
                body=body[:_BODY_PREVIEW].decode("utf-8", "replace"),
                arrived_at=at.arrived_at,
                wall_time=at.wall_time,
            )
        )
        return reply

    def _route(
        self, path: str, query: str, headers: Mapping[str, str], body: bytes, at: Arrival
    ) -> _Reply:
        if match := _SLACK.fullmatch(path):
            name = match["name"]
            message = _parsed(lambda: parse_slack(name, body, at), 400, b"invalid_payload")
            self._on_record(message)
            return _Reply(200, b"ok")
        if _PAGERDUTY.fullmatch(path):
            event = _parsed(
                lambda: parse_pagerduty(body, at),
                400,
                json.dumps({"status": "invalid event", "message": "Event object is invalid"}),
            )
            self._on_record(event)
            return _json_reply(
                202,
                {"status": "success", "message": "Event processed", "dedup_key": event.dedup_key},
            )
        if match := _WEBHOOK.fullmatch(path):
            return self._webhook(match["name"], headers, body, at)
        if match := _SENTRY.fullmatch(path):
            return self._sentry(match["project"], match["kind"], query, headers, body, at)
        raise _Rejected(_Reply(404, b"not found"), "no receiver at this path")

    def _webhook(self, name: str, headers: Mapping[str, str], body: bytes, at: Arrival) -> _Reply:
        delivery = _parsed(lambda: parse_webhook(name, body, headers, at), 400, b"bad payload")
        with self._lock:
            upstream = self._forwards.get(name)
        if upstream is None:
            self._on_record(delivery)
            return _Reply(200, b"")
        if self._on_replace is None:
            # Recorded after the relay, with the upstream's verdict: each retry is its own record.
            reply = self._forward(upstream, headers, body)
            self._on_record(dataclasses.replace(delivery, forwarded_status=reply.status))
            return reply
        # Recorded on arrival (forwarded_status None: in flight), so a wait sees the delivery
        # when Alertmanager made it, not when a slow upstream answered (a service whose database
        # is down holds the request for its pool timeout, ~5 s). The upstream's verdict then
        # replaces the record in place; each retry is still its own record.
        self._on_record(delivery)
        reply = self._forward(upstream, headers, body)
        self._on_replace(delivery, dataclasses.replace(delivery, forwarded_status=reply.status))
        return reply

    def _forward(self, url: str, headers: Mapping[str, str], body: bytes) -> _Reply:
        """Relay byte-identically; the upstream's status reaches Alertmanager, which retries 5xx."""
        client = self._client
        if client is None:
            return _Reply(503, b"sink stopping")
        relayed = {k: v for k, v in headers.items() if k.lower() in _FORWARDED_HEADERS}
        try:
            response = client.post(url, content=body, headers=relayed)
        except httpx.TimeoutException as error:
            log.warning("webhook forward to %s timed out: %s", url, error)
            return _Reply(504, f"upstream timed out: {error}".encode())
        except httpx.HTTPError as error:
            log.warning("webhook forward to %s failed: %s", url, error)
            return _Reply(502, f"upstream unreachable: {error}".encode())
        return _Reply(
            response.status_code,
            response.content,
            response.headers.get("content-type", "application/octet-stream"),
        )

    def _sentry(
        self,
        project: str,
        kind: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        at: Arrival,
    ) -> _Reply:
        key = sentry_key(headers, query)
        if not key:
            raise _Rejected(_json_reply(401, {"detail": "missing authorization"}), "no sentry_key")
        bad = _json_reply(400, {"detail": "invalid payload"})
        encoding = _header(headers, "content-encoding")
        decoded = _parsed(lambda: decode_body(body, encoding), 400, bad)
        parse = parse_sentry_store if kind == "store" else parse_sentry_envelope
        parsed = _parsed(
            lambda: parse(project, decoded, public_key=key, content_encoding=encoding, arrival=at),
            400,
            bad,
        )
        events = parsed if isinstance(parsed, tuple) else (parsed,)
        for event in events:
            self._on_record(event)
        return _json_reply(200, {"id": events[0].event_id} if events else {})


def _parsed(parse: Callable[[], T], status: int, body: bytes | str | _Reply) -> T:
    """``parse()``, with a PayloadError turned into a rejection with the integration's reply."""
    try:
        return parse()
    except PayloadError as error:
        if isinstance(body, _Reply):
            reply = body
        else:
            raw = body.encode() if isinstance(body, str) else body
            reply = _Reply(
                status, raw, "application/json" if raw.startswith(b"{") else "text/plain"
            )
        raise _Rejected(reply, str(error)) from error


def _header(headers: Mapping[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name), "")


class _Server(ThreadingHTTPServer):
    # Handler threads are joined by server_close(), so stop() leaves no thread behind;
    # HTTP/1.0 replies close the connection, so no thread idles on a keep-alive socket.
    daemon_threads = False
    block_on_close = True
    # The default backlog of 5 overflows when Alertmanager flushes many groups at once; the
    # kernel then drops SYNs that the client retries only after 1 s, 3 s, ... — whole seconds
    # of false notification latency.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sink: HttpSink) -> None:
        self.sink = sink
        super().__init__(address, _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        log.exception("receiver sink: error serving %s", client_address)


class _Handler(BaseHTTPRequestHandler):
    server_version = "alertdrill-receivers"
    protocol_version = "HTTP/1.0"
    timeout = _SOCKET_TIMEOUT

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _serve(self) -> None:
        at = Arrival.now()
        sink = cast(_Server, self.server).sink
        headers = dict(self.headers.items())
        try:
            body = self._read_body()
        except _Rejected as rejected:
            reply = sink._unexpected(self.command, self.path, headers, b"", rejected, at)
        else:
            reply = sink.handle(self.command, self.path, headers, body, at)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            return b""
        try:
            length = int(length_text)
        except ValueError:
            raise _Rejected(_Reply(400, b"bad Content-Length"), "bad Content-Length") from None
        if length < 0 or length > _MAX_BODY:
            raise _Rejected(_Reply(413, b"body too large"), f"Content-Length {length}")
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                size = int(line, 16)
            except ValueError:
                raise _Rejected(_Reply(400, b"bad chunk"), "bad chunked encoding") from None
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers
                    pass
                return b"".join(chunks)
            total += size
            if total > _MAX_BODY:
                raise _Rejected(_Reply(413, b"body too large"), "chunked body too large")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(16)  # CRLF after the chunk

    # Every method goes through one path, so a GET to a receiver is recorded, not dropped.
    do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve  # noqa: N815
