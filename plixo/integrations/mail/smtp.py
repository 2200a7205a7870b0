"""SMTP transport: one connection reused for a batch, failures sorted by what the server had accepted."""

from __future__ import annotations

import contextlib
import smtplib
import ssl
import time
from email.message import EmailMessage
from ipaddress import ip_address

from plixo.outreach.outbox import PermanentFailure, TransientFailure, UnknownOutcome

TRUSTED_IDLE_SECONDS = 5


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


class SmtpTransport:
    """Sends over SMTP; TLS (STARTTLS) is required except to a server on this machine."""

    def __init__(self, host: str, port: int, username: str | None = None, password: str | None = None,
                 timeout: float = 30):
        self.host, self.port, self.username, self.password, self.timeout = host, port, username, password, timeout
        self._connection: smtplib.SMTP | None = None
        self._last_used = 0.0

    def _connect(self) -> smtplib.SMTP:
        connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        connection.ehlo()
        if connection.has_extn("starttls"):
            connection.starttls(context=ssl.create_default_context())
            connection.ehlo()
        elif not is_loopback(self.host):
            connection.quit()
            raise TransientFailure(f"{self.host} does not offer TLS; Plixo only sends over TLS.")
        if self.username:
            connection.login(self.username, self.password or "")
        return connection

    def _ready_connection(self) -> smtplib.SMTP:
        # A reused connection may have been closed by the server while idle; NOOP finds out before any
        # message is handed over, so reconnecting then cannot duplicate anything. Servers close idle
        # connections after minutes, so one used a moment ago is trusted without asking.
        if self._connection is not None:
            if time.monotonic() - self._last_used < TRUSTED_IDLE_SECONDS:
                return self._connection
            try:
                if self._connection.noop()[0] == 250:
                    return self._connection
            except (smtplib.SMTPException, OSError):
                pass
            self._connection = None
        try:
            self._connection = self._connect()
        except (smtplib.SMTPException, OSError) as error:
            raise TransientFailure(f"Could not connect to {self.host}:{self.port}: {error}") from error
        return self._connection

    def send(self, email: EmailMessage) -> str:
        connection = self._ready_connection()
        try:
            refused = connection.send_message(email)
            self._last_used = time.monotonic()
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _text in error.recipients.values()]
            raise _by_code(min(codes), f"Recipient refused: {error.recipients}", bounce=True) from error
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
            raise _by_code(error.smtp_code, f"{error.smtp_code} {error.smtp_error!r}") from error
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            self._connection = None
            raise UnknownOutcome(f"connection lost while sending: {error}") from error
        if refused:
            raise PermanentFailure(f"Recipient refused: {refused}", bounce=True)
        return email["Message-ID"]

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._connection.quit()
            self._connection = None


def _by_code(code: int, text: str, bounce: bool = False) -> Exception:
    return PermanentFailure(text, bounce=bounce) if 500 <= code < 600 else TransientFailure(text)
