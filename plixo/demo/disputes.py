"""Disputes: a few open invoices the customer contests, some already past their SLA."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy.orm import Session

from plixo.demo.draws import DAY, business_instant, day_between, weighted
from plixo.demo.invoices import PlannedInvoice
from plixo.demo.workspace import Team
from plixo.disputes.models import Dispute

_DISPUTE_SHARE = 0.02
_DISPUTE_REASONS = (
    ("pricing", 30), ("quantity", 20), ("quality", 15), ("not_received", 15), ("duplicate", 10), ("other", 10),
)
_DISPUTE_STATUSES = (("needs_review", 30), ("investigating", 35), ("waiting_customer", 25), ("waiting_internal", 10))
_DISPUTE_SOURCES = (("operator", 45), ("portal", 30), ("email", 25))
_DISPUTE_SLA = dt.timedelta(days=10)
_DISPUTE_DESCRIPTIONS = {
    "pricing": "Customer says the unit price does not match the quote they signed.",
    "quantity": "Customer was billed for more units than were delivered.",
    "quality": "Customer reports a batch of defective parts and wants a credit before paying.",
    "not_received": "Customer says the shipment never arrived at their receiving dock.",
    "duplicate": "Customer believes this invoice duplicates one they already paid.",
    "other": "Customer is withholding payment pending a call with their account manager.",
}


def plan_disputes(rng: random.Random, ledger: list[PlannedInvoice], today: dt.date) -> list[PlannedInvoice]:
    """Mark ~2 % of open invoices as disputed (not ones under a promise, nor ones issued days ago)."""
    candidates = [
        inv for inv in ledger
        if inv.balance_minor > 0 and not inv.has_promise and inv.issue_date <= today - dt.timedelta(days=4)
    ]
    if not candidates:
        return []
    chosen = rng.sample(candidates, k=max(1, round(len(candidates) * _DISPUTE_SHARE)))
    for invoice in chosen:
        invoice.disputed = True
    return chosen


def write_disputes(
    session: Session, org_id: int, rng: random.Random, disputed: list[PlannedInvoice], team: Team, today: dt.date
) -> list[tuple[Dispute, PlannedInvoice]]:
    """Dispute rows for the invoices planned as disputed; some are already past their SLA."""
    disputes = []
    for invoice in disputed:
        # Candidates were issued 4+ days ago, so this window is never empty and never includes today.
        first = max(invoice.issue_date + 3 * DAY, today - dt.timedelta(days=25))
        opened_at = business_instant(rng, day_between(rng, first, today - DAY))
        reason = weighted(rng, _DISPUTE_REASONS)
        status = weighted(rng, _DISPUTE_STATUSES)
        source = weighted(rng, _DISPUTE_SOURCES)
        dispute = Dispute(
            org_id=org_id, invoice_id=invoice.row.id, customer_id=invoice.account.customer.id, reason=reason,
            description=_DISPUTE_DESCRIPTIONS[reason], status=status, source=source,
            needs_review=source == "email",  # e-mailed disputes are classified automatically, so a human checks
            routed_to="sales" if reason == "pricing" else None,
            assigned_to_id=team.id_of("ar_manager") if status != "open" else None,
            opened_at=opened_at, sla_due_at=opened_at + _DISPUTE_SLA, created_at=opened_at,
        )
        disputes.append((dispute, invoice))
    session.add_all(dispute for dispute, _ in disputes)
    return disputes
