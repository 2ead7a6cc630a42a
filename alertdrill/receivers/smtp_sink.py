"""A real SMTP server (aiosmtpd) that Alertmanager's ``email_configs`` deliver to.

It speaks plain SMTP on 127.0.0.1 with AUTH PLAIN/LOGIN and no STARTTLS, so
Alertmanager must use ``require_tls: false``; its Go SMTP client then sends
PLAIN credentials unencrypted only because the smarthost is 127.0.0.1. Wrong
credentials get 535 (recorded as unexpected), and MAIL without AUTH gets 530,
so a mistyped password or a missing ``auth_username`` fails the drill instead
of passing silently.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from alertdrill.errors import StackError
from alertdrill.receivers.parsers import parse_email
from alertdrill.receivers.records import Arrival, PayloadError, Record, UnexpectedRequest
from alertdrill.stack.ports import LOCALHOST, free_port, release_port

__all__ = ["SmtpSink"]

log = logging.getLogger(__name__)

_PREVIEW = 2000
_BIND_ATTEMPTS = 3


@dataclass(frozen=True)
class _Login:
    """What a successful AUTH leaves on the session (aiosmtpd's free-form auth_data)."""

    login: str
    mechanism: str


class _Smtp(SMTP):
    # aiosmtpd's AUTH LOGIN prompts are "User Name\0" and "Password\0" (the old
    # SASL LOGIN draft); Alertmanager's LoginAuth only answers "Username:" and
    # "Password:" (what Postfix and Exchange send) and aborts the AUTH otherwise.
    # Alertmanager picks the first mechanism offered, and aiosmtpd offers LOGIN
    # first, so without this every email would fail.
    AuthLoginUsernameChallenge = "Username:"
    AuthLoginPasswordChallenge = "Password:"


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _Smtp(self.handler, **self.SMTP_kwargs)


class _Handler:
    """aiosmtpd handler hooks; runs on the controller's event-loop thread."""

    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_MAIL(  # noqa: N802 - aiosmtpd hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        # Enforced here rather than with aiosmtpd's auth_required=True, which
        # warns (an error under pytest's filterwarnings) for every connection
        # when TLS is not required as well.
        if self._sink.credentials is not None and not session.authenticated:
            self._sink.reject("MAIL", 530, f"MAIL FROM {address} without AUTH", b"", Arrival.now())
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        at = Arrival.now()
        data = envelope.original_content or b""
        auth = session.auth_data
        login = auth.login if isinstance(auth, _Login) else ""
        try:
            message = parse_email(
                envelope.mail_from or "", envelope.rcpt_tos, data, at, auth_login=login
            )
        except PayloadError as error:
            self._sink.reject("DATA", 554, str(error), data, at)
            return "554 5.6.0 Message rejected: not a MIME message"
        self._sink.on_record(message)
        return "250 2.0.0 Message accepted for delivery"


class SmtpSink:
    """The SMTP receiver; every accepted message goes to ``on_record`` as an ``Email``.

    ``username``/``password`` None accepts mail without AUTH (and any AUTH).
    """

    def __init__(
        self,
        on_record: Callable[[Record], None],
        *,
        username: str | None,
        password: str | None,
        host: str = LOCALHOST,
        port: int | None = None,
        ready_timeout: float = 10.0,
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("give both SMTP username and password, or neither")
        self.on_record = on_record
        self.credentials = (username, password) if username is not None else None
        self._host = host
        # None: a free port; a number: exactly that one or a StackError (no retry elsewhere).
        self._fixed_port = port
        self._ready_timeout = ready_timeout
        self._controller: Controller | None = None
        self._port: int | None = None

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        if self._port is None:
            raise StackError("not started", component="receivers")
        return self._port

    def start(self) -> None:
        if self._controller is not None:
            raise StackError("SMTP sink already running", component="receivers")
        attempts = 1 if self._fixed_port is not None else _BIND_ATTEMPTS
        for attempt in range(attempts):
            port = self._fixed_port if self._fixed_port is not None else free_port(self._host)
            controller = _Controller(
                _Handler(self),
                hostname=self._host,
                port=port,
                ready_timeout=self._ready_timeout,
                server_hostname="alertdrill-smtp-sink",
                authenticator=self._authenticate,
                auth_require_tls=False,
            )
            try:
                controller.start()
            except Exception as error:  # bind race, or the loop did not come up in time
                _discard(controller)
                if self._fixed_port is None:
                    release_port(port)
                if attempt == attempts - 1:
                    raise StackError(
                        f"SMTP sink did not start on {self._host}:{port}: {error}",
                        component="receivers",
                    ) from error
            else:
                self._controller = controller
                self._port = port
                return

    def stop(self) -> None:
        """Stop the event loop, join its thread, release the port. Idempotent."""
        controller, port = self._controller, self._port
        self._controller = None
        self._port = None
        if controller is not None:
            controller.stop()
        if port is not None and self._fixed_port is None:  # only what free_port handed out
            release_port(port)

    def _authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: object,
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        if self.credentials is None:
            return AuthResult(success=True, auth_data=_Login(login, mechanism))
        username, password = self.credentials
        # Both compared in constant time, and both always compared.
        good_user = hmac.compare_digest(auth_data.login, (username or "").encode())
        good_password = hmac.compare_digest(auth_data.password, (password or "").encode())
        if good_user and good_password:
            return AuthResult(success=True, auth_data=_Login(login, mechanism))
        self.reject(
            f"AUTH {mechanism}", 535, f"wrong credentials for user {login!r}", b"", Arrival.now()
        )
        return AuthResult(success=False, handled=False)

    def reject(self, command: str, status: int, reason: str, data: bytes, at: Arrival) -> None:
        """Record a refused SMTP command as unexpected."""
        log.warning("SMTP sink refused %s: %s", command, reason)
        self.on_record(
            UnexpectedRequest(
                protocol="smtp",
                method=command,
                path=f"smtp://{self._host}:{self._port}",
                status=status,
                reason=reason,
                content_type="message/rfc822" if data else "",
                body=data[:_PREVIEW].decode("utf-8", "replace"),
                arrived_at=at.arrived_at,
                wall_time=at.wall_time,
            )
        )


def _discard(controller: Controller) -> None:
    """Tear down a controller whose start() failed: thread joined, event loop closed."""
    if controller._thread is not None:  # set by start() even when it then failed
        controller.stop(no_assert=True)
    if not controller.loop.is_closed() and not controller.loop.is_running():
        controller.loop.close()
