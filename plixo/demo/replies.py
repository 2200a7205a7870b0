"""Replies payers sent in the last two days, taken in through the real intake: the clear ones are acted on (a
dispute opened, an absence paused), the rest wait in Replies for the team, pausing their customers' chase."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from plixo.accounts.models import Organization
from plixo.ledger.models import Contact, Customer, Invoice
from plixo.model import utcnow
from plixo.replies.intake import ingest_reply

# (subject, body, extra headers, hours ago); {number} is the invoice the payer writes about.
_REPLIES = (
    ("Re: Invoice {number} is overdue",
     "Hi,\n\nWe can't approve {number} for payment: the rate charged is not what we agreed in the contract "
     "(95/hour, not 110). Please send a corrected invoice.\n\nThanks,\nDana", {}, 30),
    ("Re: Reminder: invoice {number}",
     "Hello, this one is in our payment run for next Friday, we will pay the full balance then.\n\nRegards", {}, 20),
    ("Re: Invoice {number}",
     "can u resend the bill for {number}? cant find it in our system. thx", {}, 9),
    ("Re: Invoice {number} is overdue",
     "Our AP lead changed last month. Who should we talk to about the payment terms on {number}? Please call me "
     "on +1 555 0142 when you can.", {}, 5),
    ("Automatic reply: Invoice {number}",
     "I am out of the office until Monday 14 December with limited access to e-mail. For urgent matters contact "
     "accounts@ our domain.", {"Auto-Submitted": "auto-replied"}, 3),
    ("Re: Invoice {number}",
     "We paid {number} in full last Tuesday by bank transfer, ref 88231. Please check your account.", {}, 2),
)


def write_replies(session: Session, org: Organization, today: dt.date) -> int:
    """Take in one reply from each of the first few overdue customers; returns how many were taken in."""
    now = utcnow()
    targets = _customers_with_overdue_invoices(session, org.id, today, len(_REPLIES))
    for (subject, body, headers, hours_ago), (invoice, contact) in zip(_REPLIES, targets, strict=False):
        sent_at = now - dt.timedelta(hours=hours_ago)
        raw = _raw_email(org, contact, invoice, subject, body, headers, sent_at)
        ingest_reply(session, org, raw, sent_at + dt.timedelta(minutes=2))
    return min(len(_REPLIES), len(targets))


def _customers_with_overdue_invoices(session: Session, org_id: int, today: dt.date,
                                     count: int) -> list[tuple[Invoice, Contact]]:
    """The largest overdue open invoice of distinct customers with a primary contact, largest first."""
    rows = session.execute(
        select(Invoice, Contact)
        .join(Customer, Customer.id == Invoice.customer_id)
        .join(Contact, (Contact.customer_id == Customer.id) & Contact.is_primary.is_(True))
        .where(Invoice.org_id == org_id, Invoice.status == "open", Invoice.due_date < today - dt.timedelta(days=20),
               Contact.opted_out_at.is_(None), Contact.bounced_at.is_(None))
        .order_by(Invoice.balance_minor.desc(), Invoice.id)).all()
    chosen, seen = [], set()
    for invoice, contact in rows:
        if invoice.customer_id not in seen:
            seen.add(invoice.customer_id)
            chosen.append((invoice, contact))
        if len(chosen) == count:
            break
    return chosen


def _raw_email(org: Organization, contact: Contact, invoice: Invoice, subject: str, body: str, headers: dict,
               sent_at: dt.datetime) -> bytes:
    message = EmailMessage()
    message["From"] = f"{contact.name or ''} <{contact.email}>"
    message["To"] = f"ar@{org.slug}.example"
    message["Subject"] = subject.format(number=invoice.number)
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = f"<demo-{invoice.id}-{int(sent_at.timestamp())}@{contact.email.rsplit('@', 1)[-1]}>"
    for name, value in headers.items():
        message[name] = value
    message.set_content(body.format(number=invoice.number))
    return message.as_bytes()
