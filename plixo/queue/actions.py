"""What collectors do from the queue. Each action checks its input, changes state, audits, never commits.

Bad input raises ActionError with a message for the person (and the form field it concerns); nothing
has been changed when it does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Membership, Organization, User
from plixo.disputes.models import Dispute, DisputeEvidence
from plixo.ledger.aging import local_today
from plixo.ledger.models import Contact, Customer, Invoice, Payment, PaymentApplication
from plixo.money import format_money
from plixo.outreach.guardrails import next_allowed_moment
from plixo.outreach.models import Message, MessageInvoice, Policy
from plixo.queue.inspector import customer_zone, preview
from plixo.queue.models import (
    Approval,
    Hold,
    Note,
    NoteMention,
    Notification,
    PaymentPlan,
    PaymentPlanInvoice,
    PlanInstallment,
    Promise,
)
from plixo.queue.service import refresh_priorities, stopping_reasons
from plixo.security import role_can

DISPUTE_REASONS = {"pricing": "Pricing", "quantity": "Quantity", "quality": "Quality",
                   "not_received": "Goods or service not received", "duplicate": "Duplicate invoice",
                   "other": "Other"}
EVIDENCE_TYPES = {b"%PDF-": ("application/pdf", ".pdf"), b"\x89PNG\r\n\x1a\n": ("image/png", ".png"),
                  b"\xff\xd8\xff": ("image/jpeg", ".jpg")}
MAX_EVIDENCE_BYTES = 10 * 1024 * 1024
MAX_PROMISE_DAYS = 180
MAX_SUBJECT = 300
MAX_BODY = 20_000
_MENTION = re.compile(r"(?<![\w.])@([A-Za-z][\w.-]{1,60})")


# Who acts: a teammate, or a label for someone who is not one, such as "Payer portal (ap@globex.example)".
Actor = User | str
# Where a promise, plan or dispute was recorded (Promise/PaymentPlan/Dispute.source).
SOURCES = ("operator", "portal", "email")


def _user_id(actor: Actor) -> int | None:
    return None if isinstance(actor, str) else actor.id


def _checked_source(source: str) -> str:
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    return source


class ActionError(ValueError):
    """Input an action refuses, with the message to show and the field it concerns."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.message = message
        self.field = field


def _policy(session: Session, org_id: int) -> Policy:
    return session.scalar(select(Policy).where(Policy.org_id == org_id))


def rescore_customer(session: Session, org: Organization, customer_id: int, now: dt.datetime) -> None:
    """Score the customer's open invoices again (after something about the customer changed)."""
    ids = session.scalars(select(Invoice.id).where(Invoice.org_id == org.id, Invoice.customer_id == customer_id,
                                                   Invoice.status == "open")).all()
    refresh_priorities(session, org.id, org.base_currency, local_today(org.time_zone, now), ids)


def _refuse_if_stopped(session: Session, org: Organization, invoice: Invoice, now: dt.datetime) -> None:
    reasons = stopping_reasons(session, invoice.id, local_today(org.time_zone, now))
    if reasons:
        raise ActionError("No outreach on this invoice: " + "; ".join(reasons) + ".")


# --- Drafts and sends ----------------------------------------------------------------------------------

def _checked_email(subject: str, body: str, values: dict[str, str]) -> tuple[str, str]:
    """The e-mail as the payer will read it; refused while anything in it is missing or unknown."""
    if len(subject) > MAX_SUBJECT or len(body) > MAX_BODY:
        raise ActionError("The e-mail is too long.", "body")
    shown = preview(subject.strip(), body.strip(), values)
    if shown.problems:
        raise ActionError(" ".join(shown.problems), "body")
    return shown.subject, shown.body


def save_draft(session: Session, org: Organization, invoice: Invoice, user: User, subject: str, body: str) -> Message:
    """Keep the operator's edited e-mail as the invoice's draft (merge fields may still be incomplete)."""
    subject, body = subject.strip()[:MAX_SUBJECT], body.strip()[:MAX_BODY]
    if not subject and not body:
        raise ActionError("There is nothing to save.", "body")
    draft = session.scalar(select(Message).where(Message.org_id == org.id, Message.invoice_id == invoice.id,
                                                 Message.status == "draft").order_by(Message.id.desc()).limit(1))
    if draft is None:
        draft = Message(org_id=org.id, idempotency_key=f"draft:{invoice.id}:{uuid.uuid4().hex}",
                        customer_id=invoice.customer_id, invoice_id=invoice.id, status="draft", created_by_id=user.id)
        session.add(draft)
    draft.subject, draft.body = subject, body
    session.flush()
    audit.record(session, org_id=org.id, actor=user, action="queue.draft_saved", subject=invoice,
                 after={"message_id": draft.id})
    return draft


