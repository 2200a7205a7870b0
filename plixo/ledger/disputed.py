"""The part of an invoice a payer contests while the rest stays due: a partial dispute leaves the invoice open in the
queue, and what is chased is the undisputed rest."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from plixo.disputes.models import OPEN_DISPUTE_STATUSES, Dispute, DisputeInvoice
from plixo.ledger.models import Invoice


def disputed_parts(session: Session, org_id: int, invoice_ids: Iterable[int]) -> dict[int, int]:
    """Invoice id -> the amount in open partial disputes (invoices with none are left out)."""
    ids = list(invoice_ids)
    if not ids:
        return {}
    parts: dict[int, int] = defaultdict(int)
    for invoice_id, part in session.execute(union_all(
            select(Dispute.invoice_id, Dispute.disputed_minor)
            .where(Dispute.org_id == org_id, Dispute.invoice_id.in_(ids), Dispute.disputed_minor.is_not(None),
                   Dispute.status.in_(OPEN_DISPUTE_STATUSES)),
            select(DisputeInvoice.invoice_id, DisputeInvoice.disputed_minor)
            .join(Dispute, (Dispute.id == DisputeInvoice.dispute_id) & (Dispute.org_id == DisputeInvoice.org_id))
            .where(DisputeInvoice.org_id == org_id, DisputeInvoice.invoice_id.in_(ids),
                   DisputeInvoice.disputed_minor.is_not(None), Dispute.status.in_(OPEN_DISPUTE_STATUSES)))):
        parts[invoice_id] += part
    return dict(parts)


def contested_part_sql(org_id: int, invoice_id):
    """SQL for the part of invoice `invoice_id` (a column) in open partial disputes, for queries over many invoices:
    its own disputes' parts and those of disputes that cover it among others."""
    own = (select(func.coalesce(func.sum(Dispute.disputed_minor), 0))
           .where(Dispute.org_id == org_id, Dispute.invoice_id == invoice_id, Dispute.disputed_minor.is_not(None),
                  Dispute.status.in_(OPEN_DISPUTE_STATUSES)).scalar_subquery())
    covered = (select(func.coalesce(func.sum(DisputeInvoice.disputed_minor), 0))
               .join(Dispute, (Dispute.id == DisputeInvoice.dispute_id) & (Dispute.org_id == DisputeInvoice.org_id))
               .where(DisputeInvoice.org_id == org_id, DisputeInvoice.invoice_id == invoice_id,
                      DisputeInvoice.disputed_minor.is_not(None), Dispute.status.in_(OPEN_DISPUTE_STATUSES))
               .scalar_subquery())
    return own + covered


def undisputed(balance_minor: int, disputed_minor: int | None) -> int:
    """What is still chased of a balance."""
    return max(balance_minor - (disputed_minor or 0), 0)


def undisputed_balance_sql(org_id: int):
    """An invoice's balance the e-mail may ask for, as a column: less any part an open dispute contests."""
    return (Invoice.balance_minor - contested_part_sql(org_id, Invoice.id)).label("balance_minor")
