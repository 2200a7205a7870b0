"""Today's figures, read from parts of the past that are remembered across the day's payments.

What the console shows as of today is mostly the past plus today: open balances are what the days before today
left, plus today's balance changes; sales, cash and e-mails add up day by day. Each part of the past is worked out
once and kept in Redis under the workspace's day, filters and the generations of the topics that can move it
(insights.freshness): a payment, an invoice or an e-mail today raises none of them, so the first page after one
reads the parts back and adds the few rows dated today. A change that reaches into the past raises its topic and
the part is worked out again. Without Redis every part is worked out each time.

`TodayReading` gives the same rows as `figures.Reading` (tests/insights/test_today.py holds them equal).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import defaultdict
from collections.abc import Callable

from redis.exceptions import RedisError
from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from plixo.accounts.models import Organization
from plixo.generations import RESET
from plixo.insights import formulas
from plixo.insights.figures import (
    EVERYONE,
    Reading,
    Scope,
    after_email,
    cash_by_day,
    cash_conditions,
    emailed_days,
    open_ar,
    sales_by_day,
)
from plixo.insights.freshness import CASH_PAST, CUSTOMERS, OPEN_PAST, PAID_PAST, SALES_PAST, SEGMENTS
from plixo.insights.habits import customer_habits
from plixo.ledger.aging import BUCKET_NAMES, aging_bucket
from plixo.ledger.balances import OPEN_STATUSES
from plixo.ledger.models import BalanceChange, Customer, Invoice
from plixo.redis_conn import get_redis

PART_SECONDS = 26 * 3600  # each part's key names its day; this only clears yesterday's away
SALES_DAYS = formulas.PERIOD_DAYS * formulas.PERIODS
CASH_DAYS = 400  # the longest period (365 days) and twelve calendar months
TOPICS = (RESET, OPEN_PAST, SALES_PAST, CASH_PAST, PAID_PAST, CUSTOMERS, SEGMENTS)
logger = logging.getLogger(__name__)


class TodayReading(Reading):
    def __init__(self, session: Session, org: Organization, today: dt.date, scope: Scope, scope_key: str,
                 generations: dict[str, int] | None):
        super().__init__(session, org, today, scope)
        self.scope_key, self.generations = scope_key, generations
        self._open: dict | None = None
        self._delta: list | None = None
        self._cash: dict | None = None

    # --- the parts --------------------------------------------------------------------------------------------

    def part(self, name: str, topics: tuple[str, ...], compute: Callable[[], object]):
        """A part of the past, remembered under the generations of `topics` (and RESET; with a filter, also the
        customers' and segments'). Without generations nothing is remembered."""
        if self.generations is None:
            return compute()
        if self.scope != EVERYONE:
            topics = (*topics, CUSTOMERS, SEGMENTS)
        numbers = ".".join(str(self.generations.get(topic, 0)) for topic in (RESET, *topics))
        key = f"plixo:console-part:{self.org.id}:{self.today.isoformat()}:{self.scope_key}:{name}:{numbers}"
        try:
            cached = get_redis().get(key)
        except RedisError:
            return compute()
        if cached is not None:
            return json.loads(cached)
        value = compute()
        try:
            get_redis().set(key, json.dumps(value), ex=PART_SECONDS)
        except RedisError:
            logger.warning("console cache unavailable; a part of the figures was not remembered")
        return value

    def open_part(self) -> dict:
        """Open balances as the days before today left them, by due date, by customer and by expected day."""
        if self._open is None:
            self._open = self.part("open", (OPEN_PAST, PAID_PAST), lambda: open_before_today(
                self.session, self.org, self.today, self.scope))
        return self._open

    def todays_changes(self) -> list[tuple[int, int, str, dt.date, str, int]]:
        """(invoice, customer, currency, due date, status, amount) of balance changes dated today or later, of
        invoices issued by today: what today added to the past's open balances."""
        if self._delta is None:
            self._delta = [tuple(row) for row in self.session.execute(
                select(Invoice.id, Invoice.customer_id, Invoice.currency, Invoice.due_date, Invoice.status,
                       func.sum(BalanceChange.amount_minor))
                .join(Invoice, Invoice.id == BalanceChange.invoice_id)
                .join(Customer, Customer.id == Invoice.customer_id)
                .where(BalanceChange.day >= self.today, Invoice.issue_date <= self.today,
                       self.scope.clause(Invoice.currency))
                .group_by(Invoice.id, Invoice.customer_id, Invoice.currency, Invoice.due_date, Invoice.status))]
        return self._delta

    # --- Reading ------------------------------------------------------------------------------------------------

    def open_ar(self, day: dt.date) -> dict[str, dict[str, int]]:
        if day < self.today:
            found = self.part(f"open-on-{day.isoformat()}", (OPEN_PAST,),
                              lambda: open_ar(self.session, day, self.today, self.scope))
            return {currency: dict(buckets) for currency, buckets in found.items()}
        result: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(BUCKET_NAMES, 0))
        for currency, due, minor in self.open_part()["aging"]:
            result[currency][aging_bucket(dt.date.fromisoformat(due), day)] += minor
        for _id, _customer, currency, due, _status, minor in self.todays_changes():
            result[currency][aging_bucket(due, day)] += int(minor)
        return {currency: buckets for currency, buckets in result.items() if any(buckets.values())}

    def owed(self) -> dict[tuple[int, str], int]:
        owed: dict[tuple[int, str], int] = defaultdict(int)
        for customer_id, currency, minor in self.open_part()["owed"]:
            owed[(customer_id, currency)] += minor
        for _id, customer_id, currency, _due, _status, minor in self.todays_changes():
            owed[(customer_id, currency)] += int(minor)
        return {key: minor for key, minor in owed.items() if minor}

    def sales_by_day(self, after: dt.date, until: dt.date) -> dict[tuple[str, dt.date], int]:
        first = self.today - dt.timedelta(days=SALES_DAYS)
        if after < first or until > self.today:
            return super().sales_by_day(after, until)
        past = self.part("sales", (SALES_PAST,), lambda: [
            [currency, day.isoformat(), minor] for (currency, day), minor
            in sales_by_day(self.session, first, self.today - dt.timedelta(days=1), self.scope).items()])
        sold = {(currency, dt.date.fromisoformat(day)): minor for currency, day, minor in past}
        if until == self.today:
            sold.update(sales_by_day(self.session, self.today - dt.timedelta(days=1), self.today, self.scope))
        return {(currency, day): minor for (currency, day), minor in sold.items() if after < day <= until}

    def cash_by_day(self, after: dt.date, until: dt.date) -> dict[tuple[dt.date, str], tuple[int, int]]:
        first = self.today - dt.timedelta(days=CASH_DAYS)
        if after < first or until > self.today:
            return super().cash_by_day(after, until)
        past = self.part("cash", (CASH_PAST,), lambda: [
            [day.isoformat(), currency, cash, emailed] for (day, currency), (cash, emailed)
            in cash_by_day(self.session, self.org, first, self.today - dt.timedelta(days=1), self.scope).items()])
        days = {(dt.date.fromisoformat(day), currency): (cash, emailed) for day, currency, cash, emailed in past}
        if until == self.today:
            days.update(self._cash_today())
        return {(day, currency): sums for (day, currency), sums in days.items() if after < day <= until}

    def _cash_today(self) -> dict[tuple[dt.date, str], tuple[int, int]]:
        if self._cash is None:
            self._cash = self._read_cash_today()
        return self._cash

    def _read_cash_today(self) -> dict[tuple[dt.date, str], tuple[int, int]]:
        yesterday = self.today - dt.timedelta(days=1)
        rows = self.session.execute(
            select(BalanceChange.customer_id, BalanceChange.currency, func.sum(BalanceChange.amount_minor))
            .join(Customer, Customer.id == BalanceChange.customer_id)
            .where(*cash_conditions(yesterday, self.today, self.scope))
            .group_by(BalanceChange.customer_id, BalanceChange.currency)).all()
        if not rows:
            return {}
        sent = emailed_days(self.session, self.org, yesterday, {customer_id for customer_id, _c, _t in rows})
        result: dict[tuple[dt.date, str], list[int]] = defaultdict(lambda: [0, 0])
        for customer_id, currency, total in rows:
            entry = result[(self.today, currency)]
            entry[0] -= int(total)
            entry[1] -= int(total) if after_email(sent.get(customer_id, []), self.today) else 0
        return {key: (cash, emailed) for key, (cash, emailed) in result.items() if cash or emailed}