def send_email(session: Session, org: Organization, invoice: Invoice, user: User, subject: str, body: str,
               values: dict[str, str], recipient: Contact | None, now: dt.datetime,
               schedule_for: dt.datetime | None = None) -> Message:
    """Put the e-mail in the outbox for the next allowed moment (now, unless quiet hours or a chosen time).

    The idempotency key is the invoice, the exact text and the day: pressing Send twice makes one e-mail.
    """
    _refuse_if_stopped(session, org, invoice, now)
    if recipient is None:
        raise ActionError("No contact can receive this e-mail: add or correct an address first.")
    subject, body = _checked_email(subject, body, values)
    if schedule_for is not None and schedule_for <= now:
        raise ActionError("Choose a time in the future.", "send_at")
    policy = _policy(session, org.id)
    zone = customer_zone(invoice, org)
    moment = next_allowed_moment(schedule_for or now, zone, policy)
    if moment is None:
        raise ActionError("The workspace policy allows no sending days; a controller can set them in Policies.")
    fingerprint = hashlib.sha256(f"{recipient.email}\n{subject}\n{body}".encode()).hexdigest()[:24]
    key = f"queue:{invoice.id}:{local_today(org.time_zone, now).isoformat()}:{fingerprint}"
    existing = session.scalar(select(Message).where(Message.org_id == org.id, Message.idempotency_key == key))
    if existing is not None:
        return existing
    message = session.scalar(select(Message).where(Message.org_id == org.id, Message.invoice_id == invoice.id,
                                                   Message.status == "draft").order_by(Message.id.desc()).limit(1))
    if message is None:
        message = Message(org_id=org.id, customer_id=invoice.customer_id, invoice_id=invoice.id,
                          created_by_id=user.id)
        session.add(message)
    local = moment.astimezone(zone)
    waiting = moment > now + dt.timedelta(minutes=1)
    message.idempotency_key = key
    message.status, message.to_email, message.contact_id = "scheduled", recipient.email, recipient.id
    message.subject, message.body, message.scheduled_for = subject, body, moment
    message.wait_reason = (f"Quiet hours: waits until {local:%a %H:%M} in {zone.key}"
                           if waiting and schedule_for is None else None)
    message.approved_by_id, message.approved_at = user.id, now
    session.flush()
    if session.scalar(select(MessageInvoice.id).where(MessageInvoice.org_id == org.id,
                                                      MessageInvoice.message_id == message.id,
                                                      MessageInvoice.invoice_id == invoice.id)) is None:
        session.add(MessageInvoice(org_id=org.id, message_id=message.id, invoice_id=invoice.id))
    audit.record(session, org_id=org.id, actor=user, action="queue.email_scheduled", subject=invoice,
                 after={"message_id": message.id, "to": recipient.email, "scheduled_for": moment.isoformat()})
    return message


def cancel_pending_sends(session: Session, org_id: int, invoice_ids: list[int], actor, reason: str) -> int:
    """Cancel drafts and scheduled e-mails of invoices a stopping condition just applied to."""
    if not invoice_ids:
        return 0
    pending = session.scalars(select(Message).where(Message.org_id == org_id, Message.invoice_id.in_(invoice_ids),
                                                    Message.status.in_(("draft", "scheduled")))).all()
    for message in pending:
        message.status, message.last_error = "cancelled", reason
    if pending:
        for invoice_id in {m.invoice_id for m in pending}:
            audit.record(session, org_id=org_id, actor=actor, action="queue.sends_cancelled",
                         subject=session.get(Invoice, invoice_id), reason=reason,
                         after={"messages": sum(m.invoice_id == invoice_id for m in pending)})
    return len(pending)


# --- Promises ------------------------------------------------------------------------------------------

