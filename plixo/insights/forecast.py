"""Thirteen weeks of expected cash, from what is open today.

Each open invoice is expected on a date: a pending promise's date for the amount promised; an accepted payment
plan's scheduled installments on their dates; otherwise its due date moved by its customer's own habit, the
amount-weighted average days late over the invoices it paid in the last 365 days (the workspace's habit for a
customer with no history, none for a workspace without any). A date already past lands in the first week.
Disputed invoices are left out: nobody can say when they will pay. Amounts convert at today's rates.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plixo.accounts.models import Organization
from plixo.insights.figures import EVERYONE, Scope
from plixo.insights.rates import converter_on
from plixo.ledger.models import Customer, Invoice
from plixo.promises.models import PaymentPlan, PaymentPlanInvoice, PlanInstallment, Promise

WEEKS = 13
HABIT_WINDOW_DAYS = 365
METHOD = ("Expected from due dates moved by each customer's own habit (amount-weighted days late over the last "
          "365 days), pending promises on their dates and plan installments on theirs; past dates count in week 1; "
          "disputed invoices are left out.")


@dataclass(frozen=True)
class Week:
    start: dt.date
    promised_minor: int
    planned_minor: int
    habit_minor: int

    @property
    def end(self) -> dt.date:
        return self.start + dt.timedelta(days=6)

    @property
    def total_minor(self) -> int:
        return self.promised_minor + self.planned_minor + self.habit_minor


def cash_forecast(session: Session, org: Organization, today: dt.date, scope: Scope = EVERYONE) -> dict:
    """The 13 weeks from this week's Monday, each split by where its cash is expected from, and what falls later."""
    first = today - dt.timedelta(days=today.weekday())
    convert = converter_on(session, org, today)
    sums = [defaultdict(int) for _ in range(WEEKS)]
    later, apart = 0, defaultdict(int)
    for kind, day, currency, minor in _expected(session, org, today, scope):
        value = convert(minor, currency)
        if value is None:
            apart[currency] += minor
            continue
        week = max((day - first).days // 7, 0)
        if week >= WEEKS:
            later += value
        else:
            sums[week][kind] += value
    weeks = [Week(first + dt.timedelta(weeks=k), s["promise"], s["plan"], s["habit"]) for k, s in enumerate(sums)]
    return {"weeks": weeks, "later_minor": later, "not_converted": dict(apart), "method": METHOD}


def _expected(session: Session, org: Organization, today: dt.date, scope: Scope):
    """(kind, date, currency, amount) for everything open, as described above."""
    in_plans = (select(PaymentPlan.id).join(Customer, Customer.id == PaymentPlan.customer_id)
                .where(PaymentPlan.status == "accepted", scope.clause(PaymentPlan.currency)))
    planned = set(session.scalars(select(PaymentPlanInvoice.invoice_id)
                                  .where(PaymentPlanInvoice.plan_id.in_(in_plans))))
    for day, currency, minor in session.execute(
            select(PlanInstallment.due_date, PaymentPlan.currency,
                   PlanInstallment.amount_minor - PlanInstallment.paid_minor)
            .join(PaymentPlan, PaymentPlan.id == PlanInstallment.plan_id)
            .where(PlanInstallment.plan_id.in_(in_plans), PlanInstallment.status == "scheduled")):
        if minor > 0:
            yield "plan", day, currency, minor
    promised = _promised(session, scope)
    habits, usual = _habits(session, org, today)
    for invoice_id, customer_id, due, currency, balance in session.execute(
            select(Invoice.id, Invoice.customer_id, Invoice.due_date, Invoice.currency, Invoice.balance_minor)
            .join(Customer, Customer.id == Invoice.customer_id)
            .where(Invoice.status == "open", Invoice.balance_minor > 0, scope.clause(Invoice.currency))):
        if invoice_id in planned:
            continue
        for day, minor in promised.get(invoice_id, ()):
            taken = min(minor, balance)
            balance -= taken
            yield "promise", day, currency, taken
        if balance > 0:
            yield "habit", due + dt.timedelta(days=round(habits.get(customer_id, usual))), currency, balance


def _local_date(session: Session, instant, time_zone: str):
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone(time_zone, instant))
    return func.date(instant)  # SQLite (development): the UTC date, a day out at most


def _days(session: Session, later, earlier):
    if session.get_bind().dialect.name == "postgresql":
        return later - earlier
    return func.julianday(later) - func.julianday(earlier)


def _promised(session: Session, scope: Scope) -> dict[int, list[tuple[dt.date, int]]]:
    found: dict[int, list[tuple[dt.date, int]]] = defaultdict(list)
    for invoice_id, day, minor in session.execute(
            select(Promise.invoice_id, Promise.promised_date, Promise.amount_minor)
            .join(Customer, Customer.id == Promise.customer_id)
            .where(Promise.status == "pending", scope.clause(Promise.currency)).order_by(Promise.promised_date)):
        found[invoice_id].append((day, minor))
    return found


def _habits(session: Session, org: Organization, today: dt.date) -> tuple[dict[int, float], float]:
    """Each customer's amount-weighted days late on what it paid in the last year, and the workspace's."""
    zone = ZoneInfo(org.time_zone)
    since = dt.datetime.combine(today - dt.timedelta(days=HABIT_WINDOW_DAYS), dt.time(), zone)
    weighted: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
    paid_on = _local_date(session, Invoice.closed_at, org.time_zone)
    rows = session.execute(select(Invoice.customer_id, func.sum(_days(session, paid_on, Invoice.due_date)
                                                                * Invoice.amount_minor), func.sum(Invoice.amount_minor))
                           .where(Invoice.status == "paid", Invoice.closed_at >= since, Invoice.amount_minor > 0)
                           .group_by(Invoice.customer_id))
    for customer_id, late, amount in rows:
        weighted[customer_id] = [float(late or 0), float(amount or 0)]
    habits = {customer_id: total / weight for customer_id, (total, weight) in weighted.items() if weight}
    all_total = sum(total for total, _weight in weighted.values())
    all_weight = sum(weight for _total, weight in weighted.values())
    return habits, (all_total / all_weight if all_weight else 0.0)
