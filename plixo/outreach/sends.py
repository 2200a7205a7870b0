"""E-mails a person writes: the invoice's saved draft, and a send put in the outbox for the next allowed moment;
and cancelling what is pending once a stopping condition applies."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Organization, Policy, User
from plixo.accounts.service import policy_of
from plixo.actions import ActionError, Actor, user_id
from plixo.ledger.aging import local_today
from plixo.ledger.eligibility import refuse_if_stopped, stopping_reasons
from plixo.ledger.models import Contact, Invoice
from plixo.outreach.guardrails import customer_zone
from plixo.outreach.merge_fields import preview
from plixo.outreach.models import Message, MessageInvoice
from plixo.outreach.send_guard import (
    CHOSEN,
    GRACE,
    WAIVABLE,
    Verdict,
    decide,
    facts_for_customer,
    lock_customer,
    waiting_replies,
    workspace_load,
)
from plixo.replies.models import Reply

MAX_SUBJECT = 300
GOING = ("scheduled", "sending", "delivering", "sent", "review")  # an e-mail on its way, gone, or maybe gone
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
               schedule_for: dt.datetime | None = None, override: Override | None = None,
               reply_read: bool = False, dispute_id: int | None = None) -> Message:
    """Put the e-mail in the outbox at the first moment the send guard allows (now, or a chosen later time).

    Sends to one customer are serialised (`lock_customer`), so however fast the keys are pressed, from however
    many tabs, each e-mail is placed after the ones before it. The idempotency key is the invoice, the exact text
    and the day: pressing Send twice on the same text makes one e-mail.
    """
    refuse_if_stopped(session, org, invoice, now, allow_disputed=dispute_id is not None)
    if recipient is None:
        raise ActionError("No contact can receive this e-mail: add or correct an address first.")
    subject, body = _checked_email(subject, body, values)
    if schedule_for is not None and schedule_for <= now:
        raise ActionError("Choose a time in the future.", "send_at")
    lock_customer(session, invoice.customer_id)
    key = _idempotency_key(org, invoice, recipient, subject, body, now)
    existing = session.scalar(select(Message).where(Message.org_id == org.id, Message.idempotency_key == key))
    if existing is not None and existing.status in GOING:
        return existing  # the same text pressed again: that one e-mail
    _refuse_if_already_waiting(session, org, invoice, now)
    _settle_waiting_reply(session, org, invoice, user, reply_read, now)
    verdict = guard_for(session, org, invoice, now, at=schedule_for, override=override)
    if verdict.stopped:
        raise ActionError(f"Not sent: {verdict.reason}")
    # The same text as an e-mail that was cancelled (or sent back for review) goes again, in that same row.
    message = existing or _outbox_message(session, org, invoice, user)
    message.idempotency_key = key
    message.status, message.to_email, message.contact_id = "scheduled", recipient.email, recipient.id
    message.subject, message.body, message.scheduled_for = subject, body, verdict.moment
    message.wait_reason = verdict.reason if verdict.cause != CHOSEN else None
    message.guard_override = override.reason if override else None
    message.dispute_id = dispute_id
    message.approved_by_id, message.approved_at = user.id, now
    session.flush()
    _list_invoice(session, org, message, invoice)
    audit.record(session, org_id=org.id, actor=user, action="queue.email_scheduled", subject=invoice,
                 after={"message_id": message.id, "to": recipient.email,
                        "scheduled_for": verdict.moment.isoformat(), "wait": message.wait_reason})
    if override is not None:
        audit.record(session, org_id=org.id, actor=user, action="queue.guard_overridden", subject=invoice,
                     reason=override.reason, after={"message_id": message.id, "waived": list(WAIVABLE)})
    return message


def _settle_waiting_reply(session: Session, org: Organization, invoice: Invoice, user: User, confirmed: bool,
                          now: dt.datetime) -> None:
    """A person may write to a customer whose reply waits, once they say they read it: the e-mail answers it."""
    waiting = waiting_replies(session, org.id, {invoice.customer_id}).get(invoice.customer_id)
    if waiting is None:
        return
    if not confirmed:
        raise ActionError(f"{waiting.describe(ZoneInfo(org.time_zone))}. Read it, then confirm you did: the e-mail "
                          "marks it handled.", "reply_read")
    replies = session.scalars(select(Reply).where(Reply.org_id == org.id, Reply.customer_id == invoice.customer_id,
                                                  Reply.handled_at.is_(None))).all()
    for reply in replies:
        settle_reply(session, reply, user, "Answered by e-mail", now)


def settle_reply(session: Session, reply: Reply, actor: Actor, how: str, now: dt.datetime) -> None:
    """Mark a payer's reply handled (audited): it no longer pauses its customer's chase."""
    reply.handled_at, reply.handled_by_id, reply.handled_how = now, user_id(actor), how[:200]
    audit.record(session, org_id=reply.org_id, actor=actor, action="replies.handled", subject=reply,
                 after={"how": how[:200], "label": reply.reading})


@dataclass(frozen=True)
class Override:
    """A person's explicit waiver of the customer's touch rules (minimum gap, weekly cap): only with the
    permission and a typed reason; quiet hours, caps and stopping conditions are never waived."""

    reason: str

    @classmethod
    def asked(cls, reason: str, permitted: bool) -> Override:
        if not permitted:
            raise ActionError("Only a controller or an A/R manager can override the send guard.", "override_reason")
        reason = reason.strip()
        if len(reason) < 5:
            raise ActionError("Say why this e-mail should go inside the customer's contact limits.",
                              "override_reason")
        return cls(reason[:500])


def guard_for(session: Session, org: Organization, invoice: Invoice, now: dt.datetime,
              at: dt.datetime | None = None, override: Override | None = None, policy: Policy | None = None,
              stops: list[str] | None = None) -> Verdict:
    """The send guard's answer for a person's e-mail about `invoice` (what the inspector shows, what S does);
    the inspector passes the policy and stopping reasons it already has."""
    policy = policy or policy_of(session, org.id)
    if stops is None:
        stops = stopping_reasons(session, invoice.id, local_today(org.time_zone, now),
                                 allow_disputed=invoice.status == "disputed")
    facts = facts_for_customer(session, org.id, invoice.customer_id, now, policy, stops)
    return decide(policy, workspace_load(session, org, policy), facts, customer_zone(invoice, org), now,
                  automated=False, at=at, waive_touch_rules=override is not None)


def _idempotency_key(org: Organization, invoice: Invoice, recipient: Contact, subject: str, body: str,
                     now: dt.datetime) -> str:
    fingerprint = hashlib.sha256(f"{recipient.email}\n{subject}\n{body}".encode()).hexdigest()[:24]
    return f"queue:{invoice.id}:{local_today(org.time_zone, now).isoformat()}:{fingerprint}"


def _refuse_if_already_waiting(session: Session, org: Organization, invoice: Invoice, now: dt.datetime) -> None:
    """One waiting e-mail per invoice: a second press while one waits would only stack another behind it."""
    waiting = session.scalar(select(Message).where(
        Message.org_id == org.id, Message.invoice_id == invoice.id, Message.status == "scheduled",
        Message.scheduled_for > now + GRACE).order_by(Message.scheduled_for).limit(1))
    if waiting is not None:
        zone = customer_zone(invoice, org)
        raise ActionError(f"An e-mail about {invoice.number} already waits to go "
                          f"{waiting.scheduled_for.astimezone(zone):%a %d %b %H:%M} ({zone.key}); "
                          "cancel it under Scheduled sends to send a different one.")


def _outbox_message(session: Session, org: Organization, invoice: Invoice, user: User) -> Message:
    """The invoice's saved draft becomes the e-mail; without one, a new message."""
    message = session.scalar(select(Message).where(Message.org_id == org.id, Message.invoice_id == invoice.id,
                                                   Message.status == "draft").order_by(Message.id.desc()).limit(1))
    if message is None:
        message = Message(org_id=org.id, customer_id=invoice.customer_id, invoice_id=invoice.id,
                          created_by_id=user.id)
        session.add(message)
    return message


