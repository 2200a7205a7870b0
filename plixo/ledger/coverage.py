"""How much of the open ledger outreach can reach: open invoices, and the share whose customer has a
deliverable e-mail contact (a Data-Ready figure, and a gate for Autopilot)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plixo.ledger.models import Contact, Invoice


def open_invoice_count(session: Session) -> int:
    """Invoices still owed: open or disputed."""
    return session.scalar(select(func.count()).select_from(Invoice).where(Invoice.status.in_(("open", "disputed"))))


def contact_coverage(session: Session) -> float | None:
    """Share of open invoices whose customer has a deliverable e-mail contact (None with no open invoices)."""
    open_invoices = open_invoice_count(session)
    if not open_invoices:
        return None
    reachable = (
        select(Contact.customer_id)
        .where(Contact.email.is_not(None), Contact.opted_out_at.is_(None),
               (Contact.bounce_kind.is_(None)) | (Contact.bounce_kind != "hard"))
    )
    covered = session.scalar(
        select(func.count()).select_from(Invoice)
        .where(Invoice.status.in_(("open", "disputed")), Invoice.customer_id.in_(reachable))
    )
    return covered / open_invoices
