"""Reading replies over IMAP: new messages since the last one read, without marking anything as read."""

from __future__ import annotations

import contextlib
import imaplib
import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass

from plixo.integrations.mail.smtp import is_loopback

IMPLICIT_TLS_PORT = 993
FETCH_BYTES = 1024 * 1024  # a reply's words are near the top; a 20 MB attachment is not worth downloading
FETCH_BATCH = 50
_STATUS = re.compile(rb"UIDNEXT (\d+)|UIDVALIDITY (\d+)")
_FETCHED_UID = re.compile(rb"UID (\d+)")


class MailboxError(Exception):
    """The mailbox could not be reached or read; the message says what to fix."""


@dataclass(frozen=True)
class Position:
    """Where reading stopped: UIDs only mean something within one UIDVALIDITY."""

    uidvalidity: int
    last_uid: int


class ImapMailbox:
    """One IMAP session on a folder (INBOX). TLS (implicit on 993, else STARTTLS) is required except on loopback."""

    def __init__(self, host: str, port: int, username: str, password: str, folder: str = "INBOX",
                 timeout: float = 30):
        self.host, self.port, self.username, self.password = host, port, username, password
        self.folder, self.timeout = folder, timeout
        self._imap: imaplib.IMAP4 | None = None

    def __enter__(self) -> ImapMailbox:
        try:
            self._imap = self._connect()
            self._ok(self._imap.login(self.username, self.password), "sign in")
            self._ok(self._imap.select(self.folder, readonly=True), f"open {self.folder}")
        except imaplib.IMAP4.error as error:
            self.__exit__()
            raise MailboxError(f"{self.host} refused: {_text(error)}") from error
        except (OSError, ssl.SSLError) as error:
            self.__exit__()
            raise MailboxError(f"Could not reach {self.host}:{self.port}: {error}") from error
        except MailboxError:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_exc) -> None:
        if self._imap is not None:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                self._imap.logout()
            self._imap = None

    def _connect(self) -> imaplib.IMAP4:
        context = ssl.create_default_context()
        if self.port == IMPLICIT_TLS_PORT:
            return imaplib.IMAP4_SSL(self.host, self.port, ssl_context=context, timeout=self.timeout)
        imap = imaplib.IMAP4(self.host, self.port, timeout=self.timeout)
        if "STARTTLS" in imap.capabilities:
            imap.starttls(context)
        elif not is_loopback(self.host):
            imap.shutdown()
            raise MailboxError(f"{self.host} does not offer TLS; Plixo only reads mail over TLS.")
        return imap

    def position(self) -> Position:
        """The folder's current end: reading from here on sees only mail that arrives later."""
        with self._answering():
            return self._position()

    def _position(self) -> Position:
        status = self._ok(self._imap.status(self.folder, "(UIDNEXT UIDVALIDITY)"), "read the folder status")
        found = {}
        for uidnext, uidvalidity in _STATUS.findall(status[0] or b""):
            if uidnext:
                found["next"] = int(uidnext)
            if uidvalidity:
                found["validity"] = int(uidvalidity)
        if len(found) < 2:
            raise MailboxError(f"{self.host} did not say where its folder ends.")
        return Position(found["validity"], found["next"] - 1)

    def read_after(self, since: Position, limit: int) -> tuple[Position, list[bytes]]:
        with self._answering():
            return self._read_after(since, limit)

    @contextlib.contextmanager
    def _answering(self) -> Iterator[None]:
        """Whatever goes wrong mid-session is the mailbox's problem to report, never a crash."""
        try:
            yield
        except imaplib.IMAP4.error as error:  # includes abort: the server dropped the session
            raise MailboxError(f"{self.host} stopped answering properly: {_text(error)}") from error
        except (OSError, ssl.SSLError) as error:
            raise MailboxError(f"Lost the connection to {self.host}: {error}") from error

    def _read_after(self, since: Position, limit: int) -> tuple[Position, list[bytes]]:
        """Up to `limit` messages that arrived after `since`, oldest first, and the position after them.

        When the server renumbered the folder (a new UIDVALIDITY) the old position means nothing: reading
        restarts from the folder's end rather than re-reading years of mail.
        """
        now = self._position()
        if now.uidvalidity != since.uidvalidity:
            return now, []
        typ, data = self._imap.uid("SEARCH", None, f"UID {since.last_uid + 1}:*")
        self._ok((typ, data), "search the folder")
        # "n:*" always matches the newest message, even one older than n: keep only the new ones.
        uids = sorted(uid for uid in map(int, (data[0] or b"").split()) if uid > since.last_uid)[:limit]
        messages = []
        for start in range(0, len(uids), FETCH_BATCH):
            messages.extend(self._fetch(uids[start:start + FETCH_BATCH]))
        last = uids[-1] if uids else since.last_uid
        return Position(since.uidvalidity, last), [raw for _uid, raw in sorted(messages)]

    def _fetch(self, uids: list[int]) -> list[tuple[int, bytes]]:
        typ, data = self._imap.uid("FETCH", ",".join(map(str, uids)), f"(UID BODY.PEEK[]<0.{FETCH_BYTES}>)")
        self._ok((typ, data), "fetch messages")
        fetched = []
        for part in data:
            if isinstance(part, tuple):
                uid = _FETCHED_UID.search(part[0])
                if uid:
                    fetched.append((int(uid.group(1)), part[1]))
        return fetched

    def _ok(self, response, doing: str):
        typ, data = response
        if typ != "OK":
            raise MailboxError(f"{self.host} would not {doing}: {_text(data)}")
        return data


def _text(value) -> str:
    if isinstance(value, Exception):  # imaplib puts the server's bytes into the message as b'...'
        text = str(value)
        return text[2:-1] if re.fullmatch(r"b'.*'", text) else text
    if isinstance(value, list):
        value = b" ".join(v for v in value if isinstance(v, bytes))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
