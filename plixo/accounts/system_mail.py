"""E-mails Plixo writes to its own users (sign-up links, account notices), sent through the server's SMTP relay.

Payer e-mails go through each workspace's mailbox and the outbox; these never do: they concern the account, not
a customer, and must reach someone who may have no workspace yet.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

from plixo.integrations.mail.smtp import SmtpTransport
from plixo.values import header_safe


class NoMailRelayError(RuntimeError):
    """The server has no SMTP relay configured, so account e-mails cannot leave."""


def account_message(config, *, to: str, subject: str, body: str, html: str | None = None,
                    message_id: str | None = None) -> EmailMessage:
    """An e-mail from Plixo to one of its users: plain text, with an HTML alternative when given. A `message_id`
    kept across attempts lets a receiving server recognise a retry of the same e-mail."""
    message = EmailMessage()
    sender = config["MAIL_FROM"]
    message["From"] = formataddr(("Plixo", sender))
    message["To"] = to
    message["Subject"] = header_safe(subject)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id or make_msgid(domain=sender_domain(config))
    message["Auto-Submitted"] = "auto-generated"  # so auto-responders do not answer it
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def sender_domain(config) -> str:
    """The domain of the address Plixo's own e-mails come from."""
    return config["MAIL_FROM"].rsplit("@", 1)[-1]


def send_account_message(config, message: EmailMessage) -> str:
    """Hand the message to the configured relay; returns its Message-ID."""
    if not config.get("SMTP_HOST"):
        raise NoMailRelayError("Set SMTP_HOST (and SMTP_PORT, SMTP_USERNAME, SMTP_PASSWORD) to send account e-mails.")
    transport = SmtpTransport(config["SMTP_HOST"], config["SMTP_PORT"], config.get("SMTP_USERNAME") or None,
                              config.get("SMTP_PASSWORD") or None)
    try:
        return transport.send(message)
    finally:
        transport.close()
