"""A dispute's life after intake: review, investigation, waiting on the customer or on someone inside, and its end:
resolved valid or invalid with a resolution, or withdrawn. Each move is one function that refuses what the current
status does not allow, with the reason, and is audited.

Ending a dispute decides what happens to the invoice: resolved invalid or withdrawn, it goes back to the
collections queue (its cadence resumes with the next step); resolved valid, it stays out of the queue while the
agreed credit, adjustment or re-bill is made in the ERP, which Plixo reads and never writes.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Membership, Organization, Policy, User
from plixo.accounts.notifications import notify
from plixo.actions import ActionError, Actor
from plixo.disputes.models import OPEN_DISPUTE_STATUSES, Dispute, DisputeInvoice
from plixo.disputes.reasons import reason_rule, sla_due
from plixo.ledger.models import Invoice
from plixo.ledger.priority import rescore_customer
from plixo.security import role_can

STATUS_LABELS = {"needs_review": "Needs review", "investigating": "Investigating",
                 "waiting_customer": "Waiting on customer", "waiting_internal": "Waiting internally",
                 "resolved": "Resolved", "withdrawn": "Withdrawn"}
RESOLUTIONS = {"credit_note": "Credit note", "adjustment": "Adjustment", "rebill": "Re-bill", "write_off": "Write-off",
               "no_action": "No action"}
# Which resolutions fit which verdict: a valid dispute changes what is owed; an invalid one leaves it as billed.
RESOLUTIONS_FOR = {"valid": ("credit_note", "adjustment", "rebill", "write_off"), "invalid": ("no_action",)}
MOVES = {
    "needs_review": ("investigating", "withdrawn"),
    "investigating": ("waiting_customer", "waiting_internal", "resolved", "withdrawn"),
    "waiting_customer": ("investigating", "waiting_internal", "resolved", "withdrawn"),
    "waiting_internal": ("investigating", "waiting_customer", "resolved", "withdrawn"),
}
WORKING_STATUSES = ("investigating", "waiting_customer", "waiting_internal")


def allowed_moves(dispute: Dispute) -> tuple[str, ...]:
    return MOVES.get(dispute.status, ())


def _refuse_unless_allowed(dispute: Dispute, status: str) -> None:
    if status not in STATUS_LABELS:
        raise ActionError("Choose one of the listed statuses.", "status")
    if status == dispute.status:
        raise ActionError(f"The dispute is already {STATUS_LABELS[status].lower()}.", "status")
    if status not in allowed_moves(dispute):
        if dispute.status not in MOVES:
            raise ActionError(f"The dispute is {STATUS_LABELS[dispute.status].lower()}: it cannot change any more.")
        raise ActionError(f"A dispute that is {STATUS_LABELS[dispute.status].lower()} cannot become "
                          f"{STATUS_LABELS[status].lower()}.", "status")


def _record(session: Session, dispute: Dispute, actor: Actor, before: str, note: str, **after) -> None:
    audit.record(session, org_id=dispute.org_id, actor=actor, action="disputes.status_changed", subject=dispute,
                 before={"status": before}, after={"status": dispute.status, **after}, reason=note.strip()[:2000])


def move(session: Session, dispute: Dispute, actor: Actor, status: str, note: str = "") -> None:
    """Review, investigate, or wait on the customer or on someone inside (not an ending: see resolve, withdraw)."""
    if status not in WORKING_STATUSES:
        raise ActionError("Choose investigating, waiting on customer or waiting internally.", "status")
    _refuse_unless_allowed(dispute, status)
    before, dispute.status, dispute.needs_review = dispute.status, status, False
    _record(session, dispute, actor, before, note)


def resolve(session: Session, org: Organization, dispute: Dispute, actor: Actor, verdict: str, resolution: str,
            note: str, now: dt.datetime) -> None:
    """End the dispute with a verdict and the agreed resolution."""
    _refuse_unless_allowed(dispute, "resolved")
    if verdict not in RESOLUTIONS_FOR:
        raise ActionError("Say whether the payer was right (valid) or not (invalid).", "verdict")
    if resolution not in RESOLUTIONS_FOR[verdict]:
        allowed = ", ".join(RESOLUTIONS[key].lower() for key in RESOLUTIONS_FOR[verdict])
        raise ActionError(f"A {verdict} dispute is resolved with: {allowed}.", "resolution")
    if len(note.strip()) < 3:
        raise ActionError("Say how it was resolved (kept on the dispute and shown to the team).", "note")
    before = dispute.status
    dispute.status, dispute.verdict, dispute.outcome = "resolved", verdict, resolution
    dispute.resolution_note, dispute.resolved_at, dispute.needs_review = note.strip()[:5000], now, False
    if verdict == "invalid":
        _release_invoice(session, org, dispute, now)
    _record(session, dispute, actor, before, note, verdict=verdict, resolution=resolution)


def withdraw(session: Session, org: Organization, dispute: Dispute, actor: Actor, note: str,
             now: dt.datetime) -> None:
    """The payer withdrew it, or a suggested dispute was not one: the invoice is chased again."""
    _refuse_unless_allowed(dispute, "withdrawn")
    if len(note.strip()) < 3:
        raise ActionError("Say why it is withdrawn.", "note")
    before = dispute.status
    dispute.status, dispute.resolved_at, dispute.needs_review = "withdrawn", now, False
    dispute.resolution_note = note.strip()[:5000]
    _release_invoice(session, org, dispute, now)
    _record(session, dispute, actor, before, note)


def _release_invoice(session: Session, org: Organization, dispute: Dispute, now: dt.datetime) -> None:
    """The invoices it covers go back to the queue, each unless another dispute covering it is still open."""
    released = False
    for invoice_id in covered_invoice_ids(session, dispute):
        invoice = session.get(Invoice, invoice_id)
        if invoice.status == "disputed" and not _disputed_elsewhere(session, org.id, invoice_id, dispute.id):
            invoice.status, released = "open", True
    if released:
        session.flush()
        rescore_customer(session, org, dispute.customer_id, now)


def covered_invoice_ids(session: Session, dispute: Dispute) -> list[int]:
    """The dispute's invoice first, then the others it covers."""
    return [dispute.invoice_id, *session.scalars(select(DisputeInvoice.invoice_id).where(
        DisputeInvoice.org_id == dispute.org_id, DisputeInvoice.dispute_id == dispute.id)
        .order_by(DisputeInvoice.id))]