def log_promise(session: Session, org: Organization, invoice: Invoice, actor: Actor, amount_minor: int | None,
                promised_date: dt.date | None, contact_id: int | None, now: dt.datetime,
                source: str = "operator") -> Promise:
    """Record a promise to pay part or all of the balance by a date, and a reminder the day before."""
    source = _checked_source(source)
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
    contact = _contact_of(session, invoice, contact_id)
    session.execute(update(Promise).where(Promise.org_id == org.id, Promise.invoice_id == invoice.id,
                                          Promise.status == "pending")
                    .values(status="cancelled", resolved_at=now).execution_options(synchronize_session=False))
    promise = Promise(org_id=org.id, invoice_id=invoice.id, customer_id=invoice.customer_id,
                      contact_id=contact.id if contact else None, currency=invoice.currency,
                      amount_minor=amount_minor, promised_date=promised_date, source=source,
                      created_by_id=_user_id(actor))
    session.add(promise)
    session.flush()
    _schedule_promise_reminder(session, org, invoice, promise, contact, now)
    audit.record(session, org_id=org.id, actor=actor, action="queue.promise_logged", subject=invoice,
                 after={"promise_id": promise.id, "amount_minor": amount_minor, "date": promised_date.isoformat(),
                        "source": source})
    rescore_customer(session, org, invoice.customer_id, now)
    return promise


def _contact_of(session: Session, invoice: Invoice, contact_id: int | None) -> Contact | None:
    if contact_id is None:
        return None
    contact = session.get(Contact, contact_id)
    if contact is None or contact.customer_id != invoice.customer_id:
        raise ActionError("Choose one of this customer's contacts.", "contact_id")
    return contact


def _schedule_promise_reminder(session, org, invoice, promise, contact, now) -> None:
    """A courtesy reminder the day before the promised date, in the customer's business hours."""
    recipient = contact if contact is not None and contact.deliverable else None
    if recipient is None:
        return
    zone = customer_zone(invoice, org)
    policy = _policy(session, org.id)
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


# --- Payment plans -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Installment:
    due_date: dt.date
    amount_minor: int


def propose_plan(session: Session, org: Organization, invoice: Invoice, actor: Actor,
                 installments: list[Installment], now: dt.datetime, source: str = "operator") -> PaymentPlan:
    """Propose installments for the invoice's balance; within policy it is accepted, above it awaits approval."""
    source = _checked_source(source)
    today = local_today(org.time_zone, now)
    if len(installments) < 2:
        raise ActionError("A plan needs at least two installments.", "installments")
    dates = [i.due_date for i in installments]
    if any(i.amount_minor <= 0 for i in installments):
        raise ActionError("Every installment needs an amount above zero.", "installments")
    if dates[0] < today:
        raise ActionError("The first installment is in the past.", "installments")
    if any(later <= earlier for earlier, later in pairwise(dates)):
        raise ActionError("Installment dates must be in order, one per date.", "installments")
    total = sum(i.amount_minor for i in installments)
    if total != invoice.balance_minor:
        raise ActionError(f"The installments add up to {format_money(total, invoice.currency)}, but the balance is "
                          f"{format_money(invoice.balance_minor, invoice.currency)}.", "installments")
    # A collector may not plan around a hold or an opt-out. A payer asking for a plan is not outreach, so the
    # request is taken, but the team decides it: a hold may be there for a reason the payer does not know.
    stopped = stopping_reasons(session, invoice.id, today)
    if stopped and source == "operator":
        raise ActionError("No outreach on this invoice: " + "; ".join(stopped) + ".")
    policy = _policy(session, org.id)
    months = (dates[-1].year - today.year) * 12 + dates[-1].month - today.month
    needs_approval = bool(stopped) or total > policy.plan_approval_minor or months > policy.plan_approval_months
    plan = PaymentPlan(org_id=org.id, customer_id=invoice.customer_id, currency=invoice.currency, total_minor=total,
                       status="pending_approval" if needs_approval else "accepted", source=source,
                       proposed_by_id=_user_id(actor), decided_at=None if needs_approval else now)
    session.add(plan)
    session.flush()
    session.add(PaymentPlanInvoice(org_id=org.id, plan_id=plan.id, invoice_id=invoice.id))
    session.add_all(PlanInstallment(org_id=org.id, plan_id=plan.id, due_date=i.due_date, amount_minor=i.amount_minor,
                                    paid_minor=0) for i in installments)
    session.flush()
    audit.record(session, org_id=org.id, actor=actor, action="queue.plan_proposed", subject=invoice,
                 after={"plan_id": plan.id, "total_minor": total, "installments": len(installments),
                        "status": plan.status, "source": source})
    if needs_approval:
        reason = f"Plan of {len(installments)} installments for {invoice.number}"
        if stopped:
            reason += " (outreach is stopped: " + "; ".join(stopped) + ")"
        _request_approval(session, org, actor, "payment_plan", plan, total, invoice.currency, policy, reason,
                          source)
    else:
        cancel_pending_sends(session, org.id, [invoice.id], actor, "Payment plan accepted")
    return plan


