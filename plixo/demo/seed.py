"""A deterministic demo workspace, "Acme Robotics", with a year of believable receivables.

All randomness comes from one `random.Random(seed)` and every date is relative to `today`, so the
same seed and day always give the same ledger while the pages still look current. The ledger is
first planned as plain data (who is billed what, and who pays when) and only then written as ORM
rows in a handful of batched flushes: per-row flushes would make thousands of invoices take minutes.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy.orm import Session

from plixo import audit
from plixo.demo.customers import Account, add_contacts, create_customers
from plixo.demo.disputes import plan_disputes, write_disputes
from plixo.demo.draws import DAY, business_instant, weighted
from plixo.demo.invoices import PlannedInvoice, minor_unit, plan_invoices
from plixo.demo.payments import write_invoices_and_payments
from plixo.demo.promises import plan_promises, write_promises
from plixo.demo.workspace import (
    DEMO_ORG_NAME,
    ORG_TIME_ZONE,
    ORG_ZONE,
    Team,
    create_memberships_and_policy,
    create_org_and_team,
)
from plixo.disputes.models import Dispute
from plixo.ledger.aging import local_today
from plixo.queue.models import Approval, Hold, Note, PaymentPlan, PaymentPlanInvoice, PlanInstallment
from plixo.queue.service import refresh_priorities
from plixo.tenancy import tenant_scope

# `make run` looks the demo workspace up by its name, so the entry point answers for that name too.
__all__ = ["DEMO_ORG_NAME", "DEMO_PASSWORD", "DemoResult", "seed_demo"]

DEMO_PASSWORD = "plixo-demo-2026"  # noqa: S105 - demo-only, printed to the developer by `make run`

_NOTE_BODIES = (
    "Spoke with {contact}; payment run is on Thursdays, this should go out next week.",
    "{contact} asked for a copy of the signed PO before releasing payment.",
    "Left a voicemail for {contact}. Will follow up by e-mail on Monday.",
    "Customer is switching ERPs this quarter; expect delays on remittance advice.",
    "{contact} confirmed the invoice is approved and queued for payment.",
    "New AP contact starting next month; keep {contact} copied until then.",
    "Customer requested consolidated statements instead of per-invoice reminders.",
    "Escalated to the CSM: usage dropped and they may be evaluating a competitor.",
)
_NOTE_AUTHOR_ROLES = (("operator", 4), ("ar_manager", 2), ("csm", 1), ("sales", 1))


@dataclass
class DemoResult:
    """What `seed_demo` created: the workspace, who can sign in, and headline counts."""

    org_id: int
    logins: list[tuple[str, str, str]]  # (role, email, name)
    customers: int
    invoices: int
    payments: int


def seed_demo(
    session: Session, *, invoices: int = 3000, seed: int = 7, today: dt.date | None = None
) -> DemoResult:
    """Create the Acme Robotics demo workspace with about `invoices` invoices; the caller commits."""
    today = today or local_today(ORG_TIME_ZONE)
    rng = random.Random(seed)
    org, team = create_org_and_team(session, DEMO_PASSWORD)
    with tenant_scope(org.id):
        create_memberships_and_policy(session, org.id, team)
        accounts = create_customers(session, org.id, rng, team, max(10, invoices // 12), today)
        contact_count = add_contacts(session, org.id, rng, accounts, today)
        ledger = plan_invoices(rng, accounts, invoices, today)
        promises = plan_promises(rng, ledger, today)
        disputed = plan_disputes(rng, ledger, today)
        payments_by_receipt = write_invoices_and_payments(session, org.id, rng, ledger)
        write_promises(session, org.id, rng, promises, payments_by_receipt, team)
        disputes = write_disputes(session, org.id, rng, disputed, team, today)
        _write_notes(session, org.id, rng, ledger, team, today)
        _write_holds(session, org.id, rng, accounts, ledger, team, today)
        session.flush()
        _write_approvals(session, org.id, ledger, disputes, team, today)
        refresh_priorities(session, org.id, org.base_currency, today)
        payment_count = len(payments_by_receipt)  # keyed by (customer, day): one entry per payment
        audit.record(
            session, org_id=org.id, actor="system", action="demo.seeded", subject=org,
            after={"seed": seed, "today": today.isoformat(), "users": len(team.users), "customers": len(accounts),
                   "contacts": contact_count, "invoices": len(ledger), "payments": payment_count,
                   "promises": len(promises), "disputes": len(disputes)},
        )
        session.flush()
    logins = [(role, user.email, user.name) for role, user in team.users.items()]
    return DemoResult(org_id=org.id, logins=logins, customers=len(accounts), invoices=len(ledger),
                      payments=payment_count)


# --- writing rows ----------------------------------------------------------------------------


def _open_invoices_by_customer(ledger: list[PlannedInvoice]) -> dict[str, list[PlannedInvoice]]:
    by_customer: dict[str, list[PlannedInvoice]] = defaultdict(list)
    for invoice in ledger:
        if invoice.balance_minor > 0:
            by_customer[invoice.account.customer.external_id].append(invoice)
    return by_customer


def _write_notes(
    session: Session, org_id: int, rng: random.Random, ledger: list[PlannedInvoice], team: Team, today: dt.date
) -> None:
    """A few collector notes on customers with open balances, some pinned to one invoice."""
    open_by_customer = _open_invoices_by_customer(ledger)
    if not open_by_customer:
        return
    keys = list(open_by_customer)
    authors = tuple((role, weight) for role, weight in _NOTE_AUTHOR_ROLES if role in team.users)
    rows = []
    for key in rng.sample(keys, k=min(len(keys), max(3, len(keys) // 6))):
        invoice = rng.choice(open_by_customer[key])
        primary = invoice.account.primary
        body = rng.choice(_NOTE_BODIES).format(contact=primary.name if primary else "their AP team")
        rows.append(Note(
            org_id=org_id, customer_id=invoice.account.customer.id,
            invoice_id=invoice.row.id if rng.random() < 0.5 else None,
            author_id=team.id_of(weighted(rng, authors)) if authors else None, body=body,
            created_at=business_instant(rng, today - dt.timedelta(days=rng.randint(1, 45))),
        ))
    session.add_all(rows)


def _write_holds(
    session: Session, org_id: int, rng: random.Random, accounts: list[Account], ledger: list[PlannedInvoice],
    team: Team, today: dt.date,
) -> None:
    """A customer-wide hold, an invoice hold and a contact suppression: enough to show each state once."""
    overdue = [inv for inv in ledger if inv.row.status == "open" and inv.due_date < today and not inv.has_promise]
    rows = []
    if len(overdue) >= 2:
        on_customer, on_invoice = rng.sample(overdue, k=2)
        rows.append(Hold(
            org_id=org_id, kind="hold", customer_id=on_customer.account.customer.id,
            reason="Renewal is being negotiated; Sales asked us to pause reminders.",
            until=today + dt.timedelta(days=14), created_by_id=team.id_of("ar_manager"),
            created_at=business_instant(rng, today - dt.timedelta(days=3)),
        ))
        rows.append(Hold(
            org_id=org_id, kind="hold", customer_id=on_invoice.account.customer.id, invoice_id=on_invoice.row.id,
            reason="Customer is re-issuing the purchase order; wait for the new PO number.",
            until=today + dt.timedelta(days=7), created_by_id=team.id_of("operator"),
            created_at=business_instant(rng, today - dt.timedelta(days=2)),
        ))
    suppressed = next((c for a in accounts for c in a.contacts if c.suppressed_until), None)
    if suppressed is not None:
        rows.append(Hold(
            org_id=org_id, kind="suppression", customer_id=suppressed.customer_id, contact_id=suppressed.id,
            reason="Out-of-office auto-reply; resume when they are back.", until=suppressed.suppressed_until,
            created_at=business_instant(rng, today - DAY),
        ))
    session.add_all(rows)


def _write_approvals(
    session: Session, org_id: int, ledger: list[PlannedInvoice], disputes: list[tuple[Dispute, PlannedInvoice]],
    team: Team, today: dt.date,
) -> None:
    """Two requests waiting for the controller: a payment plan and a dispute credit."""
    requested_at = dt.datetime.combine(today - DAY, dt.time(15, 30), tzinfo=ORG_ZONE).astimezone(dt.UTC)
    plan = _proposed_payment_plan(session, org_id, ledger, team, today, requested_at)
    if plan is not None:
        session.add(Approval(
            org_id=org_id, kind="payment_plan", subject_type="PaymentPlan", subject_id=plan.id,
            currency=plan.currency, amount_minor=plan.total_minor, approver_role="controller",
            requested_by_id=team.id_of("operator"), created_at=requested_at,
            reason="Customer cannot clear the overdue balance at once; proposes three monthly instalments.",
        ))
    if disputes:
        _, invoice = max(disputes, key=lambda pair: (pair[1].balance_minor, pair[1].number))
        unit = minor_unit(invoice.account.currency)
        credit = max(unit, invoice.balance_minor // 10 // unit * unit)
        session.add(Approval(
            org_id=org_id, kind="credit", subject_type="Invoice", subject_id=invoice.row.id,
            currency=invoice.account.currency, amount_minor=credit, approver_role="controller",
            requested_by_id=team.id_of("ar_manager"), created_at=requested_at,
            reason="Goodwill credit of 10 % to settle the dispute on this invoice.",
        ))


def _proposed_payment_plan(
    session: Session, org_id: int, ledger: list[PlannedInvoice], team: Team, today: dt.date,
    requested_at: dt.datetime,
) -> PaymentPlan | None:
    """A plan awaiting approval for the customer with the largest plain overdue balance."""
    overdue: dict[str, list[PlannedInvoice]] = defaultdict(list)
    for invoice in ledger:
        if invoice.row.status == "open" and invoice.due_date < today and not invoice.has_promise:
            overdue[invoice.account.customer.external_id].append(invoice)
    if not overdue:
        return None
    invoices = max(overdue.values(), key=lambda group: (sum(inv.balance_minor for inv in group), group[0].number))
    account = invoices[0].account
    total = sum(inv.balance_minor for inv in invoices)
    plan = PaymentPlan(
        org_id=org_id, customer_id=account.customer.id, currency=account.currency, total_minor=total,
        status="pending_approval", source="operator", proposed_by_id=team.id_of("operator"), created_at=requested_at,
    )
    session.add(plan)
    session.flush()
    session.add_all(PaymentPlanInvoice(org_id=org_id, plan_id=plan.id, invoice_id=inv.row.id) for inv in invoices)
    session.add_all(
        PlanInstallment(org_id=org_id, plan_id=plan.id, due_date=today + dt.timedelta(days=7 + 30 * index),
                        amount_minor=amount)
        for index, amount in enumerate(_split_evenly(total, 3))
    )
    return plan


def _split_evenly(total: int, parts: int) -> list[int]:
    """Integer parts that add up exactly to `total`; the first ones carry the remainder."""
    share, remainder = divmod(total, parts)
    return [share + (1 if index < remainder else 0) for index in range(parts)]
