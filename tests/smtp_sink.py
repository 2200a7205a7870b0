"""A real SMTP server on loopback (aiosmtpd) that records what it accepts.

Recipients at `bounce.example` are refused for good (550), at `busy.example` for now (451); messages to
`strict.example` are refused after DATA (554), which is about the message, not the mailbox.
"""

from __future__ import annotations

import email
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from plixo.devmail import free_loopback_port


@dataclass
class Sink:
    messages: list = field(default_factory=list)
    raw: list = field(default_factory=list)  # the bytes as received, for checking signatures

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's hook name
        if address.endswith("@bounce.example"):
            return "550 5.1.1 No such mailbox"
        if address.endswith("@busy.example"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if any(rcpt.endswith("@strict.example") for rcpt in envelope.rcpt_tos):
            return "554 5.7.1 Message content rejected"
        self.raw.append(envelope.content)
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


def start_sink(users: dict[str, str] | None = None) -> tuple[Controller, Sink]:
    """The sink; with `users`, it offers AUTH and accepts only those usernames and passwords."""
    sink = Sink()
    options = {}
    if users is not None:
        def authenticate(server, session, envelope, mechanism, auth_data):
            if not isinstance(auth_data, LoginPassword):
                return AuthResult(success=False, handled=False)
            return AuthResult(success=users.get(auth_data.login.decode()) == auth_data.password.decode(), handled=False)
        options = {"authenticator": authenticate, "auth_require_tls": False}
    # The port is free when probed, but a parallel test worker may bind it before the sink does: take another.
    attempts = 5
    for attempt in range(1, attempts + 1):
        controller = Controller(sink, hostname="127.0.0.1", port=free_loopback_port(), **options)
        try:
            controller.start()
        except OSError:
            controller.loop.close()
            if attempt == attempts:
                raise
        else:
            return controller, sink