def _request_approval(session, org, actor, kind, subject, amount_minor, currency, policy, reason,
                      source: str = "operator") -> Approval:
    approval = Approval(org_id=org.id, kind=kind, subject_type=type(subject).__name__, subject_id=subject.id,
                        currency=currency, amount_minor=amount_minor, approver_role=policy.approver_role,
                        requested_by_id=_user_id(actor), reason=reason, source=source)
    session.add(approval)
    session.flush()
    audit.record(session, org_id=org.id, actor=actor, action="approvals.requested", subject=approval,
                 after={"kind": kind, "amount_minor": amount_minor})
    return approval


# --- Disputes, holds, suppression, escalation, write-off ---------------------------------------------------

def open_dispute(session: Session, org: Organization, invoice: Invoice, actor: Actor, reason: str, note: str,
                 evidence: tuple[str, bytes] | None, evidence_dir: Path, now: dt.datetime,
                 source: str = "operator") -> Dispute:
    """Mark the invoice disputed: it leaves the queue and its pending sends are cancelled."""
    source = _checked_source(source)
    if reason not in DISPUTE_REASONS:
        raise ActionError("Choose the reason for the dispute.", "reason")
    if invoice.status != "open":
        raise ActionError(f"Only open invoices can be disputed (this one is {invoice.status.replace('_', ' ')}).")
    stored = _checked_evidence(evidence) if evidence else None
    dispute = Dispute(org_id=org.id, invoice_id=invoice.id, customer_id=invoice.customer_id, reason=reason,
                      description=note.strip()[:5000], source=source, opened_at=now,
                      sla_due_at=now + dt.timedelta(days=10))
    session.add(dispute)
    before = invoice.status
    invoice.status = "disputed"
    session.flush()
    if stored is not None:
        _store_evidence(session, org, dispute, actor, evidence[0], evidence[1], stored, evidence_dir, now)
    cancel_pending_sends(session, org.id, [invoice.id], actor, "Invoice disputed")
    audit.record(session, org_id=org.id, actor=actor, action="queue.dispute_opened", subject=invoice,
                 before={"status": before}, after={"status": "disputed", "dispute_id": dispute.id, "reason": reason,
                                                   "source": source})
    rescore_customer(session, org, invoice.customer_id, now)
    return dispute


def _checked_evidence(evidence: tuple[str, bytes]) -> tuple[str, str]:
    _name, data = evidence
    if not data:
        raise ActionError("The evidence file is empty.", "evidence")
    if len(data) > MAX_EVIDENCE_BYTES:
        raise ActionError(f"Evidence files can be at most {MAX_EVIDENCE_BYTES // (1024 * 1024)} MB.", "evidence")
    for magic, kind in EVIDENCE_TYPES.items():
        if data.startswith(magic):
            return kind
    raise ActionError("Evidence must be a PDF, PNG or JPEG file.", "evidence")


def _store_evidence(session, org, dispute, actor, filename, data, kind, evidence_dir: Path, now) -> None:
    content_type, suffix = kind
    digest = hashlib.sha256(data).hexdigest()
    folder = evidence_dir / str(org.id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}{suffix}"
    path.write_bytes(data)
    safe_name = re.sub(r"[^\w.\- ]", "_", Path(filename or "evidence").name)[:200] or "evidence"
    session.add(DisputeEvidence(org_id=org.id, dispute_id=dispute.id, filename=safe_name, content_type=content_type,
                                size_bytes=len(data), sha256=digest, storage_path=str(path),
                                uploaded_by_id=_user_id(actor), uploaded_at=now))
    session.flush()


