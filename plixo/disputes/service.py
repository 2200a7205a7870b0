"""Dispute intake: an invoice a payer challenges leaves the queue, its pending e-mails are cancelled, and the
evidence offered is kept."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Organization
from plixo.actions import ActionError, Actor, checked_source
from plixo.disputes.evidence import checked_evidence, store_evidence
from plixo.disputes.models import Dispute
from plixo.ledger.models import Invoice
from plixo.ledger.priority import rescore_customer
from plixo.outreach.sends import cancel_pending_sends

DISPUTE_REASONS = {"pricing": "Pricing", "quantity": "Quantity", "quality": "Quality",
                   "not_received": "Goods or service not received", "duplicate": "Duplicate invoice",
                   "other": "Other"}


def open_dispute(session: Session, org: Organization, invoice: Invoice, actor: Actor, reason: str, note: str,
                 evidence: tuple[str, bytes] | None, evidence_dir: Path, now: dt.datetime,
                 source: str = "operator") -> Dispute:
    """Mark the invoice disputed: it leaves the queue and its pending sends are cancelled."""
    source = checked_source(source)
    if reason not in DISPUTE_REASONS:
        raise ActionError("Choose the reason for the dispute.", "reason")
    if invoice.status != "open":
        raise ActionError(f"Only open invoices can be disputed (this one is {invoice.status.replace('_', ' ')}).")
    stored = checked_evidence(evidence) if evidence else None
    dispute = Dispute(org_id=org.id, invoice_id=invoice.id, customer_id=invoice.customer_id, reason=reason,
                      description=note.strip()[:5000], source=source, opened_at=now,
                      sla_due_at=now + dt.timedelta(days=10))
    session.add(dispute)
    before = invoice.status
    invoice.status = "disputed"
    session.flush()
    if stored is not None:
        store_evidence(session, org, dispute, actor, evidence[0], evidence[1], stored, evidence_dir, now)
    cancel_pending_sends(session, org.id, [invoice.id], actor, "Invoice disputed")
    audit.record(session, org_id=org.id, actor=actor, action="queue.dispute_opened", subject=invoice,
                 before={"status": before}, after={"status": "disputed", "dispute_id": dispute.id, "reason": reason,
                                                   "source": source})
    rescore_customer(session, org, invoice.customer_id, now)
    return dispute
