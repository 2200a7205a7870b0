"""Shared by the mail tests: a reminder Plixo sent, and replies to it as they arrive."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from plixo.accounts.models import Policy
from plixo.connectors.models import Connection
from plixo.extensions import db
from plixo.model import utcnow
from plixo.outreach.models import Message, MessageInvoice
from plixo.tenancy import tenant_scope
from tests import fake_google, fake_imap, fake_microsoft
from tests.factories import make_contact, make_customer, make_invoice
from tests.smtp_sink import start_sink

NOW = dt.datetime(2026, 12, 2, 15, 0, tzinfo=dt.UTC)  # a Wednesday
THREAD = "<0f3a9c.41@acme.example>"


@pytest.fixture
def sent(org):
    """Globex, its overdue INV-7001, and the reminder Plixo sent about it."""
    with tenant_scope(org.id):
        org.time_zone = "UTC"
        customer = make_customer(org, name="Globex", time_zone="UTC")
        contact = make_contact(customer, email="ap@globex.example")
        invoice = make_invoice(org, customer, number="INV-7001", amount_minor=125_000, balance_minor=125_000)
        reminder = Message(org_id=org.id, idempotency_key="reminder-7001", customer_id=customer.id,
                           invoice_id=invoice.id, contact_id=contact.id, to_email="ap@globex.example", status="sent",
                           subject="Invoice INV-7001 is overdue", body="Please pay.",
                           sent_at=NOW - dt.timedelta(days=3), message_id_header=THREAD)
        scheduled = Message(org_id=org.id, idempotency_key="next-7001", customer_id=customer.id,
                            invoice_id=invoice.id, contact_id=contact.id, to_email="ap@globex.example",
                            status="scheduled",
                            subject="Second reminder", body="Please pay.", scheduled_for=NOW + dt.timedelta(days=3))
        db.session.add_all([reminder, scheduled])
        db.session.flush()
        db.session.add(MessageInvoice(org_id=org.id, message_id=scheduled.id, invoice_id=invoice.id))
        db.session.commit()
    return customer, invoice, reminder, scheduled


def raw_reply(body: str, subject: str = "RE: Invoice INV-7001 is overdue", sender: str = "AP <ap@globex.example>",
              in_reply_to: str | None = THREAD, message_id: str = "<reply-1@globex.example>", **headers) -> bytes:
    reply = EmailMessage()
    reply["From"], reply["To"], reply["Subject"] = sender, "ar@acme.example", subject
    reply["Message-ID"], reply["Date"] = message_id, format_datetime(NOW)
    if in_reply_to:
        reply["In-Reply-To"], reply["References"] = in_reply_to, in_reply_to
    for name, value in headers.items():
        reply[name.replace("_", "-")] = value
    reply.set_content(body + "\n\nOn Mon, 30 Nov 2026, Acme AR <ar@acme.example> wrote:\n> Please pay $1,250.00.\n"
                             "> If you dispute this invoice, reply. To unsubscribe, click here.")
    return reply.as_bytes()


# --- A finance inbox at a mail provider (a fake Microsoft or Google on loopback) -----------------------------

EMAIL_CONNECTOR = "/admin/connectors/email"


def _app_pointed_at(app, server, **settings):
    """The app talks to the fake provider during the test; its own settings come back after, and the fake stops."""
    saved = {name: app.config[name] for name in settings}
    app.config.update(settings)
    yield server
    app.config.update(saved)
    server.stop()


def _sign_in_at(client, provider: str, server, answer) -> str:
    """Start the sign-in in Plixo, let the fake provider answer (by default: signed in), return the page after."""
    started = client.post(f"{EMAIL_CONNECTOR}/{provider}")
    assert started.status_code == 302 and started.headers["Location"].startswith(server.base)
    back = urlsplit((answer or server.authorize)(started.headers["Location"]))
    return client.get(f"{back.path}?{back.query}", follow_redirects=True).get_data(as_text=True)


# --- The finance inbox on Microsoft 365 ------------------------------------------------------------------------

@pytest.fixture
def fake(app):
    server = fake_microsoft.start()
    yield from _app_pointed_at(app, server, MS_CLIENT_ID=server.client_id, MS_CLIENT_SECRET=server.client_secret,
                               MS_AUTHORITY_HOST=server.base, MS_GRAPH_BASE=server.graph,
                               MAIL_CA_BUNDLE=server.ca_file)


def sign_in(client, fake, answer=None) -> str:
    return _sign_in_at(client, "microsoft", fake, answer)


def connection_of(org) -> Connection | None:
    db.session.rollback()
    with tenant_scope(org.id):
        return db.session.scalar(select(Connection).where(Connection.kind == "email"))


@pytest.fixture
def connected(client, org, fake):
    page = sign_in(client, fake)
    assert "ar@acme.example connected" in page
    return connection_of(org)


# --- The finance inbox on Gmail -------------------------------------------------------------------------------

@pytest.fixture
def google(app):
    server = fake_google.start()
    yield from _app_pointed_at(app, server, GOOGLE_CLIENT_ID=server.client_id,
                               GOOGLE_CLIENT_SECRET=server.client_secret, GOOGLE_AUTH_URI=server.auth_uri,
                               GOOGLE_TOKEN_URI=server.token_uri, GOOGLE_CERTS_URL=server.certs_url,
                               GOOGLE_REVOKE_URI=server.revoke_uri, GMAIL_API_BASE=server.gmail,
                               MAIL_CA_BUNDLE=server.ca_file)


def sign_in_with_google(client, google, answer=None) -> str:
    return _sign_in_at(client, "gmail", google, answer)


@pytest.fixture
def gmail_connected(client, org, google):
    page = sign_in_with_google(client, google)
    assert "ar@acme.example connected" in page, page
    return connection_of(org)


# --- Sending through a connected inbox ----------------------------------------------------------------------

def due(sent_fixture) -> int:
    """Make the scheduled reminder of the `sent` fixture due now; returns its id."""
    customer, _invoice, _reminder, scheduled = sent_fixture
    with tenant_scope(customer.org_id):
        message = db.session.get(Message, scheduled.id)
        message.scheduled_for = utcnow() - dt.timedelta(minutes=1)
        db.session.commit()
    return scheduled.id


def due_again(org, message_id, **changes) -> None:
    """The message is due once more (as a retry or a resumed send would be)."""
    db.session.rollback()  # a fresh transaction: the sender committed on a connection of its own
    with tenant_scope(org.id):
        message = db.session.get(Message, message_id)
        message.scheduled_for = utcnow() - dt.timedelta(minutes=1)
        for name, value in changes.items():
            setattr(message, name, value)
        db.session.commit()


def message_of(org, message_id) -> Message:
    db.session.rollback()
    with tenant_scope(org.id):
        return db.session.get(Message, message_id)


@pytest.fixture
def open_all_week(org):
    """Every day, no quiet hours: sending tests must not depend on when the suite runs."""
    with tenant_scope(org.id):
        policy = db.session.scalar(select(Policy).where(Policy.org_id == org.id))
        policy.sending_days, policy.quiet_hours_start, policy.quiet_hours_end = list(range(7)), dt.time(0), dt.time(0)
        db.session.commit()


# --- The finance inbox over SMTP + IMAP (aiosmtpd and a small IMAP server on loopback) ------------------------

PASSWORD = "app-password-1"


@pytest.fixture
def servers():
    """An SMTP server and an IMAP server, both asking for ar@acme.example's password."""
    smtp_users = {"ar@acme.example": PASSWORD}
    controller, sink = start_sink(users=smtp_users)
    sink.users = smtp_users  # a test may change the password, as an admin would on the mail host
    mailbox, imap_server, imap_port = fake_imap.serve()
    mailbox.users = {"ar@acme.example": PASSWORD}
    yield sink, mailbox, {"smtp_port": controller.port, "imap_port": imap_port}
    controller.stop()
    imap_server.shutdown()