def place_hold(session: Session, org: Organization, invoice: Invoice, user: User, reason: str,
               until: dt.date | None, now: dt.datetime) -> Hold:
    """Stop outreach on one invoice, until a date or until released."""
    if not reason.strip():
        raise ActionError("Say why the invoice is on hold.", "reason")
    if until is not None and until <= local_today(org.time_zone, now):
        raise ActionError("The hold must end after today.", "until")
    hold = Hold(org_id=org.id, kind="hold", customer_id=invoice.customer_id, invoice_id=invoice.id,
                reason=reason.strip()[:2000], until=until, created_by_id=user.id)
    session.add(hold)
    session.flush()
    cancel_pending_sends(session, org.id, [invoice.id], user, "Invoice on hold")
    audit.record(session, org_id=org.id, actor=user, action="queue.hold_placed", subject=invoice,
                 after={"hold_id": hold.id, "until": until.isoformat() if until else None}, reason=reason.strip())
    return hold


def suppress_contact(session: Session, org: Organization, invoice: Invoice, user: User, contact_id: int | None,
                     until: dt.date | None, reason: str, now: dt.datetime) -> Hold:
    """Pause outreach to the customer through this contact until a reactivation date (it resumes that day)."""
    contact = _contact_of(session, invoice, contact_id)
    if contact is None:
        raise ActionError("Choose the contact to suppress.", "contact_id")
    if until is None or until <= local_today(org.time_zone, now):
        raise ActionError("Choose a reactivation date after today.", "until")
    contact.suppressed_until = until
    hold = Hold(org_id=org.id, kind="suppression", customer_id=invoice.customer_id, contact_id=contact.id,
                until=until, reason=reason.strip()[:2000], created_by_id=user.id)
    session.add(hold)
    session.flush()
    invoice_ids = session.scalars(select(Invoice.id).where(Invoice.org_id == org.id,
                                                           Invoice.customer_id == invoice.customer_id)).all()
    cancel_pending_sends(session, org.id, list(invoice_ids), user, f"Contact suppressed until {until:%d %b %Y}")
    audit.record(session, org_id=org.id, actor=user, action="queue.contact_suppressed", subject=contact,
                 after={"until": until.isoformat()}, reason=reason.strip())
    return hold


def active_opt_out(session: Session, org_id: int, customer_id: int) -> Hold | None:
    """The customer's standing opt-out from reminders, if any (a released one no longer counts)."""
    return session.scalar(select(Hold).where(Hold.org_id == org_id, Hold.customer_id == customer_id,
                                             Hold.kind == "opt_out", Hold.invoice_id.is_(None),
                                             Hold.released_at.is_(None)).order_by(Hold.id.desc()).limit(1))


def record_opt_out(session: Session, org: Organization, customer: Customer, actor: Actor, reason: str,
                   now: dt.datetime) -> Hold:
    """The customer asked for no more reminders: every contact is marked opted out and a customer-wide opt-out hold
    stops outreach on all its invoices (a stopping condition); drafts and scheduled e-mails are cancelled."""
    if active_opt_out(session, org.id, customer.id) is not None:
        raise ActionError("Reminders are already switched off for this customer.")
    contacts = session.scalars(select(Contact).where(Contact.org_id == org.id, Contact.customer_id == customer.id,
                                                     Contact.opted_out_at.is_(None))).all()
    for contact in contacts:
        contact.opted_out_at = now  # kept even if the hold is released: the address asked not to be written to
    hold = Hold(org_id=org.id, kind="opt_out", customer_id=customer.id, reason=reason.strip()[:2000],
                created_by_id=_user_id(actor))
    session.add(hold)
    session.flush()
    invoice_ids = session.scalars(select(Invoice.id).where(Invoice.org_id == org.id,
                                                           Invoice.customer_id == customer.id)).all()
    cancel_pending_sends(session, org.id, list(invoice_ids), actor, "Customer opted out of reminders")
    audit.record(session, org_id=org.id, actor=actor, action="queue.opted_out", subject=customer,
                 after={"hold_id": hold.id, "contacts": [c.id for c in contacts]}, reason=reason.strip())
    rescore_customer(session, org, customer.id, now)
    return hold


