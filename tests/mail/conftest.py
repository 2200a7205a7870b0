"""Shared by the mail tests: a reminder Plixo sent, and replies to it as they arrive."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.utils import format_datetime

import pytest

from plixo.extensions import db
from plixo.outreach.models import Message, MessageInvoice
from plixo.tenancy import tenant_scope
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


