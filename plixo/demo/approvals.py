"""Requests waiting for a decision: a proposed payment plan and a credit to settle a dispute for the controller,
and a large write-off for Legal."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy.orm import Session

from plixo.approvals.models import Approval
from plixo.demo.draws import DAY
from plixo.demo.invoices import PlannedInvoice, minor_unit
from plixo.demo.workspace import ORG_ZONE, Team
from plixo.disputes.models import Dispute
from plixo.promises.models import PaymentPlan, PaymentPlanInvoice, PlanInstallment


def write_approvals(
    session: Session, org_id: int, ledger: list[PlannedInvoice], disputes: list[tuple[Dispute, PlannedInvoice]],
    team: Team, today: dt.date,
) -> None:
    """Two requests waiting for the controller (a payment plan and a dispute credit) and one for Legal (a write-off)."""
    requested_at = dt.datetime.combine(today - DAY, dt.time(15, 30), tzinfo=ORG_ZONE).astimezone(dt.UTC)
    plan = _proposed_payment_plan(session, org_id, ledger, team, today, requested_at)
    _legal_write_off(session, org_id, ledger, team, today, plan)
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


def _legal_write_off(session: Session, org_id: int, ledger: list[PlannedInvoice], team: Team, today: dt.date,
                     plan: PaymentPlan | None) -> None:
    """The largest balance over 120 days past due, of a customer outside the plan, asked to be written off; above
    the policy's write-off limit, so it is Legal's call (as approvals.service.request_write_off routes it)."""
    planned = plan.customer_id if plan is not None else None
    stale = [inv for inv in ledger if inv.row.status == "open" and inv.due_date < today - 120 * DAY
             and not inv.has_promise and inv.account.customer.id != planned and inv.balance_minor > 50_000]
    if not stale:
        return
    invoice = max(stale, key=lambda inv: (inv.balance_minor, inv.number))
    session.add(Approval(
        org_id=org_id, kind="write_off", subject_type="Invoice", subject_id=invoice.row.id,
        currency=invoice.account.currency, amount_minor=invoice.balance_minor, approver_role="legal",
        requested_by_id=team.id_of("ar_manager"),
        created_at=dt.datetime.combine(today - 2 * DAY, dt.time(11, 0), tzinfo=ORG_ZONE).astimezone(dt.UTC),
        reason="Customer entered insolvency proceedings; the administrator confirms unsecured creditors will "
               "receive nothing. Write off and file the claim.",
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
