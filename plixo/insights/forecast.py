"""Thirteen weeks of expected cash, from what is open today.

Each open invoice is expected on a date: a pending promise's date for the amount promised; an accepted payment
plan's scheduled installments on their dates; otherwise its due date moved by its customer's own habit
(insights.habits). A date already past lands in the first week. Disputed invoices are left out: nobody can say
when they will pay. Amounts convert at today's rates.

The habit part comes from the console's remembered open balances (insights.today: the past's, by expected day,
plus today's changes); the few invoices the habit does not decide (disputed, planned or promised) are read afresh
and taken out of it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import or_, select

from plixo.insights.habits import Habits
from plixo.insights.rates import converter_on
from plixo.insights.today import TodayReading
from plixo.ledger.balances import OPEN_STATUSES
from plixo.ledger.models import Customer, Invoice
from plixo.promises.models import PaymentPlan, PaymentPlanInvoice, PlanInstallment, Promise

WEEKS = 13
METHOD = ("Expected from due dates moved by each customer's own habit (amount-weighted days late over the 365 "
          "days before today), pending promises on their dates and plan installments on theirs; past dates count in "
          "week 1; disputed invoices are left out.")


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


def cash_forecast(reading: TodayReading) -> dict:
    """The 13 weeks from this week's Monday, each split by where its cash is expected from, and what falls later."""
    today = reading.today
    first = week_start(today)
    convert = converter_on(reading.session, reading.org, today)
    sums = [defaultdict(int) for _ in range(WEEKS)]
    later, apart = 0, defaultdict(int)
    for (kind, day, currency), minor in _expected(reading).items():
        value = convert(minor, currency)
        if value is None:
            apart[currency] += minor
            continue
        week = week_index(first, day)
        if week >= WEEKS:
            later += value
        else:
            sums[week][kind] += value
    weeks = [Week(first + dt.timedelta(weeks=k), s["promise"], s["plan"], s["habit"]) for k, s in enumerate(sums)]
    return {"weeks": weeks, "later_minor": later, "not_converted": {c: m for c, m in apart.items() if m},
            "method": METHOD}


def week_start(today: dt.date) -> dt.date:
    return today - dt.timedelta(days=today.weekday())


