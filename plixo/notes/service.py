"""Internal notes on a customer or one of its invoices; each @mentioned teammate is notified."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Membership, Organization, User
from plixo.accounts.notifications import customer_page, notify
from plixo.actions import ActionError
from plixo.ledger.models import Customer, Invoice
from plixo.notes.models import Note, NoteMention

_MENTION = re.compile(r"(?<![\w.])@([A-Za-z][\w.-]{1,60})")


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


def add_note(session: Session, org: Organization, invoice: Invoice, user: User, body: str) -> Note:
    """An internal note on the invoice (and so its customer); each @mentioned teammate gets a notification."""
    return _write_note(session, org, invoice.customer_id, invoice, invoice.number, user, body)


def add_customer_note(session: Session, org: Organization, customer: Customer, user: User, body: str) -> Note:
    """An internal note on the customer's account; each @mentioned teammate gets a notification."""
    return _write_note(session, org, customer.id, None, customer.name, user, body)


def _write_note(session: Session, org: Organization, customer_id: int, invoice: Invoice | None, about: str,
                user: User, body: str) -> Note:
    body = body.strip()
    if not body:
        raise ActionError("Write the note.", "body")
    if len(body) > 5000:
        raise ActionError("Notes can be at most 5,000 characters.", "body")
    note = Note(org_id=org.id, customer_id=customer_id, invoice_id=invoice.id if invoice else None,
                author_id=user.id, body=body)
    session.add(note)
    session.flush()
    handles = members_by_handle(session, org.id)
    mentioned = {handles[h.lower()].id: handles[h.lower()] for h in _MENTION.findall(body) if h.lower() in handles}
    # The customer page, which every role may open, scrolled to the note (a Legal teammate cannot open the queue).
    link = customer_page(customer_id, f"note-{note.id}", note=note.id)
    for member in mentioned.values():
        session.add(NoteMention(org_id=org.id, note_id=note.id, user_id=member.id))
        if member.id != user.id:
            notify(session, org.id, member, "mention", f"{user.name} mentioned you on {about}", link)
    session.flush()
    audit.record(session, org_id=org.id, actor=user, action="queue.note_added" if invoice else "customers.note_added",
                 subject=invoice or session.get(Customer, customer_id),
                 after={"note_id": note.id, "mentions": sorted(m.name for m in mentioned.values())})
    return note
