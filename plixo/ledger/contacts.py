"""A customer's contacts, as actions name them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy.orm import Session

from plixo.actions import ActionError
from plixo.ledger.models import Contact, Invoice


def first_reachable(contacts: Iterable[Contact], today: dt.date) -> Contact | None:
    """The contact an e-mail goes to: the first deliverable one (primary first, as given) not suppressed today."""
    return next((c for c in contacts if c.deliverable and not (c.suppressed_until and c.suppressed_until > today)),
                None)


def customer_contact(session: Session, invoice: Invoice, contact_id: int | None) -> Contact | None:
    """The contact `contact_id` names, if it is one of the invoice's customer's (None for none given)."""
    if contact_id is None:
        return None
    contact = session.get(Contact, contact_id)
    if contact is None or contact.customer_id != invoice.customer_id:
        raise ActionError("Choose one of this customer's contacts.", "contact_id")
    return contact
