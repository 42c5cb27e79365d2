"""Where mail goes: an SMTP server (``BOOKING_MAIL_URL``) or, without one, ``.eml`` files.

``BOOKING_MAIL_URL`` forms: ``smtp://host:25``, ``smtp://user:password@host:587?starttls=1``
(STARTTLS, then AUTH), ``smtps://user:password@host:465`` (TLS from the start). A ``timeout``
query parameter (seconds, default 20) bounds every network step.

A ``cafile`` parameter names the CA certificates to trust instead of the system's (a private
mail relay with its own CA).

A failure is *permanent* when the server refused the message or recipient with a 5xx reply (the
message will not go however often it is tried) and *transient* otherwise (connection refused,
timeouts, TLS and login failures, 4xx replies): the worker retries those with backoff. A login
refused or TLS that cannot be set up is the operator's to mend, not the message's fault, so
it counts as the server being unreachable: every message waits."""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger("booking.mail")


class DeliveryError(Exception):
    """Not sent: ``permanent`` when trying again cannot help; ``unreachable`` when no server
    answered (so no other message can go now either)."""

    def __init__(self, detail: str, permanent: bool, unreachable: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.permanent = permanent
        self.unreachable = unreachable


@dataclass(frozen=True)
class Outgoing:
    """A message ready for the wire: its envelope and its bytes (written once, CRLF line ends)."""

    message_id: str
    sender: str  # the envelope's MAIL FROM: a bare address
    recipient: str  # the envelope's one RCPT TO
    data: bytes
    summary: str  # for the log: to whom, about what


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str | None
    password: str | None
    timeout: float
    cafile: str | None = None


def parse_mail_url(url: str) -> SmtpSettings:
    """``smtp[s]://[user[:password]@]host[:port][?starttls=1&timeout=20]``; ValueError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("BOOKING_MAIL_URL must look like smtp://user:password@host:587?starttls=1")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    if not (username or "").isascii() or not (password or "").isascii():
        raise ValueError("BOOKING_MAIL_URL: SMTP logins here take ASCII user names and passwords only")
    implicit_tls = parts.scheme == "smtps"
    starttls = query.get("starttls", "0").lower() in ("1", "true", "yes", "on")
    default_port = 465 if implicit_tls else 587 if starttls else 25
    return SmtpSettings(
        host=parts.hostname,
        port=parts.port or default_port,
        implicit_tls=implicit_tls,
        starttls=starttls and not implicit_tls,
        username=username,
        password=password,
        timeout=float(query.get("timeout", "20")),
        cafile=query.get("cafile") or None,
    )


class SmtpTransport:
    """One SMTP connection, opened on first use and kept for the next messages of a batch."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def send(self, outgoing: Outgoing) -> None:
        try:
            self._send(outgoing)
        except (smtplib.SMTPAuthenticationError, smtplib.SMTPNotSupportedError) as error:
            self.close()
            raise DeliveryError(
                f"{type(error).__name__}: {error}", permanent=False, unreachable=True
            ) from error
        except smtplib.SMTPRecipientsRefused as error:
            self.close()
            codes = [code for code, _ in error.recipients.values()]
            raise DeliveryError(
                _describe(error.recipients), permanent=all(c >= 500 for c in codes)
            ) from error
        except smtplib.SMTPResponseException as error:
            self.close()
            raise DeliveryError(
                f"{error.smtp_code} {_text(error.smtp_error)}", error.smtp_code >= 500
            ) from error
        except (OSError, smtplib.SMTPException) as error:
            self.close()
            raise DeliveryError(
                f"{type(error).__name__}: {error}", permanent=False, unreachable=True
            ) from error

    def _send(self, outgoing: Outgoing) -> None:
        """Over the open connection; if the server has closed it meanwhile (idle timeout), once
        more over a new one. No NOOP first: that is a round trip per message."""
        if self._smtp is not None:
            try:
                self._smtp.sendmail(outgoing.sender, [outgoing.recipient], outgoing.data)
                return
            except smtplib.SMTPServerDisconnected:
                self.close()
        self._connect().sendmail(outgoing.sender, [outgoing.recipient], outgoing.data)

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.implicit_tls:
            context = ssl.create_default_context(cafile=s.cafile)
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            if s.starttls:
                smtp.starttls(context=ssl.create_default_context(cafile=s.cafile))
            if s.username:
                smtp.login(s.username, s.password or "")
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp
        return smtp

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None


class FileTransport:
    """Without a mail server: each message as ``<folder>/<Message-ID>.eml``, written whole (a
    temporary file renamed), so sending one message again replaces it instead of adding one."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)

    def send(self, outgoing: Outgoing) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = "".join(c if c.isalnum() or c in "-._" else "_" for c in outgoing.message_id.strip("<>"))
        path = self.folder / f"{name}.eml"
        temporary = self.folder / f".{name}.tmp"
        temporary.write_bytes(outgoing.data)
        os.replace(temporary, path)
        log.info("mail %s written to %s", outgoing.summary, path)

    def close(self) -> None:
        pass


def transport_for(config, instance_path: str) -> SmtpTransport | FileTransport:
    """The transport the configuration asks for."""
    url = config.get("BOOKING_MAIL_URL")
    if url:
        return SmtpTransport(parse_mail_url(url))
    return FileTransport(config.get("BOOKING_MAIL_DIR") or Path(instance_path) / "mail")


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _describe(refused: dict) -> str:
    return "; ".join(f"{address}: {code} {_text(message)}" for address, (code, message) in refused.items())
