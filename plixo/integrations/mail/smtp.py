"""SMTP transport: one connection reused for a batch, failures sorted by what the server had accepted."""

from __future__ import annotations

import contextlib
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import getaddresses, parseaddr
from ipaddress import ip_address

import dkim

from plixo.integrations.mail.outcomes import MailboxUnavailable, PermanentFailure, TransientFailure, UnknownOutcome

TRUSTED_IDLE_SECONDS = 5
IMPLICIT_TLS_PORT = 465
SIGNED_HEADERS = (b"from", b"to", b"subject", b"date", b"message-id", b"reply-to")


@dataclass(frozen=True)
class DkimKey:
    """The sending domain's DKIM key: receivers find the public half at <selector>._domainkey.<domain>."""

    domain: str
    selector: str
    private_pem: str

    def sign(self, data: bytes) -> bytes:
        """The DKIM-Signature header line for `data` (relaxed canonicalization, rsa-sha256)."""
        return dkim.sign(data, self.selector.encode(), self.domain.encode(), self.private_pem.encode(),
                         canonicalize=(b"relaxed", b"relaxed"), include_headers=list(SIGNED_HEADERS))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


class SmtpTransport:
    """Sends over SMTP; TLS (implicit on 465, else STARTTLS) is required except to a server on this machine.
    With a DKIM key, every message is signed for its sending domain."""

    def __init__(self, host: str, port: int, username: str | None = None, password: str | None = None,
                 timeout: float = 30, dkim_key: DkimKey | None = None):
        self.host, self.port, self.username, self.password, self.timeout = host, port, username, password, timeout
        self.dkim_key = dkim_key
        self.auth_problem: str | None = None  # set when the server refuses the sign-in: someone must fix it
        self._connection: smtplib.SMTP | None = None
        self._last_used = 0.0

    def _connect(self) -> smtplib.SMTP:
        if self.port == IMPLICIT_TLS_PORT:
            connection = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                          context=ssl.create_default_context())
            connection.ehlo()
        else:
            connection = self._connect_starttls()
        if self.username:
            connection.login(self.username, self.password or "")
        return connection

    def check(self) -> None:
        """Connect and sign in, then hang up: what "Connect" tries before saving anything."""
        try:
            self._connect().quit()
        except smtplib.SMTPAuthenticationError as error:
            raise PermanentFailure(f"{self.host} refused the username or password ({error.smtp_code}).") from error
        except (smtplib.SMTPException, OSError) as error:
            raise TransientFailure(f"Could not connect to {self.host}:{self.port}: {error}") from error

    def _connect_starttls(self) -> smtplib.SMTP:
        connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        connection.ehlo()
        if connection.has_extn("starttls"):
            connection.starttls(context=ssl.create_default_context())
            connection.ehlo()
        elif not is_loopback(self.host):
            connection.quit()
            raise MailboxUnavailable(f"{self.host} does not offer TLS; Plixo only sends over TLS.")
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
        except smtplib.SMTPAuthenticationError as error:
            self.auth_problem = f"{self.host} refused the mailbox's username or password ({error.smtp_code})."
            raise MailboxUnavailable(self.auth_problem) from error
        except (smtplib.SMTPException, OSError) as error:
            raise MailboxUnavailable(f"Could not connect to {self.host}:{self.port}: {error}") from error
        return self._connection

    def send(self, email: EmailMessage) -> str:
        connection = self._ready_connection()
        data = email.as_bytes(policy=SMTP_POLICY)
        if self.dkim_key is not None:
            data = self.dkim_key.sign(data) + data
        sender = parseaddr(email["From"])[1]
        recipients = [address for _name, address in getaddresses(email.get_all("To", []))]
        try:
            refused = connection.sendmail(sender, recipients, data)
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
