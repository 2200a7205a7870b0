"""The rows behind a console figure: the open invoices behind A/R and each aging bucket, the payments behind cash
collected, the promises behind adherence, the invoices expected in a forecast week. Each list has the count and
total of everything it stands for, and shows the largest rows first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plixo.accounts.models import Organization
from plixo.insights.figures import AT_RISK_DAYS, PROMISE_WINDOW_DAYS, Scope, cash_conditions
from plixo.insights.forecast import WEEKS, expected_in_week, week_start
from plixo.insights.today import TodayReading
from plixo.ledger.aging import BUCKET_NAMES, bucket_case
from plixo.ledger.balances import OPEN_STATUSES
from plixo.ledger.models import BalanceChange, Customer, Invoice
from plixo.promises.models import Promise

SHOWN = 200
KINDS = ("open", "cash", "promises", "forecast")
PROMISE_KINDS = {"kept": "Kept", "broken": "Broken", "at_risk": "At risk"}


@dataclass(frozen=True)
class Row:
    customer_id: int
    customer: str
    invoice: str
    day: dt.date
    currency: str
    amount_minor: int
    detail: str


@dataclass(frozen=True)
class Behind:
    title: str
    explanation: str
    rows: list[Row]
    count: int
    totals: dict[str, int]  # per currency, over every row (not only those shown)


def open_invoices(session: Session, org: Organization, today: dt.date, scope: Scope, bucket: str = "") -> Behind:
    """Open invoices issued by today, in one aging bucket or all, largest balance first."""
    conditions = [Invoice.status.in_(OPEN_STATUSES), Invoice.issue_date <= today, scope.clause(Invoice.currency)]
    if bucket in BUCKET_NAMES:
        conditions.append(bucket_case(Invoice.due_date, today) == bucket)
    base = select(Invoice).join(Customer, Customer.id == Invoice.customer_id).where(*conditions)
    rows = session.execute(base.with_only_columns(Customer.id, Customer.name, Invoice.number, Invoice.due_date,
                                                  Invoice.currency, Invoice.balance_minor, Invoice.status)
                           .order_by(Invoice.balance_minor.desc(), Invoice.id).limit(SHOWN))
    shown = [Row(cid, name, number, due, currency, balance, f"due {due:%d %b %Y}" + (" · disputed" if status ==
                                                                                      "disputed" else ""))
             for cid, name, number, due, currency, balance, status in rows]
    title = f"Open invoices · {bucket}" if bucket in BUCKET_NAMES else "Open invoices"
    return Behind(title, "Open and disputed invoices issued on or before today, largest balance first.", shown,
                  *_count_and_totals(session, base, Invoice.currency, Invoice.balance_minor))


def open_invoices_on(session: Session, day: dt.date, scope: Scope, bucket: str = "") -> Behind:
    """The invoices open at the end of a past day, from the recorded balance history: what a month-end's aging and
    DSO stood on, whatever was paid since."""
    balance = func.sum(BalanceChange.amount_minor)
    conditions = [BalanceChange.day <= day, Invoice.issue_date <= day, scope.clause(BalanceChange.currency)]
    if bucket in BUCKET_NAMES:
        conditions.append(bucket_case(Invoice.due_date, day) == bucket)
    grouped = (select(Customer.id.label("customer_id"), Customer.name, Invoice.number, Invoice.due_date,
                      BalanceChange.currency, balance.label("balance"))
               .select_from(BalanceChange).join(Invoice, Invoice.id == BalanceChange.invoice_id)
               .join(Customer, Customer.id == BalanceChange.customer_id).where(*conditions)
               .group_by(Customer.id, Customer.name, Invoice.id, Invoice.number, Invoice.due_date,
                         BalanceChange.currency)
               .having(balance != 0).subquery())
    rows = session.execute(select(grouped).order_by(grouped.c.balance.desc(), grouped.c.number).limit(SHOWN))
    shown = [Row(cid, name, number, due, currency, int(open_minor), f"due {due:%d %b %Y}")
             for cid, name, number, due, currency, open_minor in rows]
    count, totals = _count_and_totals(session, select(grouped), grouped.c.currency, grouped.c.balance)
    title = f"Open on {day:%d %b %Y}" + (f" · {bucket}" if bucket in BUCKET_NAMES else "")
    return Behind(title, f"Invoices with an open balance at the end of {day:%d %b %Y}, from the recorded balance "
                  "history (what was paid since does not change it).", shown, count, totals)


def cash(session: Session, org: Organization, today: dt.date, scope: Scope, period_days: int,
         month_end: dt.date | None = None) -> Behind:
    """What was collected in the period (or in the month ending `month_end`), newest first: payments through
    Stripe and balances imports lowered."""
    after = (month_end.replace(day=1) - dt.timedelta(days=1)) if month_end else today - dt.timedelta(days=period_days)
    until = month_end or today
    conditions = cash_conditions(after, until, scope)
    base = (select(BalanceChange).join(Customer, Customer.id == BalanceChange.customer_id)
            .join(Invoice, Invoice.id == BalanceChange.invoice_id).where(*conditions))
    rows = session.execute(base.with_only_columns(Customer.id, Customer.name, Invoice.number, BalanceChange.day,
                                                  BalanceChange.currency, -BalanceChange.amount_minor,
                                                  BalanceChange.source, BalanceChange.kind)
                           .order_by(BalanceChange.day.desc(), BalanceChange.id.desc()).limit(SHOWN))
    shown = [Row(cid, name, number, day, currency, minor, f"{kind} · {source}")
             for cid, name, number, day, currency, minor, source, kind in rows]
    count, totals = _count_and_totals(session, base, BalanceChange.currency, -BalanceChange.amount_minor)
    title = f"Cash collected · {until:%B %Y}" if month_end else f"Cash collected · last {period_days} days"
    return Behind(title, "Payments from Stripe and balances that imports "
                  "lowered (not credits or write-offs), on the day they were recorded; refunds count against.",
                  shown, count, totals)


def promises(session: Session, org: Organization, today: dt.date, scope: Scope, which: str) -> Behind:
    """Promises kept or broken in the last 90 days, or those at risk now."""
    if which == "at_risk":
        soon = (Promise.status == "pending") & (Promise.promised_date <= today + dt.timedelta(days=AT_RISK_DAYS))
        unpaid = ((Promise.status == "broken") & Invoice.status.in_(OPEN_STATUSES) & (Invoice.balance_minor > 0))
        conditions = [soon | unpaid]
        explanation = "Pending promises due within 7 days, and broken promises whose invoice is still unpaid."
    else:
        conditions = [Promise.status == which, Promise.promised_date > today - dt.timedelta(days=PROMISE_WINDOW_DAYS),
                      Promise.promised_date <= today]
        explanation = f"Promises due in the last 90 days that were {which}."
    base = (select(Promise).join(Invoice, Invoice.id == Promise.invoice_id)
            .join(Customer, Customer.id == Promise.customer_id).where(*conditions, scope.clause(Promise.currency)))
    rows = session.execute(base.with_only_columns(Customer.id, Customer.name, Invoice.number, Promise.promised_date,
                                                  Promise.currency, Promise.amount_minor, Promise.status)
                           .order_by(Promise.promised_date.desc(), Promise.id.desc()).limit(SHOWN))
    shown = [Row(cid, name, number, day, currency, minor, status)
             for cid, name, number, day, currency, minor, status in rows]
    return Behind(f"Promises · {PROMISE_KINDS[which]}", explanation, shown,
                  *_count_and_totals(session, base, Promise.currency, Promise.amount_minor))


def forecast_week(reading: TodayReading, start: dt.date) -> Behind | None:
    """What the cash forecast expects in the week starting `start` (a Monday of its 13 weeks), largest first."""
    first = week_start(reading.today)
    index = (start - first).days // 7
    if start.weekday() != 0 or not 0 <= index < WEEKS:
        return None
    found = sorted(expected_in_week(reading, index), key=lambda e: (-e.minor, e.day))
    customers = {e.customer_id for e in found[:SHOWN]}
    names = dict(reading.session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(customers))).all())
    numbers = dict(reading.session.execute(select(Invoice.id, Invoice.number).where(
        Invoice.id.in_({e.invoice_id for e in found[:SHOWN] if e.invoice_id}))).all())
    how = {"promise": "promised for", "plan": "plan installment due", "habit": "expected by habit on"}
    shown = [Row(e.customer_id, names.get(e.customer_id, ""), numbers.get(e.invoice_id, "payment plan"), e.day,
                 e.currency, e.minor, f"{how[e.kind]} {e.day:%d %b %Y}") for e in found[:SHOWN]]
    totals: dict[str, int] = {}
    for e in found:
        totals[e.currency] = totals.get(e.currency, 0) + e.minor
    past = " (and every date already past)" if index == 0 else ""
    return Behind(f"Expected cash · week of {start:%d %b %Y}",
                  f"What the forecast expects from {start:%d %b} to {start + dt.timedelta(days=6):%d %b %Y}{past}: "
                  "pending promises on their dates, plan installments on theirs, and the rest of each open invoice "
                  "at its due date moved by its customer's habit.", shown, len(found), dict(sorted(totals.items())))


def _count_and_totals(session: Session, base, currency, amount) -> tuple[int, dict[str, int]]:
    totals = session.execute(base.with_only_columns(currency, func.count(), func.sum(amount)).group_by(currency))
    count, by_currency = 0, {}
    for code, n, total in totals:
        count += n
        by_currency[code] = int(total or 0)
    return count, dict(sorted(by_currency.items()))
