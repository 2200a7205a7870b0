"""Everything the dispute inspector shows: the invoice and customer, the SLA clock, the evidence slots with what
is filled, what the dispute may become next, who may own it, and its history."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, true
from sqlalchemy.orm import Session

from plixo.accounts.models import Membership, Organization, Policy, User
from plixo.audit import AuditEvent
from plixo.disputes.evidence import SLOTS, slots_for
from plixo.disputes.lifecycle import RESOLUTIONS_FOR, allowed_moves
from plixo.disputes.models import OPEN_DISPUTE_STATUSES, Dispute, DisputeEvidence, DisputeInvoice
from plixo.disputes.reasons import business_days_between
from plixo.ledger.models import Customer, Invoice
from plixo.notes.models import Note

HISTORY = 30
NOTES_SHOWN = 20


@dataclass(frozen=True)
class SlaClock:
    due_at: dt.datetime | None
    working_days_left: int | None  # negative: that many working days late
    breached: bool


@dataclass(frozen=True)
class Slot:
    key: str
    label: str
    files: list[DisputeEvidence]
    expected: bool  # one the reason usually needs


@dataclass(frozen=True)
class DisputeView:
    dispute: Dispute
    invoice: Invoice
    customer: Customer
    owner: User | None
    clock: SlaClock
    slots: list[Slot]
    moves: tuple[str, ...]
    resolutions_for: dict[str, tuple[str, ...]]
    members: list[User]
    history: list[AuditEvent]
    notes: list[tuple[Note, str | None]]  # with its author's name
    covered: list[tuple[Invoice, int | None]]  # the other invoices it covers, with the part contested (None: all)

    @property
    def is_open(self) -> bool:
        return self.dispute.status in OPEN_DISPUTE_STATUSES


def inspect_dispute(session: Session, org: Organization, dispute: Dispute, now: dt.datetime) -> DisputeView:
    invoice, customer, owner = _parties(session, dispute)
    return DisputeView(
        dispute=dispute, invoice=invoice, customer=customer, owner=owner,
        clock=_clock(session, org, dispute, now), slots=_slots(session, dispute), moves=allowed_moves(dispute),
        resolutions_for=RESOLUTIONS_FOR, members=members_of(session, org.id), history=_history(session, dispute),
        notes=_notes(session, dispute), covered=_covered(session, dispute))


def _parties(session: Session, dispute: Dispute) -> tuple[Invoice | None, Customer | None, User | None]:
    """The dispute's invoice, customer and owner, read in one round trip rather than one each: the inspector opens
    on every J/K, and each round trip to the database costs as much as the reading."""
    row = session.execute(select(Invoice, Customer, User).select_from(Invoice).join(Customer, true())
                          .where(Invoice.id == dispute.invoice_id, Customer.id == dispute.customer_id)
                          .outerjoin(User, User.id == dispute.assigned_to_id)).first()
    if row is None:  # the invoice or customer is not visible: each is looked up on its own, as None where missing
        owner = session.get(User, dispute.assigned_to_id) if dispute.assigned_to_id else None
        return session.get(Invoice, dispute.invoice_id), session.get(Customer, dispute.customer_id), owner
    return row.Invoice, row.Customer, row.User if dispute.assigned_to_id else None


def _clock(session: Session, org: Organization, dispute: Dispute, now: dt.datetime) -> SlaClock:
    if dispute.sla_due_at is None:
        return SlaClock(None, None, False)
    end = dispute.resolved_at or now
    sending_days = session.scalar(select(Policy.sending_days).where(Policy.org_id == org.id)) or []
    left = business_days_between(end, dispute.sla_due_at - dt.timedelta(seconds=1), ZoneInfo(org.time_zone),
                                 sending_days)
    return SlaClock(dispute.sla_due_at, left, end > dispute.sla_due_at)


def _slots(session: Session, dispute: Dispute) -> list[Slot]:
    files = list(session.scalars(select(DisputeEvidence).where(DisputeEvidence.org_id == dispute.org_id,
                                                               DisputeEvidence.dispute_id == dispute.id)
                                 .order_by(DisputeEvidence.id)))
    expected = slots_for(dispute.reason)
    used = {f.slot for f in files}
    keys = list(expected) + [key for key in SLOTS if key in used and key not in expected]
    return [Slot(key, SLOTS[key], [f for f in files if f.slot == key], key in expected) for key in keys]


def members_of(session: Session, org_id: int) -> list[User]:
    """The workspace's active members, who may own a dispute."""
    return list(session.scalars(select(User).join(Membership, Membership.user_id == User.id).where(
        Membership.org_id == org_id, Membership.is_active.is_(True)).order_by(User.name)))


def _history(session: Session, dispute: Dispute) -> list[AuditEvent]:
    """What happened to the dispute, and its opening on the invoice, newest first."""
    return list(session.scalars(select(AuditEvent).where(
        AuditEvent.org_id == dispute.org_id,
        or_((AuditEvent.subject_type == "Dispute") & (AuditEvent.subject_id == dispute.id),
            (AuditEvent.subject_type == "Invoice") & (AuditEvent.subject_id == dispute.invoice_id)
            & AuditEvent.action.in_(("queue.dispute_opened", "disputes.chargeback_opened"))))
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()).limit(HISTORY)))


def _notes(session: Session, dispute: Dispute) -> list[tuple[Note, str | None]]:
    """The team's internal notes on the disputed invoice, newest first, with their authors' names."""
    return [tuple(row) for row in session.execute(
        select(Note, User.name).outerjoin(User, User.id == Note.author_id)
        .where(Note.org_id == dispute.org_id, Note.invoice_id == dispute.invoice_id)
        .order_by(Note.created_at.desc(), Note.id.desc()).limit(NOTES_SHOWN))]


def _covered(session: Session, dispute: Dispute) -> list[tuple[Invoice, int | None]]:
    return [tuple(row) for row in session.execute(
        select(Invoice, DisputeInvoice.disputed_minor)
        .join(DisputeInvoice, (DisputeInvoice.invoice_id == Invoice.id) & (DisputeInvoice.org_id == Invoice.org_id))
        .where(DisputeInvoice.org_id == dispute.org_id, DisputeInvoice.dispute_id == dispute.id)
        .order_by(DisputeInvoice.id))]