def open_before_today(session: Session, org: Organization, today: dt.date, scope: Scope) -> dict:
    """Each open invoice's balance as the days before today left it (today's balance less what today's changes
    did, in one statement so both are read at once), summed by due date, by customer, and by the day its customer's
    habit expects it; with the habits themselves."""
    per_invoice = union_all(
        select(Invoice.id.label("invoice_id"), Invoice.balance_minor.label("minor"))
        .where(Invoice.status.in_(OPEN_STATUSES)),
        select(BalanceChange.invoice_id, (-BalanceChange.amount_minor).label("minor"))
        .where(BalanceChange.day >= today)).subquery()
    rows = session.execute(
        select(Invoice.customer_id, Invoice.currency, Invoice.due_date, func.sum(per_invoice.c.minor))
        .select_from(per_invoice).join(Invoice, Invoice.id == per_invoice.c.invoice_id)
        .join(Customer, Customer.id == Invoice.customer_id)
        .where(Invoice.issue_date <= today, scope.clause(Invoice.currency))
        .group_by(Invoice.customer_id, Invoice.currency, Invoice.due_date))
    habits = customer_habits(session, org, today)
    aging, owed, expected = defaultdict(int), defaultdict(int), defaultdict(int)
    for customer_id, currency, due, total in rows:
        minor = int(total or 0)
        if not minor:
            continue
        aging[(currency, due.isoformat())] += minor
        owed[(customer_id, currency)] += minor
        expected[(currency, (due + dt.timedelta(days=habits.days(customer_id))).isoformat())] += minor
    return {"aging": [[*key, minor] for key, minor in aging.items() if minor],
            "owed": [[*key, minor] for key, minor in owed.items() if minor],
            "expected": [[*key, minor] for key, minor in expected.items() if minor],
            "habits": {str(customer_id): days for customer_id, days in habits.by_customer.items()},
            "usual": habits.usual}

