"""Disputes: open invoices the customer contests (from the team, the portal, e-mail and one card chargeback), each
routed to its reason's owner with its reason's SLA, some already past it; and disputes of the last months that
ended (valid, invalid, withdrawn), so resolution figures have something to show."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from plixo.demo.draws import DAY, business_instant, day_between, weighted
from plixo.demo.invoices import PlannedInvoice
from plixo.demo.workspace import ORG_TIME_ZONE, Team
from plixo.disputes.models import Dispute
from plixo.disputes.reasons import DEFAULT_REASONS, sla_due

_DISPUTE_SHARE = 0.05
_DISPUTE_REASONS = (
    ("pricing", 30), ("quantity", 20), ("quality", 15), ("not_received", 15), ("duplicate", 10), ("other", 10),
)
_DISPUTE_STATUSES = (("needs_review", 30), ("investigating", 35), ("waiting_customer", 25), ("waiting_internal", 10))
_DISPUTE_SOURCES = (("operator", 45), ("portal", 30), ("email", 25))
_ENDED = 16  # disputes of paid invoices that ended, for the resolution figures
_ENDINGS = (("resolved", "invalid", "no_action"), ("resolved", "valid", "credit_note"),
            ("resolved", "valid", "adjustment"), ("withdrawn", None, None), ("resolved", "invalid", "no_action"))
_RESOLUTION_NOTES = {"no_action": "Checked against the signed order: the invoice stands. Payer informed.",
                     "credit_note": "Agreed a credit note for the difference; raised in the ERP.",
                     "adjustment": "Adjusted the freight line after checking the delivery note.",
                     None: "Payer withdrew the dispute after our call."}
_DISPUTE_DESCRIPTIONS = {
    "pricing": "Customer says the unit price does not match the quote they signed.",
    "quantity": "Customer was billed for more units than were delivered.",
    "quality": "Customer reports a batch of defective parts and wants a credit before paying.",
    "not_received": "Customer says the shipment never arrived at their receiving dock.",
    "duplicate": "Customer believes this invoice duplicates one they already paid.",
    "other": "Customer is withholding payment pending a call with their account manager.",
}


def plan_disputes(rng: random.Random, ledger: list[PlannedInvoice], today: dt.date) -> list[PlannedInvoice]:
    """Mark ~5 % of open invoices as disputed (not ones under a promise, nor ones issued days ago)."""
    candidates = [
        inv for inv in ledger
        if inv.is_open and not inv.has_promise and inv.issue_date <= today - dt.timedelta(days=4)
    ]
    if not candidates:
        return []
    chosen = rng.sample(candidates, k=max(1, round(len(candidates) * _DISPUTE_SHARE)))
    for invoice in chosen:
        invoice.disputed = True
    return chosen


def write_disputes(
    session: Session, org_id: int, rng: random.Random, disputed: list[PlannedInvoice], team: Team, today: dt.date,
    ledger: list[PlannedInvoice] = (),
) -> list[tuple[Dispute, PlannedInvoice]]:
    """Dispute rows for the invoices planned as disputed, routed and timed by their reasons."""
    zone = ZoneInfo(ORG_TIME_ZONE)
    rules = {rule.key: rule for rule in DEFAULT_REASONS}
    disputes = []
    for index, invoice in enumerate(disputed):
        # Candidates were issued 4+ days ago, so this window is never empty and never includes today.
        first = max(invoice.issue_date + 3 * DAY, today - dt.timedelta(days=25))
        opened_at = business_instant(rng, day_between(rng, first, today - DAY))
        reason = weighted(rng, _DISPUTE_REASONS)
        status = weighted(rng, _DISPUTE_STATUSES)
        source = weighted(rng, _DISPUTE_SOURCES) if index else "stripe"  # one card chargeback, first in line
        rule = rules[reason]
        dispute = Dispute(
            org_id=org_id, invoice_id=invoice.row.id, customer_id=invoice.account.customer.id, reason=reason,
            description=_DISPUTE_DESCRIPTIONS[reason], status=status, source=source,
            needs_review=status == "needs_review",
            routed_to=rule.owner_role if rule.owner_role in ("legal", "sales") else None,
            assigned_to_id=team.id_of(rule.owner_role or "ar_manager"),
            opened_at=opened_at, sla_due_at=sla_due(opened_at, rule.sla_days, zone, _WEEKDAYS), created_at=opened_at,
            stripe_dispute_id=f"dp_demo_{invoice.row.id}" if source == "stripe" else None,
        )
        disputes.append((dispute, invoice))
    session.add_all(dispute for dispute, _ in disputes)
    session.add_all(_ended_disputes(org_id, _recently_paid(ledger, today), team, zone, today))
    session.add_all(_partial_disputes(org_id, ledger, team, zone, today))
    return disputes


_WEEKDAYS = [0, 1, 2, 3, 4]


def _recently_paid(ledger: list[PlannedInvoice], today: dt.date) -> list[PlannedInvoice]:
    """Paid invoices issued in the last quarter, spread evenly over the ledger."""
    paid = [inv for inv in ledger if inv.balance_minor == 0 and inv.issue_date >= today - dt.timedelta(days=100)]
    step = max(1, len(paid) // _ENDED)
    return paid[::step]


def _ended_disputes(org_id: int, paid: list[PlannedInvoice], team: Team, zone: ZoneInfo,
                    today: dt.date) -> list[Dispute]:
    """Disputes of paid invoices that ended within the last three months (chosen without drawing from the
    generator, so the rest of the ledger stays as it was)."""
    ended = []
    reasons = [key for key, _weight in _DISPUTE_REASONS]
    for index, invoice in enumerate(paid[:_ENDED]):
        status, verdict, resolution = _ENDINGS[index % len(_ENDINGS)]
        reason = reasons[index % len(reasons)]
        opened_at = dt.datetime.combine(invoice.issue_date + dt.timedelta(days=12), dt.time(15), zone)
        resolved_at = opened_at + dt.timedelta(days=2 + index % 9, hours=3)
        if resolved_at.date() >= today:
            continue
        ended.append(Dispute(
            org_id=org_id, invoice_id=invoice.row.id, customer_id=invoice.account.customer.id, reason=reason,
            description=_DISPUTE_DESCRIPTIONS[reason], status=status, verdict=verdict, outcome=resolution,
            resolution_note=_RESOLUTION_NOTES[resolution], source=("operator", "portal", "email")[index % 3],
            assigned_to_id=team.id_of("ar_manager"), opened_at=opened_at, resolved_at=resolved_at,
            sla_due_at=sla_due(opened_at, 5, zone, _WEEKDAYS), created_at=opened_at))
    return ended


def _partial_disputes(org_id: int, ledger: list[PlannedInvoice], team: Team, zone: ZoneInfo,
                      today: dt.date) -> list[Dispute]:
    """Two invoices a payer contests in part (a freight line, a short delivery): they stay in the queue for the rest.
    Chosen without drawing from the generator."""
    open_overdue = [inv for inv in ledger if inv.is_open and inv.balance_minor >= 100_000 and not inv.disputed
                    and not inv.has_promise and inv.due_date < today - dt.timedelta(days=10)]
    found = []
    for invoice, reason, share, note in zip(open_overdue[::max(1, len(open_overdue) // 2)][:2],
                                           ("pricing", "quantity"), (0.12, 0.3),
                                           ("Freight was billed although the quote said delivered free.",
                                            "The delivery note shows fewer units than billed."), strict=False):
        opened_at = dt.datetime.combine(today - dt.timedelta(days=3), dt.time(10), zone)
        rule = next(r for r in DEFAULT_REASONS if r.key == reason)
        found.append(Dispute(
            org_id=org_id, invoice_id=invoice.row.id, customer_id=invoice.account.customer.id, reason=reason,
            description=note, status="investigating", source="operator",
            disputed_minor=int(invoice.balance_minor * share),
            assigned_to_id=team.id_of(rule.owner_role or "ar_manager"), opened_at=opened_at,
            sla_due_at=sla_due(opened_at, rule.sla_days, zone, _WEEKDAYS), created_at=opened_at))
    return found
