"""The e-mails Plixo sent over the history: reminders a collector sent from the queue, most a few days before a
late payment came in (what "cash after a Plixo e-mail" measures), some a courtesy note before the due date, and
chasers on invoices still unpaid. Nothing in the last two weeks, so today's queue, send guard and Shadow cadence
start from the same place they always did."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from plixo.demo.draws import DAY, business_instant, history_start
from plixo.demo.invoices import PlannedInvoice
from plixo.demo.workspace import DEMO_EMAIL_DOMAIN, EMAIL_SIGNATURE, ORG_ZONE
from plixo.money import format_money
from plixo.outreach.models import Message, MessageInvoice

QUIET_DAYS = 14
_BEFORE_LATE_PAYMENT = 0.7  # of invoices paid late, reminded 2-12 days before the money came
_BEFORE_DUE = 0.2  # of invoices paid on time, a courtesy note a few days before the due date
_STILL_OPEN = 0.8  # of invoices overdue today, chased after the due date (and again two or three weeks later)
_MIN_GAP = dt.timedelta(days=2)  # the policy's minimum gap between e-mails to one customer


def write_reminders(session: Session, org_id: int, rng: random.Random, ledger: list[PlannedInvoice],
                    today: dt.date) -> int:
    """Sent reminders over the history up to two weeks ago, each listing its invoice; returns how many."""
    since, last = history_start(today), today - dt.timedelta(days=QUIET_DAYS)
    planned = []
    for invoice in ledger:
        contact = invoice.account.primary
        if contact is None or not contact.deliverable:
            continue
        planned += [(day, invoice, kind) for day, kind in _reminder_days(rng, invoice, today)
                    if since <= day <= last]
    planned.sort(key=lambda item: (item[0], item[1].number))
    latest: dict[int, dt.date] = {}
    messages = []
    for day, invoice, kind in planned:
        customer = invoice.account.customer
        if customer.id in latest and day - latest[customer.id] < _MIN_GAP:
            continue
        latest[customer.id] = day
        messages.append((_message(org_id, rng, invoice, day, kind, len(messages) + 1), invoice))
    session.add_all(message for message, _ in messages)
    session.flush()
    session.add_all(MessageInvoice(org_id=org_id, message_id=message.id, invoice_id=invoice.row.id)
                    for message, invoice in messages)
    return len(messages)


def _reminder_days(rng: random.Random, invoice: PlannedInvoice, today: dt.date) -> list[tuple[dt.date, str]]:
    """The days a reminder about `invoice` went, and which kind ("due" before the due date, else "overdue")."""
    days = []
    paid_on = invoice.receipts[0][0] if invoice.receipts else None
    if paid_on is not None and paid_on > invoice.due_date + 2 * DAY:
        if rng.random() < _BEFORE_LATE_PAYMENT:
            day = max(invoice.due_date + DAY, paid_on - dt.timedelta(days=rng.randint(2, 12)))
            days.append((_weekday_on_or_before(day), "overdue"))
    elif paid_on is not None and rng.random() < _BEFORE_DUE:
        day = max(invoice.issue_date + DAY, invoice.due_date - dt.timedelta(days=rng.randint(3, 6)))
        days.append((_weekday_on_or_before(day), "due"))
    if invoice.is_open and invoice.due_date < today and rng.random() < _STILL_OPEN:
        first = _weekday_on_or_before(invoice.due_date + dt.timedelta(days=rng.randint(3, 20)))
        second = _weekday_on_or_before(first + dt.timedelta(days=rng.randint(14, 21)))
        days += [(first, "overdue"), (second, "overdue")]
    return days


def _weekday_on_or_before(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday() - 4) if day.weekday() >= 5 else day


def _message(org_id: int, rng: random.Random, invoice: PlannedInvoice, day: dt.date, kind: str,
             number: int) -> Message:
    """One reminder, sent in office hours where the customer sits, by the collector who owns the customer."""
    customer, contact = invoice.account.customer, invoice.account.primary
    zone = ZoneInfo(customer.time_zone) if customer.time_zone else ORG_ZONE
    sent_at = business_instant(rng, day, zone)
    amount = format_money(invoice.amount_minor, invoice.account.currency)
    greeting = f"Hello {contact.name.split()[0]}," if contact.name else "Hello,"
    if kind == "due":
        subject = f"Invoice {invoice.number} is due on {invoice.due_date:%d %b}"
        text = (f"Just a quick note that invoice {invoice.number} for {amount} falls due on "
                f"{invoice.due_date:%d %B %Y}. If payment is already on its way, thank you!")
    else:
        subject = f"Invoice {invoice.number} is overdue"
        text = (f"Invoice {invoice.number} for {amount} was due on {invoice.due_date:%d %B %Y} and we have not "
                "received payment yet. Could you let us know when we can expect it?")
    return Message(
        org_id=org_id, idempotency_key=f"demo-reminder:{number:06d}", customer_id=customer.id,
        invoice_id=invoice.row.id, contact_id=contact.id, status="sent", to_email=contact.email, subject=subject,
        body=f"{greeting}\n\n{text}\n\nKind regards,\n{EMAIL_SIGNATURE}", sent_at=sent_at, attempts=1,
        provider_message_id=f"demo-{number:06d}", message_id_header=f"<demo-reminder-{number:06d}@{DEMO_EMAIL_DOMAIN}>",
        sender_domain=DEMO_EMAIL_DOMAIN, created_by_id=customer.owner_id, approved_by_id=customer.owner_id,
        approved_at=sent_at - dt.timedelta(minutes=3), created_at=sent_at - dt.timedelta(minutes=12),
        updated_at=sent_at,
    )
