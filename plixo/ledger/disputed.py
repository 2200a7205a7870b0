"""The part of an invoice a payer contests while the rest stays due: a partial dispute leaves the invoice open in the
queue, and what is chased is the undisputed rest."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plixo.disputes.models import OPEN_DISPUTE_STATUSES, Dispute


def disputed_parts(session: Session, org_id: int, invoice_ids: Iterable[int]) -> dict[int, int]:
    """Invoice id -> the amount in open partial disputes (invoices with none are left out)."""
    ids = list(invoice_ids)
    if not ids:
        return {}
    return dict(session.execute(
        select(Dispute.invoice_id, func.sum(Dispute.disputed_minor))
        .where(Dispute.org_id == org_id, Dispute.invoice_id.in_(ids), Dispute.disputed_minor.is_not(None),
               Dispute.status.in_(OPEN_DISPUTE_STATUSES))
        .group_by(Dispute.invoice_id)).all())


def undisputed(balance_minor: int, disputed_minor: int | None) -> int:
    """What is still chased of a balance."""
    return max(balance_minor - (disputed_minor or 0), 0)