def _disputed_elsewhere(session: Session, org_id: int, invoice_id: int, dispute_id: int) -> bool:
    own = select(Dispute.id).where(Dispute.org_id == org_id, Dispute.invoice_id == invoice_id,
                                   Dispute.id != dispute_id, Dispute.status.in_(OPEN_DISPUTE_STATUSES))
    covering = (select(Dispute.id).join(DisputeInvoice, (DisputeInvoice.dispute_id == Dispute.id)
                                        & (DisputeInvoice.org_id == Dispute.org_id))
                .where(Dispute.org_id == org_id, DisputeInvoice.invoice_id == invoice_id, Dispute.id != dispute_id,
                       Dispute.status.in_(OPEN_DISPUTE_STATUSES)))
    return session.scalar(own.limit(1)) is not None or session.scalar(covering.limit(1)) is not None


def assign(session: Session, dispute: Dispute, actor: User, owner_id: int | None, note: str = "") -> User | None:
    """Give the dispute to a teammate (or to nobody); they are told, with the note."""
    owner = None
    if owner_id is not None:
        owner = session.scalar(select(User).join(Membership, Membership.user_id == User.id).where(
            Membership.org_id == dispute.org_id, Membership.is_active.is_(True), User.id == owner_id))
        if owner is None:
            raise ActionError("Choose an active member of this workspace.", "owner_id")
        role = session.scalar(select(Membership.role).where(Membership.org_id == dispute.org_id,
                                                            Membership.user_id == owner.id))
        if not role_can(role, "disputes.manage"):
            raise ActionError(f"{owner.name} cannot open the disputes workspace: choose someone who works disputes.",
                              "owner_id")
    if dispute.status not in OPEN_DISPUTE_STATUSES:
        raise ActionError("Only an open dispute can be reassigned.")
    before, dispute.assigned_to_id = dispute.assigned_to_id, owner.id if owner else None
    role = session.scalar(select(Membership.role).where(Membership.org_id == dispute.org_id,
                                                        Membership.user_id == owner.id)) if owner else None
    dispute.routed_to = role if role in ("legal", "sales") else None
    if owner is not None and owner.id != actor.id:
        text = f"{actor.name} gave you a dispute" + (f": {note.strip()}" if note.strip() else ".")
        notify(session, dispute.org_id, owner, "dispute_assigned", text, f"/work/disputes/{dispute.id}")
    audit.record(session, org_id=dispute.org_id, actor=actor, action="disputes.assigned", subject=dispute,
                 before={"owner_id": before}, after={"owner_id": dispute.assigned_to_id}, reason=note.strip()[:2000])
    return owner


def change_reason(session: Session, org: Organization, dispute: Dispute, actor: User, reason: str) -> None:
    """Read the dispute under another reason: its SLA is counted again from the opening, by the new reason's days."""
    rule = reason_rule(session, org.id, reason)
    if rule is None:
        raise ActionError("Choose one of the workspace's reasons.", "reason")
    if dispute.status not in OPEN_DISPUTE_STATUSES:
        raise ActionError("Only an open dispute's reason can change.")
    if reason == dispute.reason:
        raise ActionError("That is already its reason.", "reason")
    sending_days = session.scalar(select(Policy.sending_days).where(Policy.org_id == org.id)) or []
    before, dispute.reason = dispute.reason, reason
    if dispute.source != "stripe":  # a chargeback's deadline is the card network's, whatever the reason
        dispute.sla_due_at = sla_due(dispute.opened_at, rule.sla_days, ZoneInfo(org.time_zone), sending_days)
    audit.record(session, org_id=org.id, actor=actor, action="disputes.reason_changed", subject=dispute,
                 before={"reason": before}, after={"reason": reason})