def week_index(first: dt.date, day: dt.date) -> int:
    return max((day - first).days // 7, 0)


def habits_of(reading: TodayReading) -> Habits:
    part = reading.open_part()
    return Habits({int(customer_id): days for customer_id, days in part["habits"].items()}, part["usual"])


def _expected(reading: TodayReading) -> dict[tuple[str, dt.date, str], int]:
    """(kind, date, currency) -> amount for everything open, as described above."""
    habits = habits_of(reading)
    expected: dict[tuple[str, dt.date, str], int] = defaultdict(int)
    for currency, day, minor in reading.open_part()["expected"]:
        expected[("habit", dt.date.fromisoformat(day), currency)] += minor
    for _id, customer_id, currency, due, _status, minor in reading.todays_changes():
        expected[("habit", due + dt.timedelta(days=habits.days(customer_id)), currency)] += int(minor)
    planned, installments = _plans(reading)
    for day, currency, minor in installments:
        expected[("plan", day, currency)] += minor
    promised = _promised(reading)
    for invoice_id, customer_id, due, currency, status, balance in _not_by_habit(reading, planned, promised):
        habit_day = due + dt.timedelta(days=habits.days(customer_id))
        expected[("habit", habit_day, currency)] -= balance  # taken out, then put back as described
        if status != "open" or invoice_id in planned or balance <= 0:
            continue
        for day, minor in promised.get(invoice_id, ()):
            taken = min(minor, balance)
            balance -= taken
            expected[("promise", day, currency)] += taken
        if balance > 0:
            expected[("habit", habit_day, currency)] += balance
    return {key: minor for key, minor in expected.items() if minor}


def _plans(reading: TodayReading) -> tuple[set[int], list[tuple[dt.date, str, int]]]:
    """The invoices in accepted plans, and the plans' scheduled installments still owed."""
    in_plans = (select(PaymentPlan.id).join(Customer, Customer.id == PaymentPlan.customer_id)
                .where(PaymentPlan.status == "accepted", reading.scope.clause(PaymentPlan.currency)))
    planned = set(reading.session.scalars(select(PaymentPlanInvoice.invoice_id)
                                          .where(PaymentPlanInvoice.plan_id.in_(in_plans))))
    installments = [(day, currency, minor) for day, currency, minor in reading.session.execute(
        select(PlanInstallment.due_date, PaymentPlan.currency,
               PlanInstallment.amount_minor - PlanInstallment.paid_minor)
        .join(PaymentPlan, PaymentPlan.id == PlanInstallment.plan_id)
        .where(PlanInstallment.plan_id.in_(in_plans), PlanInstallment.status == "scheduled")) if minor > 0]
    return planned, installments


def _promised(reading: TodayReading) -> dict[int, list[tuple[dt.date, int]]]:
    found: dict[int, list[tuple[dt.date, int]]] = defaultdict(list)
    for invoice_id, day, minor in reading.session.execute(
            select(Promise.invoice_id, Promise.promised_date, Promise.amount_minor)
            .join(Customer, Customer.id == Promise.customer_id)
            .where(Promise.status == "pending", reading.scope.clause(Promise.currency))
            .order_by(Promise.promised_date)):
        found[invoice_id].append((day, minor))
    return found


def _not_by_habit(reading: TodayReading, planned: set[int], promised: dict):
    """Open invoices the habit does not decide alone: disputed, in an accepted plan, or promised."""
    return reading.session.execute(
        select(Invoice.id, Invoice.customer_id, Invoice.due_date, Invoice.currency, Invoice.status,
               Invoice.balance_minor)
        .join(Customer, Customer.id == Invoice.customer_id)
        .where(Invoice.status.in_(OPEN_STATUSES), Invoice.issue_date <= reading.today,
               reading.scope.clause(Invoice.currency),
               or_(Invoice.status == "disputed", Invoice.id.in_(planned | set(promised))))).all()


@dataclass(frozen=True)
class Expected:
    customer_id: int
    invoice_id: int | None  # None: a plan installment, which stands for the plan's invoices
    kind: str  # promise, plan, habit
    day: dt.date
    currency: str
    minor: int


def expected_in_week(reading: TodayReading, index: int) -> list[Expected]:
    """What the forecast expects in week `index` (0 = this week, which also takes every date already past), invoice
    by invoice: the rows behind one bar."""
    first = week_start(reading.today)
    start, end = first + dt.timedelta(weeks=index), first + dt.timedelta(weeks=index, days=6)
    habits, in_week = habits_of(reading), (lambda day: week_index(first, day) == index)
    planned, _installments = _plans(reading)
    found = [Expected(customer_id, None, "plan", day, currency, minor)
             for customer_id, day, currency, minor in _installments_by_customer(reading, start, end, index == 0)]
    promised = _promised(reading)
    shifts = [*habits.by_customer.values(), habits.usual]
    due_range = [Invoice.due_date <= end - dt.timedelta(days=min(shifts))]
    if index:
        due_range.append(Invoice.due_date >= start - dt.timedelta(days=max(shifts)))
    for invoice_id, customer_id, due, currency, balance in reading.session.execute(
            select(Invoice.id, Invoice.customer_id, Invoice.due_date, Invoice.currency, Invoice.balance_minor)
            .join(Customer, Customer.id == Invoice.customer_id)
            .where(Invoice.status == "open", Invoice.issue_date <= reading.today,
                   reading.scope.clause(Invoice.currency), or_(*due_range, Invoice.id.in_(set(promised))))):
        if invoice_id in planned:
            continue
        for day, minor in promised.get(invoice_id, ()) if balance > 0 else ():
            taken = min(minor, balance)
            balance -= taken
            if in_week(day) and taken:
                found.append(Expected(customer_id, invoice_id, "promise", day, currency, taken))
        habit_day = due + dt.timedelta(days=habits.days(customer_id))
        if balance and in_week(habit_day) and (balance > 0 or invoice_id not in promised):
            found.append(Expected(customer_id, invoice_id, "habit", habit_day, currency, balance))
    return found


def _installments_by_customer(reading: TodayReading, start: dt.date, end: dt.date, with_past: bool):
    in_week = PlanInstallment.due_date <= end if with_past else PlanInstallment.due_date.between(start, end)
    rows = reading.session.execute(
        select(PaymentPlan.customer_id, PlanInstallment.due_date, PaymentPlan.currency,
               PlanInstallment.amount_minor - PlanInstallment.paid_minor)
        .join(PaymentPlan, PaymentPlan.id == PlanInstallment.plan_id)
        .join(Customer, Customer.id == PaymentPlan.customer_id)
        .where(PaymentPlan.status == "accepted", PlanInstallment.status == "scheduled", in_week,
               reading.scope.clause(PaymentPlan.currency)))
    return [row for row in rows if row[3] > 0]
