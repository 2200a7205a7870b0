"""What one customer's page shows: exposure and aging per currency, invoices, promises and their adherence,
payment plans, disputes, contacts and approvals. Each section is one query over the customer's rows."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from plixo.accounts.models import Organization, User
from plixo.approvals.models import Approval
from plixo.customers.queries import OPEN_STATUSES
from plixo.customers.timeline import customer_approvals_clause
from plixo.disputes.models import OPEN_DISPUTE_STATUSES, Dispute
from plixo.ledger.aging import BUCKET_NAMES, bucket_case
from plixo.ledger.eligibility import stopping_reasons_by_invoice
from plixo.ledger.models import Contact, Customer, Invoice
from plixo.promises.models import PaymentPlan, Promise

RECENT = 10  # recently paid invoices, promises and plans shown
APPROVALS_SHOWN = 20


@dataclass(frozen=True)
class OpenInvoice:
    invoice: Invoice
    days_past_due: int
    stops: list[str]  # why outreach on it is stopped (empty: a nudge may be suggested)


@dataclass(frozen=True)
class ContactState:
    contact: Contact
    suppressed: bool


@dataclass
class Profile:
    customer: Customer
    time_zone: str
    zone_is_workspace: bool
    aging: dict[str, dict[str, int]]  # currency -> bucket -> open balance
    overdue: dict[str, int]  # currency -> overdue balance
    open_invoices: list[OpenInvoice]
    paid_invoices: list[Invoice]
    promises: list[Promise]
    kept: int
    broken: int
    plans: list[PaymentPlan]
    disputes: list[Dispute]
    contacts: list[ContactState]
    approvals: list[Approval]
    invoice_numbers: dict[int, str] = field(default_factory=dict)  # for plans, disputes and approvals
    deciders: dict[int, str] = field(default_factory=dict)  # who decided each decided approval, by user id

    @property
    def adherence(self) -> float | None:
        """Share of the customer's resolved promises that were kept (None before any was resolved)."""
        resolved = self.kept + self.broken
        return self.kept / resolved if resolved else None

    @property
    def open_disputes(self) -> list[Dispute]:
        return [d for d in self.disputes if d.status in OPEN_DISPUTE_STATUSES]

    @property
    def nudgeable(self) -> list[OpenInvoice]:
        """Open invoices no stopping condition applies to: the ones a reminder may be suggested on."""
        return [row for row in self.open_invoices if not row.stops]

    @property
    def plan_currencies(self) -> list[str]:
        return sorted({row.invoice.currency for row in self.open_invoices if row.invoice.balance_minor > 0})


def customer_profile(session: Session, org: Organization, customer: Customer, today: dt.date) -> Profile:
    """Everything the customer page shows, as seen on the workspace's `today`."""
    invoices = list(session.scalars(
        select(Invoice).where(Invoice.org_id == org.id, Invoice.customer_id == customer.id,
                              Invoice.status.in_(OPEN_STATUSES), Invoice.balance_minor > 0)
        .order_by(Invoice.due_date, Invoice.id)))
    stops = stopping_reasons_by_invoice(session, [i.id for i in invoices], today)
    open_rows = [OpenInvoice(i, (today - i.due_date).days, stops.get(i.id, [])) for i in invoices]
    kept, broken = _promise_counts(session, org.id, customer.id)
    plans, disputes = _plans(session, org.id, customer.id), _disputes(session, org.id, customer.id)
    approvals = _approvals(session, org.id, customer.id)
    profile = Profile(
        customer=customer, time_zone=customer.time_zone or org.time_zone, zone_is_workspace=not customer.time_zone,
        aging=_aging(session, org.id, customer.id, today), overdue=_overdue(open_rows),
        open_invoices=open_rows, paid_invoices=_paid(session, org.id, customer.id),
        promises=_promises(session, org.id, customer.id), kept=kept, broken=broken, plans=plans, disputes=disputes,
        contacts=_contacts(session, org.id, customer.id, today), approvals=approvals)
    profile.invoice_numbers = _numbers(session, org.id, customer.id)
    profile.deciders = _names(session, {a.decided_by_id for a in approvals if a.decided_by_id})
    return profile


