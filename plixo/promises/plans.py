"""Payment plans: installments for an invoice's balance, accepted within policy or sent for approval."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from itertools import pairwise, zip_longest

from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Organization
from plixo.accounts.service import policy_of
from plixo.actions import ActionError, Actor, checked_source, user_id
from plixo.approvals.service import request_approval
from plixo.ledger.aging import local_today
from plixo.ledger.eligibility import stopping_reasons_by_invoice
from plixo.ledger.models import Invoice
from plixo.money import format_money
from plixo.outreach.sends import cancel_pending_sends
from plixo.params import parse_amount_input, parse_date
from plixo.promises.models import PaymentPlan, PaymentPlanInvoice, PlanInstallment


@dataclass(frozen=True)
class Installment:
    due_date: dt.date
    amount_minor: int


def installments_from_form(dates: list[str], amounts: list[str], currency: str, most: int) -> list[Installment]:
    """The installments typed in a plan form, blank rows skipped; ActionError names the row that is wrong."""
    # zip_longest: a date sent without its amount field (or the reverse) is a half-filled row, not a dropped one.
    rows = [(d.strip(), a.strip()) for d, a in zip_longest(dates, amounts, fillvalue="") if d.strip() or a.strip()]
    if len(rows) > most:
        raise ActionError(f"A plan can have at most {most} installments.", "installments")
    installments = []
    for number, (raw_date, raw_amount) in enumerate(rows, start=1):
        due, amount = parse_date(raw_date), parse_amount_input(raw_amount, currency)
        if due is None or amount is None:
            raise ActionError(f"Installment {number} needs a date and an amount, such as 500.00.", "installments")
        installments.append(Installment(due, amount))
    return installments


def propose_plan(session: Session, org: Organization, invoice: Invoice, actor: Actor,
                 installments: list[Installment], now: dt.datetime, source: str = "operator") -> PaymentPlan:
    """Propose installments for the invoice's balance; within policy it is accepted, above it awaits approval."""
    return propose_plan_for(session, org, [invoice], actor, installments, now, source)


def propose_plan_for(session: Session, org: Organization, invoices: list[Invoice], actor: Actor,
                     installments: list[Installment], now: dt.datetime, source: str = "operator") -> PaymentPlan:
    """One plan for the balances of several invoices of one customer in one currency (the customer page's plan);
    the same rules and approval routing as a plan for one invoice."""
    source = checked_source(source)
    today = local_today(org.time_zone, now)
    _check_invoices(invoices)
    _check_installments(installments, today)
    first, currency = invoices[0], invoices[0].currency
    total, balance = sum(i.amount_minor for i in installments), sum(inv.balance_minor for inv in invoices)
    if total != balance:
        raise ActionError(f"The installments add up to {format_money(total, currency)}, but the balance is "
                          f"{format_money(balance, currency)}.", "installments")
    # A collector may not plan around a hold or an opt-out. A payer asking for a plan is not outreach, so the
    # request is taken, but the team decides it: a hold may be there for a reason the payer does not know.
    stops = stopping_reasons_by_invoice(session, [inv.id for inv in invoices], today)
    stopped = list(dict.fromkeys(reason for inv in invoices for reason in stops.get(inv.id, ["Invoice not found"])))
    if stopped and source == "operator":
        raise ActionError("No outreach on this invoice: " + "; ".join(stopped) + ".")
    policy = policy_of(session, org.id)
    dates = [i.due_date for i in installments]
    months = (dates[-1].year - today.year) * 12 + dates[-1].month - today.month
    needs_approval = bool(stopped) or total > policy.plan_approval_minor or months > policy.plan_approval_months
    plan = PaymentPlan(org_id=org.id, customer_id=first.customer_id, currency=currency, total_minor=total,
                       status="pending_approval" if needs_approval else "accepted", source=source,
                       proposed_by_id=user_id(actor), decided_at=None if needs_approval else now)
    session.add(plan)
    session.flush()
    session.add_all(PaymentPlanInvoice(org_id=org.id, plan_id=plan.id, invoice_id=inv.id) for inv in invoices)
    session.add_all(PlanInstallment(org_id=org.id, plan_id=plan.id, due_date=i.due_date, amount_minor=i.amount_minor,
                                    paid_minor=0) for i in installments)
    session.flush()
    for inv in invoices:
        audit.record(session, org_id=org.id, actor=actor, action="queue.plan_proposed", subject=inv,
                     after={"plan_id": plan.id, "total_minor": total, "installments": len(installments),
                            "status": plan.status, "source": source})
    if needs_approval:
        reason = f"Plan of {len(installments)} installments for {', '.join(inv.number for inv in invoices)}"
        if stopped:
            reason += " (outreach is stopped: " + "; ".join(stopped) + ")"
        request_approval(session, org, actor, "payment_plan", plan, total, currency, policy, reason, source)
    else:
        cancel_pending_sends(session, org.id, [inv.id for inv in invoices], actor, "Payment plan accepted")
    return plan


def _check_invoices(invoices: list[Invoice]) -> None:
    if not invoices:
        raise ActionError("Choose the invoices the plan covers.", "invoice_ids")
    if len({inv.customer_id for inv in invoices}) > 1:
        raise ActionError("A plan covers invoices of one customer.", "invoice_ids")
    if len({inv.currency for inv in invoices}) > 1:
        raise ActionError("A plan covers invoices in one currency: choose invoices of the same currency.",
                          "invoice_ids")
    if any(inv.balance_minor <= 0 for inv in invoices):
        raise ActionError("A plan covers invoices with an open balance.", "invoice_ids")


def _check_installments(installments: list[Installment], today: dt.date) -> None:
    if len(installments) < 2:
        raise ActionError("A plan needs at least two installments.", "installments")
    dates = [i.due_date for i in installments]
    if any(i.amount_minor <= 0 for i in installments):
        raise ActionError("Every installment needs an amount above zero.", "installments")
    if dates[0] < today:
        raise ActionError("The first installment is in the past.", "installments")
    if any(later <= earlier for earlier, later in pairwise(dates)):
        raise ActionError("Installment dates must be in order, one per date.", "installments")
