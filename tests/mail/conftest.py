"""Shared by the mail tests: a reminder Plixo sent, and replies to it as they arrive."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from plixo.connectors.models import Connection
from plixo.extensions import db
from plixo.outreach.models import Message, MessageInvoice
from plixo.tenancy import tenant_scope
from tests import fake_microsoft
from tests.factories import make_contact, make_customer, make_invoice

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
                           subject="Invoice INV-7001 is overdue", body="Please pay.", sent_at=NOW,
                           message_id_header=THREAD)
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


# --- The finance inbox on Microsoft 365 (a fake Microsoft on loopback) ---------------------------------------

EMAIL_CONNECTOR = "/admin/connectors/email"


@pytest.fixture
def fake(app):
    server = fake_microsoft.start()
    saved = {name: app.config[name] for name in ("MS_CLIENT_ID", "MS_CLIENT_SECRET", "MS_AUTHORITY_HOST",
                                                 "MS_GRAPH_BASE", "MAIL_CA_BUNDLE")}
    app.config.update(MS_CLIENT_ID=server.client_id, MS_CLIENT_SECRET=server.client_secret,
                      MS_AUTHORITY_HOST=server.base, MS_GRAPH_BASE=server.graph, MAIL_CA_BUNDLE=server.ca_file)
    yield server
    app.config.update(saved)
    server.stop()


def sign_in(client, fake, answer=None) -> str:
    """Start the sign-in in Plixo, let the fake Microsoft answer (by default: signed in), return the page after."""
    started = client.post(f"{EMAIL_CONNECTOR}/microsoft")
    assert started.status_code == 302 and started.headers["Location"].startswith(fake.base)
    back = urlsplit((answer or fake.authorize)(started.headers["Location"]))
    return client.get(f"{back.path}?{back.query}", follow_redirects=True).get_data(as_text=True)


def connection_of(org) -> Connection | None:
    db.session.rollback()
    with tenant_scope(org.id):
        return db.session.scalar(select(Connection).where(Connection.kind == "email"))


@pytest.fixture
def connected(client, org, fake):
    page = sign_in(client, fake)
    assert "ar@acme.example connected" in page
    return connection_of(org)