def _aging(session: Session, org_id: int, customer_id: int, today: dt.date) -> dict[str, dict[str, int]]:
    bucket = bucket_case(Invoice.due_date, today).label("bucket")
    rows = session.execute(
        select(Invoice.currency, bucket, func.sum(Invoice.balance_minor))
        .where(Invoice.org_id == org_id, Invoice.customer_id == customer_id, Invoice.status.in_(OPEN_STATUSES),
               Invoice.balance_minor > 0)
        .group_by(Invoice.currency, bucket))
    aging: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(BUCKET_NAMES, 0))
    for currency, name, total in rows:
        aging[currency][name] = int(total)
    return dict(sorted(aging.items(), key=lambda item: -sum(item[1].values())))


def _overdue(rows: list[OpenInvoice]) -> dict[str, int]:
    overdue: dict[str, int] = defaultdict(int)
    for row in rows:
        if row.days_past_due > 0:
            overdue[row.invoice.currency] += row.invoice.balance_minor
    return dict(overdue)


def _paid(session: Session, org_id: int, customer_id: int) -> list[Invoice]:
    return list(session.scalars(
        select(Invoice).where(Invoice.org_id == org_id, Invoice.customer_id == customer_id, Invoice.status == "paid")
        .order_by(func.coalesce(Invoice.closed_at, Invoice.updated_at).desc(), Invoice.id.desc()).limit(RECENT)))


def _promises(session: Session, org_id: int, customer_id: int) -> list[Promise]:
    return list(session.scalars(
        select(Promise).where(Promise.org_id == org_id, Promise.customer_id == customer_id)
        .order_by(Promise.promised_date.desc(), Promise.id.desc()).limit(RECENT)))


def _promise_counts(session: Session, org_id: int, customer_id: int) -> tuple[int, int]:
    counts = dict(session.execute(
        select(Promise.status, func.count())
        .where(Promise.org_id == org_id, Promise.customer_id == customer_id, Promise.status.in_(("kept", "broken")))
        .group_by(Promise.status)).all())
    return counts.get("kept", 0), counts.get("broken", 0)


def _plans(session: Session, org_id: int, customer_id: int) -> list[PaymentPlan]:
    return list(session.scalars(
        select(PaymentPlan).where(PaymentPlan.org_id == org_id, PaymentPlan.customer_id == customer_id)
        .options(selectinload(PaymentPlan.installments), selectinload(PaymentPlan.invoices))
        .order_by(PaymentPlan.id.desc()).limit(RECENT)))


def _disputes(session: Session, org_id: int, customer_id: int) -> list[Dispute]:
    return list(session.scalars(
        select(Dispute).where(Dispute.org_id == org_id, Dispute.customer_id == customer_id)
        .options(selectinload(Dispute.evidence)).order_by(Dispute.opened_at.desc())))


def _contacts(session: Session, org_id: int, customer_id: int, today: dt.date) -> list[ContactState]:
    contacts = session.scalars(select(Contact).where(Contact.org_id == org_id, Contact.customer_id == customer_id)
                               .order_by(Contact.is_primary.desc(), Contact.id))
    return [ContactState(c, c.suppressed_until is not None and c.suppressed_until > today) for c in contacts]


def _approvals(session: Session, org_id: int, customer_id: int) -> list[Approval]:
    """Pending requests first (oldest first), then the latest decided ones."""
    statement = (select(Approval).where(customer_approvals_clause())
                 .options(selectinload(Approval.requested_by))
                 .order_by((Approval.status != "pending"), Approval.decided_at.desc(), Approval.created_at)
                 .limit(APPROVALS_SHOWN))
    return list(session.scalars(statement, {"org_id": org_id, "customer_id": customer_id}))


def _numbers(session: Session, org_id: int, customer_id: int) -> dict[int, str]:
    return dict(session.execute(select(Invoice.id, Invoice.number).where(
        Invoice.org_id == org_id, Invoice.customer_id == customer_id)).all())


def _names(session: Session, user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    return dict(session.execute(select(User.id, User.name).where(User.id.in_(user_ids))).all())