def _list_invoice(session: Session, org: Organization, message: Message, invoice: Invoice) -> None:
    if session.scalar(select(MessageInvoice.id).where(MessageInvoice.org_id == org.id,
                                                      MessageInvoice.message_id == message.id,
                                                      MessageInvoice.invoice_id == invoice.id)) is None:
        session.add(MessageInvoice(org_id=org.id, message_id=message.id, invoice_id=invoice.id))


def cancel_scheduled(session: Session, org: Organization, invoice: Invoice, message_id: int, user: User) -> int:
    """A person takes back one e-mail that waits in the outbox. One conditional update: if the sender leased it
    in the meantime, it is no longer waiting and the cancel is refused, never both."""
    found = session.scalar(select(Message.status).where(Message.org_id == org.id, Message.id == message_id,
                                                        Message.invoice_id == invoice.id))
    if found is None:
        raise ActionError("That e-mail is not in this invoice's outbox.")
    cancelled = session.execute(
        update(Message).where(Message.org_id == org.id, Message.id == message_id, Message.status == "scheduled")
        .values(status="cancelled", last_error=f"Cancelled by {user.name}")
        .execution_options(synchronize_session="fetch")).rowcount
    if not cancelled:
        raise ActionError("That e-mail is no longer waiting: it is being sent or was already handled.")
    audit.record(session, org_id=org.id, actor=user, action="queue.email_cancelled", subject=invoice,
                 after={"message_id": message_id})
    return message_id


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
