"""How late each customer pays: the amount-weighted average days late over the invoices it paid in the 365 days
before today (the cash forecast moves due dates by it). Today's payments count from tomorrow, so the habits stay
put through the day and the console's remembered parts with them."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plixo.accounts.models import Organization
from plixo.ledger.models import Invoice

HABIT_WINDOW_DAYS = 365


@dataclass(frozen=True)
class Habits:
    by_customer: dict[int, int]  # whole days late (negative: early)
    usual: int  # the workspace's, for a customer with no history (0 for a workspace without any)

    def days(self, customer_id: int) -> int:
        return self.by_customer.get(customer_id, self.usual)


def customer_habits(session: Session, org: Organization, today: dt.date) -> Habits:
    zone = ZoneInfo(org.time_zone)
    since = dt.datetime.combine(today - dt.timedelta(days=HABIT_WINDOW_DAYS), dt.time(), zone)
    until = dt.datetime.combine(today, dt.time(), zone)
    paid_on = _local_date(session, Invoice.closed_at, org.time_zone)
    weighted: dict[int, tuple[float, float]] = defaultdict(lambda: (0.0, 0.0))
    for customer_id, late, amount in session.execute(
            select(Invoice.customer_id, func.sum(_days(session, paid_on, Invoice.due_date) * Invoice.amount_minor),
                   func.sum(Invoice.amount_minor))
            .where(Invoice.status == "paid", Invoice.closed_at >= since, Invoice.closed_at < until,
                   Invoice.amount_minor > 0)
            .group_by(Invoice.customer_id)):
        weighted[customer_id] = (float(late or 0), float(amount or 0))
    by_customer = {customer_id: round(total / weight) for customer_id, (total, weight) in weighted.items() if weight}
    all_total = sum(total for total, _weight in weighted.values())
    all_weight = sum(weight for _total, weight in weighted.values())
    return Habits(by_customer, round(all_total / all_weight) if all_weight else 0)


def _local_date(session: Session, instant, time_zone: str):
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone(time_zone, instant))
    return func.date(instant)  # SQLite (development): the UTC date, a day out at most


def _days(session: Session, later, earlier):
    if session.get_bind().dialect.name == "postgresql":
        return later - earlier
    return func.julianday(later) - func.julianday(earlier)
