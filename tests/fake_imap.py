"""A small IMAP4rev1 server on loopback, enough for Python's imaplib: LOGIN, STATUS, SELECT/EXAMINE, UID SEARCH,
UID FETCH (with partial bodies), NOOP, LOGOUT. One folder, INBOX, whose messages the test appends."""

from __future__ import annotations

import re
import socketserver
import threading
from dataclasses import dataclass, field

_ARGUMENT = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')
_PARTIAL = re.compile(r"BODY\.PEEK\[\]<(\d+)\.(\d+)>", re.I)


@dataclass
class Mailbox:
    users: dict[str, str] = field(default_factory=lambda: {"ar@acme.example": "secret"})
    uidvalidity: int = 1
    messages: list[tuple[int, bytes]] = field(default_factory=list)
    next_uid: int = 1
    logins: int = 0
    commands: list[str] = field(default_factory=list)

    def append(self, raw: bytes) -> int:
        uid, self.next_uid = self.next_uid, self.next_uid + 1
        self.messages.append((uid, raw))
        return uid

    def renumber(self) -> None:
        """What a server does when it rebuilds a folder: every UID changes, and so does UIDVALIDITY."""
        self.uidvalidity += 1
        self.messages = [(index + 1, raw) for index, (_uid, raw) in enumerate(self.messages)]
        self.next_uid = len(self.messages) + 1


class _Session(socketserver.StreamRequestHandler):
    mailbox: Mailbox

    def handle(self):
        self._send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] fake IMAP ready")
        signed_in = False
        while line := self.rfile.readline(65536):
            tag, _, rest = line.decode().rstrip("\r\n").partition(" ")
            command, _, argument = rest.partition(" ")
            command = command.upper()
            self.mailbox.commands.append(command if command != "UID" else f"UID {argument}")  # never a password
            if command == "CAPABILITY":
                self._send("* CAPABILITY IMAP4rev1 AUTH=PLAIN")
                self._send(f"{tag} OK CAPABILITY completed")
            elif command == "LOGIN":
                user, password = [q or w for q, w in _ARGUMENT.findall(argument)][:2]
                if self.mailbox.users.get(user) == password.replace('\\"', '"').replace("\\\\", "\\"):
                    signed_in = True
                    self.mailbox.logins += 1
                    self._send(f"{tag} OK LOGIN completed")
                else:
                    self._send(f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials")
            elif command == "LOGOUT":
                self._send("* BYE logging out")
                self._send(f"{tag} OK LOGOUT completed")
                return
            elif command == "NOOP":
                self._send(f"{tag} OK NOOP completed")
            elif not signed_in:
                self._send(f"{tag} BAD sign in first")
            elif command == "STATUS":
                self._send(f"* STATUS INBOX (UIDNEXT {self.mailbox.next_uid} UIDVALIDITY {self.mailbox.uidvalidity})")
                self._send(f"{tag} OK STATUS completed")
            elif command in ("SELECT", "EXAMINE"):
                self._send(f"* {len(self.mailbox.messages)} EXISTS")
                self._send(f"* OK [UIDVALIDITY {self.mailbox.uidvalidity}] UIDs valid")
                self._send(f"* OK [UIDNEXT {self.mailbox.next_uid}] next UID")
                self._send(f"{tag} OK [READ-ONLY] {command} completed")
            elif command == "UID":
                self._uid(tag, argument)
            else:
                self._send(f"{tag} BAD unknown command")

    def _uid(self, tag: str, argument: str) -> None:
        what, _, rest = argument.partition(" ")
        if what.upper() == "SEARCH":
            low, _, high = rest.split(" ")[-1].partition(":")
            uids = [uid for uid, _raw in self.mailbox.messages if uid >= int(low)]
            if high == "*" and not uids and self.mailbox.messages:
                uids = [self.mailbox.messages[-1][0]]  # as RFC 3501 says: "n:*" always includes the last one
            self._send("* SEARCH" + "".join(f" {uid}" for uid in uids))
            self._send(f"{tag} OK SEARCH completed")
            return
        wanted = {int(uid) for uid in rest.split(" ")[0].split(",")}
        partial = _PARTIAL.search(rest)
        for number, (uid, raw) in enumerate(self.mailbox.messages, start=1):
            if uid in wanted:
                body = raw[int(partial.group(1)):int(partial.group(1)) + int(partial.group(2))] if partial else raw
                origin = f"<{partial.group(1)}>" if partial else ""
                self.wfile.write(f"* {number} FETCH (UID {uid} BODY[]{origin} {{{len(body)}}}\r\n".encode()
                                 + body + b")\r\n")
        self._send(f"{tag} OK FETCH completed")

    def _send(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve() -> tuple[Mailbox, socketserver.TCPServer, int]:
    mailbox = Mailbox()
    handler = type("Session", (_Session,), {"mailbox": mailbox})
    server = _Server(("127.0.0.1", 0), handler)
    # A short poll: shutdown() waits for the loop to look, and every test that uses the fake pays that wait.
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return mailbox, server, server.server_address[1]