def revoke_payer_links(session: Session, org: Organization, invoice: Invoice, user: User, reason: str) -> Customer:
    """Make every pay and portal link sent to the invoice's customer stop working (a forwarded or leaked e-mail);
    open portal sessions end too. E-mails the engine sends from now on carry new links."""
    customer = invoice.customer
    before = customer.portal_version
    customer.portal_version = before + 1
    session.flush()
    audit.record(session, org_id=org.id, actor=user, action="queue.payer_links_revoked", subject=invoice,
                 before={"portal_version": before}, after={"portal_version": customer.portal_version,
                                                           "customer_id": customer.id}, reason=reason.strip()[:2000])
    return customer


def escalate_to_shadow(session: Session, org: Organization, invoice: Invoice, user: User, reason: str) -> Hold:
    """Take one invoice out of Autopilot: its e-mails become drafts that a person reviews and sends."""
    existing = session.scalar(select(Hold).where(Hold.org_id == org.id, Hold.invoice_id == invoice.id,
                                                 Hold.kind == "shadow", Hold.released_at.is_(None)))
    if existing is not None:
        raise ActionError("This invoice is already in Shadow Mode.")
    hold = Hold(org_id=org.id, kind="shadow", customer_id=invoice.customer_id, invoice_id=invoice.id,
                reason=reason.strip()[:2000], created_by_id=user.id)
    session.add(hold)
    session.flush()
    audit.record(session, org_id=org.id, actor=user, action="queue.escalated_to_shadow", subject=invoice,
                 reason=reason.strip())
    return hold


def request_write_off(session: Session, org: Organization, invoice: Invoice, user: User, reason: str,
                      now: dt.datetime) -> Approval:
    """Ask to write off the balance; a write-off always waits for the approver's decision."""
    if not reason.strip():
        raise ActionError("Say why the balance should be written off.", "reason")
    if invoice.status not in ("open", "disputed") or invoice.balance_minor <= 0:
        raise ActionError("Only an invoice with an open balance can be written off.")
    pending = session.scalar(select(Approval).where(Approval.org_id == org.id, Approval.kind == "write_off",
                                                    Approval.subject_type == "Invoice",
                                                    Approval.subject_id == invoice.id, Approval.status == "pending"))
    if pending is not None:
        raise ActionError("A write-off of this invoice is already awaiting approval.")
    policy = _policy(session, org.id)
    approval = _request_approval(session, org, user, "write_off", invoice, invoice.balance_minor, invoice.currency,
                                 policy, reason.strip()[:2000])
    if invoice.balance_minor > policy.writeoff_approval_minor:
        approval.approver_role = "legal"  # large write-offs are Legal's call, whoever approves the rest
    return approval


# --- Notes, mentions, assignment ----------------------------------------------------------------------------

def members_by_handle(session: Session, org_id: int) -> dict[str, User]:
    """Each active member under the handles a note can mention them by: e-mail name and first name."""
    users = session.scalars(select(User).join(Membership, Membership.user_id == User.id)
                            .where(Membership.org_id == org_id, Membership.is_active.is_(True))).all()
    handles: dict[str, list[User]] = {}
    for user in users:
        for handle in {user.email.split("@")[0].lower(), user.name.split()[0].lower() if user.name else ""}:
            if handle:
                handles.setdefault(handle, []).append(user)
    return {handle: found[0] for handle, found in handles.items() if len(found) == 1}


def add_note(session: Session, org: Organization, invoice: Invoice, user: User, body: str, link: str) -> Note:
    """An internal note on the invoice; each @mentioned teammate gets a notification."""
    body = body.strip()
    if not body:
        raise ActionError("Write the note.", "body")
    if len(body) > 5000:
        raise ActionError("Notes can be at most 5,000 characters.", "body")
    note = Note(org_id=org.id, customer_id=invoice.customer_id, invoice_id=invoice.id, author_id=user.id, body=body)
    session.add(note)
    session.flush()
    handles = members_by_handle(session, org.id)
    mentioned = {handles[h.lower()].id: handles[h.lower()] for h in _MENTION.findall(body) if h.lower() in handles}
    for member in mentioned.values():
        session.add(NoteMention(org_id=org.id, note_id=note.id, user_id=member.id))
        if member.id != user.id:
            notify(session, org.id, member, "mention", f"{user.name} mentioned you on {invoice.number}", link)
    session.flush()
    audit.record(session, org_id=org.id, actor=user, action="queue.note_added", subject=invoice,
                 after={"note_id": note.id, "mentions": sorted(m.name for m in mentioned.values())})
    return note


