"""A real SMTP server on loopback for the tests and the mail benchmark (aiosmtpd): it keeps
every message it accepts, and can be told to refuse addresses (5xx), defer them (4xx), or run
a hook when a message's data has arrived, before it answers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from bench.common import free_port


@dataclass(frozen=True)
class Received:
    mail_from: str
    recipients: tuple[str, ...]
    raw: bytes
    at: float  # time.time() when accepted

    @property
    def email(self) -> EmailMessage:
        return message_from_bytes(self.raw, policy=policy.default)

    @property
    def message_id(self) -> str:
        return self.email["Message-ID"]


class SmtpSink:
    """``tls_context``: offer STARTTLS and require it; ``credentials`` (user, password): require
    AUTH (only over TLS) with them."""

    def __init__(self, port: int | None = None, tls_context=None, credentials: tuple[str, str] | None = None):
        self.port = port or free_port()
        self.tls_context = tls_context
        self.credentials = credentials
        self.received: list[Received] = []
        self.refuse: set[str] = set()  # answered 550
        self.defer: set[str] = set()  # answered 450
        self.on_data: Callable[[Received], None] | None = None
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?timeout=5"

    def start(self) -> SmtpSink:
        options = {}
        if self.tls_context is not None:
            options.update(tls_context=self.tls_context, require_starttls=True)
        if self.credentials is not None:
            options.update(authenticator=self._authenticate, auth_require_tls=True, auth_required=True)
        self._controller = Controller(
            _Handler(self), hostname="127.0.0.1", port=self.port, ready_timeout=10, **options
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def message_ids(self) -> list[str]:
        with self._lock:
            return [r.message_id for r in self.received]

    def to(self, address: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if address in r.recipients]

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        raise TimeoutError(f"{len(self.received)} of {count} messages arrived")

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        given = (auth_data.login.decode(), auth_data.password.decode())
        return AuthResult(success=given == self.credentials, handled=False)  # a 535 when wrong

    def _accept(self, received: Received) -> None:
        with self._lock:
            self.received.append(received)


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.sink.refuse:
            return "550 5.1.1 No such mailbox here"
        if address in self.sink.defer:
            return "450 4.2.1 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        content = envelope.original_content
        received = Received(envelope.mail_from, tuple(envelope.rcpt_tos), content, time.time())
        self.sink._accept(received)
        if self.sink.on_data is not None:
            self.sink.on_data(received)
        return "250 2.0.0 Accepted"
