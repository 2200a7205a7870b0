"""Promises to pay: logging one (with a courtesy reminder the day before), settling pending ones against payments,
and each customer's record of keeping them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Organization
from plixo.accounts.service import policy_of
from plixo.actions import ActionError, Actor, checked_source, user_id
from plixo.ledger.aging import local_today
from plixo.ledger.contacts import customer_contact
from plixo.ledger.models import Invoice, Payment, PaymentApplication
from plixo.ledger.priority import refresh_priorities, rescore_customer
from plixo.money import format_money
from plixo.outreach.guardrails import customer_zone, next_allowed_moment
from plixo.outreach.models import Message
from plixo.promises.models import Promise

MAX_PROMISE_DAYS = 180


def log_promise(session: Session, org: Organization, invoice: Invoice, actor: Actor, amount_minor: int | None,
                promised_date: dt.date | None, contact_id: int | None, now: dt.datetime,
                source: str = "operator") -> Promise:
    """Record a promise to pay part or all of the balance by a date, and a reminder the day before."""
    source = checked_source(source)
    today = local_today(org.time_zone, now)
    if amount_minor is None or amount_minor <= 0:
        raise ActionError("Enter the amount promised.", "amount")
    if amount_minor > invoice.balance_minor:
        raise ActionError(f"The promise cannot exceed the open balance of "
                          f"{format_money(invoice.balance_minor, invoice.currency)}.", "amount")
    if promised_date is None:
        raise ActionError("Enter the date payment was promised for.", "promised_date")
    if promised_date < today:
        raise ActionError("The promised date is in the past.", "promised_date")
    if promised_date > today + dt.timedelta(days=MAX_PROMISE_DAYS):
        raise ActionError(f"A promise more than {MAX_PROMISE_DAYS} days out is a payment plan.", "promised_date")
    contact = customer_contact(session, invoice, contact_id)
    session.execute(update(Promise).where(Promise.org_id == org.id, Promise.invoice_id == invoice.id,
                                          Promise.status == "pending")
                    .values(status="cancelled", resolved_at=now).execution_options(synchronize_session=False))
    promise = Promise(org_id=org.id, invoice_id=invoice.id, customer_id=invoice.customer_id,
                      contact_id=contact.id if contact else None, currency=invoice.currency,
                      amount_minor=amount_minor, promised_date=promised_date, source=source,
                      created_by_id=user_id(actor))
    session.add(promise)
    session.flush()
    _schedule_promise_reminder(session, org, invoice, promise, contact, now)
    audit.record(session, org_id=org.id, actor=actor, action="queue.promise_logged", subject=invoice,
                 after={"promise_id": promise.id, "amount_minor": amount_minor, "date": promised_date.isoformat(),
                        "source": source})
    rescore_customer(session, org, invoice.customer_id, now)
    return promise


def _schedule_promise_reminder(session, org, invoice, promise, contact, now) -> None:
    """A courtesy reminder the day before the promised date, in the customer's business hours."""
    recipient = contact if contact is not None and contact.deliverable else None
    if recipient is None:
        return
    zone = customer_zone(invoice, org)
    policy = policy_of(session, org.id)
    eve = dt.datetime.combine(promise.promised_date - dt.timedelta(days=1), policy.business_hours_start, zone)
    moment = next_allowed_moment(eve.astimezone(dt.UTC), zone, policy, business_hours=True)
    if eve <= now or moment is None:
        return
    amount = format_money(promise.amount_minor, promise.currency)
    session.add(Message(
        org_id=org.id, idempotency_key=f"promise:{promise.id}:reminder", customer_id=invoice.customer_id,
        invoice_id=invoice.id, contact_id=recipient.id, to_email=recipient.email, status="scheduled",
        subject=f"Your payment for invoice {invoice.number}",
        body=(f"Hello {invoice.customer.name},\n\nA reminder of the payment of {amount} for invoice "
              f"{invoice.number} promised for {promise.promised_date:%-d %b %Y}.\n\nThank you."),
        scheduled_for=moment,
        wait_reason=f"Reminder the day before the promised date ({promise.promised_date:%-d %b})",
    ))
    session.flush()


def settle_promises(session: Session, org_id: int, today: dt.date, now: dt.datetime,
                    invoice_ids: list[int] | None = None) -> dict[str, int]:
    """Mark pending promises (all, or those on the given invoices) kept when payments since cover them,
    broken once their date has passed."""
    outcome = {"kept": 0, "broken": 0}
    pending = select(Promise).where(Promise.org_id == org_id, Promise.status == "pending")
    if invoice_ids is not None:
        pending = pending.where(Promise.invoice_id.in_(invoice_ids))
    for promise in session.scalars(pending):
        paid = session.scalar(select(func.coalesce(func.sum(PaymentApplication.amount_minor), 0))
                              .join(Payment, (Payment.id == PaymentApplication.payment_id)
                                    & (Payment.org_id == org_id))
                              .where(PaymentApplication.org_id == org_id,
                                     PaymentApplication.invoice_id == promise.invoice_id,
                                     Payment.received_at >= promise.created_at))
        if paid >= promise.amount_minor:
            promise.status, promise.resolved_at = "kept", now
            outcome["kept"] += 1
        elif promise.promised_date < today:
            promise.status, promise.resolved_at = "broken", now
            outcome["broken"] += 1
        else:
            continue
        audit.record(session, org_id=org_id, actor="system", action=f"queue.promise_{promise.status}",
                     subject=promise, after={"invoice_id": promise.invoice_id})
    session.flush()
    return outcome


def promise_adherence(session: Session, org_id: int, customer_id: int) -> float | None:
    """Share of the customer's resolved promises that were kept (None before any resolved)."""
    rows = dict(session.execute(select(Promise.status, func.count()).where(
        Promise.org_id == org_id, Promise.customer_id == customer_id, Promise.status.in_(("kept", "broken")))
        .group_by(Promise.status)).all())
    total = rows.get("kept", 0) + rows.get("broken", 0)
    return rows.get("kept", 0) / total if total else None


def refresh_queue(session: Session, org: Organization, now: dt.datetime) -> dict[str, int]:
    """Settle the workspace's promises and recompute its queue scores (idempotent)."""
    today = local_today(org.time_zone, now)
    outcome = settle_promises(session, org.id, today, now)
    outcome["rescored"] = refresh_priorities(session, org.id, org.base_currency, today)
    return outcome
