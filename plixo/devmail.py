"""The development mail sink: a real SMTP server on loopback that keeps every message in a Maildir.

`make run` starts it and points the outbox at it, so sends work end to end without reaching anyone;
the Dev outbox page lists what arrived.
"""

from __future__ import annotations

import mailbox
import socket
from email.utils import parsedate_to_datetime
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_dev_sink(directory: Path, port: int | None = None) -> Controller:
    """The sink on loopback (on `port`, else a free one), serving from a thread of this process."""
    for part in ("tmp", "new", "cur"):  # a Maildir's three folders; the handler expects them to exist
        (directory / part).mkdir(parents=True, exist_ok=True)
    controller = Controller(Mailbox(str(directory)), hostname="127.0.0.1", port=port or free_loopback_port())
    controller.start()
    return controller


def received_messages(directory: str, limit: int = 100) -> list[dict]:
    """The newest messages in the sink, newest first."""
    if not directory or not Path(directory, "cur").exists():
        return []
    box = mailbox.Maildir(directory, create=False)
    found = []
    for message in box:
        body = message.get_payload(decode=True) if not message.is_multipart() else b""
        found.append({"from": message["From"], "to": message["To"], "subject": message["Subject"],
                      "message_id": message["Message-ID"], "date": parsedate_to_datetime(message["Date"])
                      if message["Date"] else None, "body": (body or b"").decode("utf-8", "replace")})
    found.sort(key=lambda m: m["date"] or 0, reverse=True)
    return found[:limit]


def main() -> None:
    """`python -m plixo.devmail DIRECTORY PORT`: the sink in a process of its own, until stopped."""
    import signal
    import sys

    stop = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)  # before the server thread starts, so it inherits the mask
    controller = start_dev_sink(Path(sys.argv[1]), int(sys.argv[2]))
    signal.sigwait(stop)
    controller.stop()


if __name__ == "__main__":
    main()
