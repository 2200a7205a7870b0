"""Safe nudges: a gentle reminder that Sales or Customer Success suggest and a collector reviews and sends.

A suggestion never sends. It is saved as the invoice's draft, marked with who suggested it, and the collector
responsible for the invoice is notified; the queue's inspector shows it above the compose box, and only someone
who may send (messages.send) can send it, through the same checks as any other e-mail.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Membership, Organization, User
from plixo.accounts.notifications import invoice_in_queue, notify
from plixo.actions import ActionError
from plixo.ledger.aging import aging_bucket, local_today
from plixo.ledger.eligibility import refuse_if_stopped
from plixo.ledger.models import Contact, Invoice
from plixo.ledger.payer_links import link_maker
from plixo.outreach.drafting import DraftContext, Persona, Seed, draft_email, first_name
from plixo.outreach.merge_fields import available_links, merge_values, preview
from plixo.outreach.models import Message
from plixo.security import ROLES, role_can

MAX_SUBJECT = 300
MAX_BODY = 20_000
# Who reviews when the invoice has no collector of its own: the roles that see the whole queue.
FALLBACK_REVIEWER_ROLES = ("controller", "ar_manager")


def nudge_draft(session: Session, org: Organization, invoice: Invoice, now: dt.datetime) -> tuple[str, str]:
    """The courtesy reminder a suggestion starts from: friendly, signed by the accounts team, every figure a merge
    field (filled when the collector sends it)."""
    today = local_today(org.time_zone, now)
    values = _values(session, org, invoice, today, "")
    contact = session.scalar(select(Contact).where(Contact.org_id == org.id, Contact.customer_id == invoice.customer_id)
                             .order_by(Contact.is_primary.desc(), Contact.id).limit(1))
    return draft_email(DraftContext(
        purpose="reminder", tone="friendly", bucket=aging_bucket(invoice.due_date, today),
        first_name=first_name(contact.name if contact else None), persona=Persona(),
        links=available_links(values), seed=Seed(f"customer:{invoice.customer_id}")))


def check_nudge(session: Session, org: Organization, invoice: Invoice, user: User, subject: str, body: str,
                now: dt.datetime):
    """The e-mail as the payer would read it (merge fields filled for this invoice), with what blocks it."""
    values = _values(session, org, invoice, local_today(org.time_zone, now), user.name)
    return preview(subject.strip(), body.strip(), values)


def suggest_nudge(session: Session, org: Organization, invoice: Invoice, user: User, role: str, subject: str,
                  body: str, now: dt.datetime) -> Message:
    """Save a suggested reminder as the invoice's draft for a collector's review, and tell the collector.

    Refused while outreach on the invoice is stopped (paid, disputed, on hold, opted out...), while another
    suggestion waits for review, and while the e-mail has unknown or empty merge fields.
    """
    refuse_if_stopped(session, org, invoice, now)
    if len(subject) > MAX_SUBJECT or len(body) > MAX_BODY:
        raise ActionError("The e-mail is too long.", "body")
    shown = check_nudge(session, org, invoice, user, subject, body, now)
    if shown.problems:
        raise ActionError(" ".join(shown.problems), "body")
    waiting = session.scalar(select(Message.id).where(
        Message.org_id == org.id, Message.invoice_id == invoice.id, Message.status == "draft",
        Message.suggested_by_id.is_not(None)).limit(1))
    if waiting is not None:
        raise ActionError(f"A suggested reminder for {invoice.number} already waits for a collector's review.")
    draft = Message(org_id=org.id, idempotency_key=f"suggested:{invoice.id}:{uuid.uuid4().hex}",
                    customer_id=invoice.customer_id, invoice_id=invoice.id, status="draft",
                    subject=subject.strip(), body=body.strip(), created_by_id=user.id, suggested_by_id=user.id)
    session.add(draft)
    session.flush()
    reviewers = reviewers_of(session, org, invoice)
    for reviewer in reviewers:
        notify(session, org.id, reviewer, "nudge_suggested",
               f"{user.name} ({ROLES.get(role, role)}) suggested a reminder on {invoice.number}: review it before "
               "sending", invoice_in_queue(invoice.id))
    audit.record(session, org_id=org.id, actor=user, action="outreach.nudge_suggested", subject=invoice,
                 after={"message_id": draft.id, "reviewers": sorted(r.name for r in reviewers)})
    return draft


def reviewers_of(session: Session, org: Organization, invoice: Invoice) -> list[User]:
    """Who reviews a suggestion: the invoice's assignee, else the customer's owner when they collect, else the
    workspace's controllers and A/R managers."""
    collectors = _active_roles(session, org.id)
    for candidate in (invoice.assignee_id, invoice.customer.owner_id):
        if candidate is not None and role_can(collectors.get(candidate), "queue.work"):
            return [session.get(User, candidate)]
    ids = sorted(user_id for user_id, role in collectors.items() if role in FALLBACK_REVIEWER_ROLES)
    return [session.get(User, user_id) for user_id in ids]


def _active_roles(session: Session, org_id: int) -> dict[int, str]:
    return dict(session.execute(select(Membership.user_id, Membership.role).where(
        Membership.org_id == org_id, Membership.is_active.is_(True))).all())


def _values(session: Session, org: Organization, invoice: Invoice, today: dt.date, sender: str) -> dict[str, str]:
    # The sender's name is only known when a collector sends it: any name stands in for the check.
    return merge_values(invoice, today, sender or "Accounts receivable", link_maker(session, org.id))
