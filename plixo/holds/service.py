"""What stops or changes outreach on an invoice or a customer: a hold, a contact's suppression until a date, the
customer's opt-out, an escalation back to Shadow Mode, and revoking the links a payer was sent."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Organization, User
from plixo.actions import ActionError, Actor, user_id
from plixo.holds.models import Hold
from plixo.ledger.aging import local_today
from plixo.ledger.contacts import customer_contact
from plixo.ledger.models import Contact, Customer, Invoice
from plixo.ledger.priority import rescore_customer
from plixo.outreach.sends import cancel_pending_sends


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
    contact = customer_contact(session, invoice, contact_id)
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
                created_by_id=user_id(actor))
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
