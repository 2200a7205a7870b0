"""Dispute intake: an invoice a payer challenges leaves the queue, its pending e-mails are cancelled, and the
evidence offered is kept."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Organization, Policy
from plixo.accounts.notifications import notify
from plixo.actions import ActionError, Actor, checked_source, user_id
from plixo.disputes.evidence import checked_evidence, store_evidence
from plixo.disputes.models import Dispute, DisputeInvoice
from plixo.disputes.reasons import owner_for, reason_rule, sla_due
from plixo.ledger.models import Invoice
from plixo.ledger.priority import rescore_customer
from plixo.money import format_money
from plixo.outreach.sends import cancel_pending_sends


def open_dispute(session: Session, org: Organization, invoice: Invoice, actor: Actor, reason: str, note: str,
                 evidence: tuple[str, bytes] | None, evidence_dir: Path, now: dt.datetime,
                 source: str = "operator", amount_minor: int | None = None,
                 also: Sequence[tuple[Invoice, int | None]] = ()) -> Dispute:
    """Mark the invoice disputed: it leaves the queue and its pending sends are cancelled. With `amount_minor` below
    the balance, only that part is contested: the invoice stays in the queue for the undisputed rest. `also`: other
    invoices of the same customer and currency the same dispute covers, each whole (None) or in part."""
    source = checked_source(source)
    rule = reason_rule(session, org.id, reason)
    if rule is None:
        raise ActionError("Choose the reason for the dispute.", "reason")
    if invoice.status != "open":
        raise ActionError(f"Only open invoices can be disputed (this one is {invoice.status.replace('_', ' ')}).")
    partial = _partial_amount(invoice, amount_minor)
    covered = _also_covered(invoice, also)
    stored = checked_evidence(evidence) if evidence else None
    policy = session.scalar(select(Policy).where(Policy.org_id == org.id))
    owner = owner_for(session, org.id, rule)
    # A person who opens it has reviewed it; one that arrives by e-mail or the portal waits for review.
    dispute = Dispute(org_id=org.id, invoice_id=invoice.id, customer_id=invoice.customer_id, reason=reason,
                      description=note.strip()[:5000], source=source, opened_at=now, disputed_minor=partial,
                      status="investigating" if source == "operator" else "needs_review",
                      sla_due_at=sla_due(now, rule.sla_days, ZoneInfo(org.time_zone), policy.sending_days),
                      assigned_to_id=owner.id if owner else None,
                      routed_to=rule.owner_role if rule.owner_role in ("legal", "sales") else None)
    session.add(dispute)
    before = invoice.status
    if partial is None:
        invoice.status = "disputed"
    session.flush()
    if stored is not None:
        store_evidence(session, org, dispute, actor, evidence[0], evidence[1], stored, evidence_dir, now)
    for other, part in covered:
        session.add(DisputeInvoice(org_id=org.id, dispute_id=dispute.id, invoice_id=other.id, disputed_minor=part))
        if part is None:
            other.status = "disputed"
    session.flush()
    cancel_pending_sends(session, org.id, [invoice.id, *(other.id for other, _part in covered)], actor,
                         "Invoice disputed")
    audit.record(session, org_id=org.id, actor=actor, action="queue.dispute_opened", subject=invoice,
                 before={"status": before}, after={"status": invoice.status, "dispute_id": dispute.id, "reason": reason,
                                                   "source": source, "disputed_minor": partial,
                                                   "also": [other.number for other, _part in covered]})
    rescore_customer(session, org, invoice.customer_id, now)
    if owner is not None and user_id(actor) != owner.id:
        notify(session, org.id, owner, "dispute_assigned",
               f"New dispute on {invoice.number} ({rule.label.lower()}): yours to resolve by "
               f"{dispute.sla_due_at.astimezone(ZoneInfo(org.time_zone)) - dt.timedelta(seconds=1):%a %-d %b}.",
               f"/work/disputes/{dispute.id}")
    return dispute


def _partial_amount(invoice: Invoice, amount_minor: int | None) -> int | None:
    """The contested part when it is less than the balance; None when the whole balance is disputed."""
    if amount_minor is None or amount_minor == invoice.balance_minor:
        return None
    if amount_minor <= 0 or amount_minor > invoice.balance_minor:
        balance = format_money(invoice.balance_minor, invoice.currency)
        raise ActionError(f"The disputed amount is more than nothing and at most the open {balance}.", "amount")
    return amount_minor


def _also_covered(invoice: Invoice, also: Sequence[tuple[Invoice, int | None]]) -> list[tuple[Invoice, int | None]]:
    """The other invoices one dispute covers, checked: the customer's own, open, in the same currency, once each."""
    covered, seen = [], {invoice.id}
    for other, amount in also:
        if other.id in seen:
            continue
        if other.customer_id != invoice.customer_id or other.status != "open":
            raise ActionError(f"{other.number} is not an open invoice of this customer.", "also")
        if other.currency != invoice.currency:
            raise ActionError(f"{other.number} is in {other.currency}: a dispute covers invoices of one currency; "
                              "open another for it.", "also")
        seen.add(other.id)
        covered.append((other, _partial_amount(other, amount)))
    return covered


MAX_ALSO = 50


def invoices_named(session: Session, invoice: Invoice, numbers: str) -> list[Invoice]:
    """The customer's invoices typed by number ("INV-1002, INV-1003"); a number that is not theirs is refused."""
    wanted = list(dict.fromkeys(n.strip() for n in numbers.replace(";", ",").replace("\n", ",").split(",")
                                if n.strip()))[:MAX_ALSO]
    if not wanted:
        return []
    found = {i.number: i for i in session.scalars(select(Invoice).where(
        Invoice.org_id == invoice.org_id, Invoice.customer_id == invoice.customer_id, Invoice.number.in_(wanted)))}
    missing = [n for n in wanted if n not in found]
    if missing:
        raise ActionError(f"Not an invoice of this customer: {', '.join(missing[:5])}.", "also")
    return [found[n] for n in wanted if found[n].id != invoice.id]
