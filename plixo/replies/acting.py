"""What Plixo does about a reply, automatically at intake or when a person accepts the suggestion in triage.

Each class has one action; it answers what was done and whether that settles the reply. A reply that is not
settled waits for a person, and its customer's chase is paused until someone handles it (the send guard reads
`Reply.handled_at`). Automatic actions need a confident, single-intent reading; anything less waits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Organization
from plixo.actions import ActionError, Actor, user_id
from plixo.disputes.service import open_dispute
from plixo.holds.models import Hold
from plixo.ledger.models import Contact, Customer, Invoice
from plixo.money import format_money
from plixo.outreach.models import Message
from plixo.outreach.sends import cancel_pending_sends, settle_reply
from plixo.replies.models import Reply

PAUSE_WITHOUT_RETURN_DATE = dt.timedelta(days=7)
LONGEST_PAUSE = dt.timedelta(days=30)  # "on leave until September" must not silence a customer for months
CHECK_PAYMENT_FOR = dt.timedelta(days=7)
# What accepting each class does, in the words the triage view shows on its button.
SUGGESTIONS = {
    "dispute": "Open a dispute",
    "promise": "Log the promise",
    "already_paid": "Hold for a remittance check",
    "invoice_copy": "Send the portal link",
    "out_of_office": "Pause until they are back",
    "unsubscribe": "Opt the sender out",
}


@dataclass(frozen=True)
class Acted:
    outcome: str
    settled: bool  # nothing is left for a person to do about the reply


def act_automatically(session: Session, org: Organization, reply: Reply, customer: Customer | None,
                      invoice: Invoice | None, confident: bool, now: dt.datetime) -> Acted:
    """What intake does about a new reply. Promises and copy requests always wait for a person: the first
    commits the customer to a date only they can confirm, the second writes to the payer."""
    if customer is None:
        return Acted("Not matched to a customer: for the team to read.", False)
    if reply.matched_by == "thread_stranger":
        return Acted("Sent by someone who is not a contact of this customer: for the team to read; nothing done.",
                     False)
    handler = _AUTOMATIC.get(reply.label)
    if handler is None:
        return Acted(_waiting_outcome(reply), False)
    if not confident:
        return Acted(f"Reads as {reply.label.replace('_', ' ')} ({reply.confidence_pct} % sure): for the team to "
                     "confirm; nothing done.", False)
    actor = f"Reply from {reply.from_email}"
    try:
        return handler(session, org, reply, customer, invoice, actor, now)
    except ActionError as refused:
        return Acted(f"Nothing done automatically: {refused.message}", False)


def _waiting_outcome(reply: Reply) -> str:
    if reply.label == "promise":
        what = format_money(reply.amount_minor, reply.currency) if reply.amount_minor else "the balance"
        when = f" by {reply.promised_date:%-d %b %Y}" if reply.promised_date else ""
        return f"Suggested promise: {what}{when}, for a person to confirm."
    if reply.label == "invoice_copy":
        return "Asks for a copy of the invoice: send the portal link from Replies."
    return "For the team to read."


def open_reply_dispute(session, org, reply, customer, invoice, actor, now, reason: str = "other",
                       needs_review: bool = True) -> Acted:
    if invoice is None:
        return Acted("Reads as a dispute, but names no invoice: for the team to review.", False)
    if invoice.status != "open":
        return Acted(f"Reads as a dispute of {invoice.number}, which is {invoice.status}: for the team to review.",
                     False)
    dispute = open_dispute(session, org, invoice, actor, reason, reply.body, None, Path("."), now, source="email")
    dispute.needs_review = needs_review
    return Acted(f"Invoice {invoice.number} disputed (from e-mail{', needs review' if needs_review else ''}).", True)


def pause_for_absence(session, org, reply, customer, invoice, actor, now) -> Acted:
    today = reply.received_at.astimezone(ZoneInfo(org.time_zone)).date()
    until = reply.return_date if reply.return_date and reply.return_date > today else today + PAUSE_WITHOUT_RETURN_DATE
    until = min(until, today + LONGEST_PAUSE)
    active = session.scalar(select(Hold).where(Hold.org_id == org.id, Hold.customer_id == customer.id,
                                               Hold.invoice_id.is_(None), Hold.kind == "hold",
                                               Hold.released_at.is_(None), Hold.until >= until))
    if active is not None:
        return Acted(f"Outreach to {customer.name} is already paused until {active.until:%-d %b %Y}.", True)
    session.add(Hold(org_id=org.id, kind="hold", customer_id=customer.id, until=until,
                     reason=f"Out of office (auto-reply from {reply.from_email})", created_by_id=user_id(actor)))
    session.flush()
    return Acted(f"Outreach to {customer.name} paused until {until:%-d %b %Y}.", True)


def opt_out_sender(session, org, reply, customer, invoice, actor, now) -> Acted:
    """The sender's own address stops getting reminders; the customer's other contacts are the team's call."""
    contacts = session.scalars(select(Contact).where(Contact.org_id == org.id, Contact.customer_id == customer.id,
                                                     func.lower(Contact.email) == reply.from_email,
                                                     Contact.opted_out_at.is_(None))).all()
    if not contacts:
        return Acted(f"Asks to stop, but {reply.from_email} is not a contact of {customer.name} (or already opted "
                     "out): for the team to read.", False)
    for contact in contacts:
        contact.opted_out_at = now
        audit.record(session, org_id=org.id, actor=actor, action="mail.contact_opted_out", subject=contact,
                     reason=reply.body[:500])
    invoice_ids = session.scalars(select(Message.invoice_id).where(
        Message.org_id == org.id, Message.contact_id.in_([c.id for c in contacts]),
        Message.status.in_(("draft", "scheduled")), Message.invoice_id.is_not(None))).all()
    cancel_pending_sends(session, org.id, list(set(invoice_ids)), actor, "The recipient asked to stop")
    return Acted(f"{reply.from_email} opted out of reminders.", True)


def hold_for_remittance(session, org, reply, customer, invoice, actor, now) -> Acted:
    if invoice is None:
        return Acted("Says it is paid, but names no invoice: for the team to check.", False)
    until = reply.received_at.astimezone(ZoneInfo(org.time_zone)).date() + CHECK_PAYMENT_FOR
    if until <= now.astimezone(ZoneInfo(org.time_zone)).date():  # accepted late: a week from now
        until = now.astimezone(ZoneInfo(org.time_zone)).date() + CHECK_PAYMENT_FOR
    session.add(Hold(org_id=org.id, kind="hold", customer_id=customer.id, invoice_id=invoice.id,
                     until=until, reason="Payer says it is paid: check the remittance", created_by_id=user_id(actor)))
    session.flush()
    return Acted(f"Invoice {invoice.number} held until {until:%-d %b %Y} while the payment is checked.", True)


_AUTOMATIC = {"dispute": open_reply_dispute, "out_of_office": pause_for_absence, "unsubscribe": opt_out_sender,
              "already_paid": hold_for_remittance}


def mark_handled(session: Session, reply: Reply, actor: Actor, how: str, now: dt.datetime) -> None:
    """Settle the reply: its customer's chase resumes (unless another reply waits)."""
    if reply.handled_at is not None:
        raise ActionError("This reply is already handled.")
    settle_reply(session, reply, actor, how, now)
