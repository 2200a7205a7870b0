"""E-mails a person writes: the invoice's saved draft, and a send put in the outbox for the next allowed moment;
and cancelling what is pending once a stopping condition applies."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Organization, User
from plixo.accounts.service import policy_of
from plixo.actions import ActionError
from plixo.ledger.aging import local_today
from plixo.ledger.eligibility import refuse_if_stopped
from plixo.ledger.models import Contact, Invoice
from plixo.outreach.guardrails import customer_zone, next_allowed_moment
from plixo.outreach.merge_fields import preview
from plixo.outreach.models import Message, MessageInvoice

MAX_SUBJECT = 300
MAX_BODY = 20_000


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
    refuse_if_stopped(session, org, invoice, now)
    if recipient is None:
        raise ActionError("No contact can receive this e-mail: add or correct an address first.")
    subject, body = _checked_email(subject, body, values)
    if schedule_for is not None and schedule_for <= now:
        raise ActionError("Choose a time in the future.", "send_at")
    policy = policy_of(session, org.id)
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