def notify(session: Session, org_id: int, user: User, kind: str, text: str, link: str | None = None) -> Notification:
    """Put something in a teammate's notification list."""
    notification = Notification(org_id=org_id, user_id=user.id, kind=kind, text=text[:300], link=link)
    session.add(notification)
    return notification


def assign(session: Session, org: Organization, invoice: Invoice, user: User, assignee_id: int | None,
           whole_customer: bool) -> None:
    """Give the invoice (or the customer's account) to an operator; None unassigns."""
    assignee = None
    if assignee_id is not None:
        membership = session.scalar(select(Membership).where(Membership.org_id == org.id,
                                                             Membership.user_id == assignee_id,
                                                             Membership.is_active.is_(True)))
        if membership is None or not role_can(membership.role, "queue.work"):
            raise ActionError("Choose a teammate who works the queue.", "assignee_id")
        assignee = session.get(User, assignee_id)
    if whole_customer:
        before = invoice.customer.owner_id
        invoice.customer.owner_id = assignee.id if assignee else None
        subject, after = invoice.customer, {"owner_id": invoice.customer.owner_id}
    else:
        before = invoice.assignee_id
        invoice.assignee_id = assignee.id if assignee else None
        subject, after = invoice, {"assignee_id": invoice.assignee_id}
    session.flush()
    audit.record(session, org_id=org.id, actor=user, action="queue.assigned", subject=subject,
                 before={"assignee": before}, after=after)


# --- Approvals ---------------------------------------------------------------------------------------------

def decide_approval(session: Session, org: Organization, approval: Approval, user: User, role: str,
                    approve: bool, comment: str, now: dt.datetime, link: str | None = None) -> Approval:
    """Approve or reject a pending request routed to the decider's role; the requester is notified."""
    if approval.status != "pending":
        raise ActionError("This request has already been decided.")
    if approval.approver_role != role and role != "controller":
        raise ActionError("This request is routed to another role.")
    if not approve and not comment.strip():
        raise ActionError("Say why the request is rejected.", "comment")
    approval.status = "approved" if approve else "rejected"
    approval.decided_by_id, approval.decided_at = user.id, now
    _carry_out(session, org, approval, user, approve, now)
    session.flush()
    audit.record(session, org_id=org.id, actor=user, action=f"approvals.{approval.status}", subject=approval,
                 after={"kind": approval.kind, "subject": f"{approval.subject_type} {approval.subject_id}"},
                 reason=comment.strip())
    if approval.requested_by_id and approval.requested_by_id != user.id:
        requester = session.get(User, approval.requested_by_id)
        verdict = "approved" if approve else "rejected"
        notify(session, org.id, requester, "approval_decided",
               f"{user.name} {verdict} your {approval.kind.replace('_', ' ')} request"
               + (f": {comment.strip()}" if comment.strip() else ""), link)
    return approval


def _carry_out(session: Session, org: Organization, approval: Approval, user: User, approve: bool,
               now: dt.datetime) -> None:
    """What an approval lets continue, or sends back."""
    if approval.kind == "payment_plan":
        plan = session.get(PaymentPlan, approval.subject_id)
        if plan is not None:
            plan.status, plan.decided_at = ("accepted" if approve else "rejected"), now
            if approve:
                invoice_ids = [link.invoice_id for link in plan.invoices]
                cancel_pending_sends(session, org.id, invoice_ids, user, "Payment plan accepted")
    elif approval.kind == "write_off" and approve:
        invoice = session.get(Invoice, approval.subject_id)
        if invoice is not None and invoice.status in ("open", "disputed"):
            before = {"status": invoice.status, "balance_minor": invoice.balance_minor}
            invoice.status, invoice.closed_at = "written_off", now
            cancel_pending_sends(session, org.id, [invoice.id], user, "Written off")
            audit.record(session, org_id=org.id, actor=user, action="queue.written_off", subject=invoice,
                         before=before, after={"status": "written_off"})


def refresh_queue(session: Session, org: Organization, now: dt.datetime) -> dict[str, int]:
    """Settle the workspace's promises and recompute its queue scores (idempotent)."""
    today = local_today(org.time_zone, now)
    outcome = settle_promises(session, org.id, today, now)
    outcome["rescored"] = refresh_priorities(session, org.id, org.base_currency, today)
    return outcome
