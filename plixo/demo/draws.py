"""Random draws and dates the demo modules share: weighted picks, the demo's history, office-hour instants."""

from __future__ import annotations

import datetime as dt
import random
from typing import TypeVar
from zoneinfo import ZoneInfo

from plixo.demo.workspace import ORG_ZONE

HISTORY_MONTHS = 18  # whole calendar months of history before the current one
LEAD_IN_DAYS = 90  # invoices from before the history, so its first months open on a ledger already running
DAY = dt.timedelta(days=1)

T = TypeVar("T")


def history_start(today: dt.date) -> dt.date:
    """The first day of the history: the first of the month `HISTORY_MONTHS` months before this one. Plixo has
    been in use since (e-mails, Stripe, promises, snapshots); what came before is the ERP's."""
    months = today.year * 12 + today.month - 1 - HISTORY_MONTHS
    return dt.date(months // 12, months % 12 + 1, 1)


def first_issue_day(today: dt.date) -> dt.date:
    """The earliest day an invoice of the demo is issued on."""
    return history_start(today) - dt.timedelta(days=LEAD_IN_DAYS)


def weighted(rng: random.Random, table: tuple[tuple[T, int], ...]) -> T:
    """One value from a (value, weight) table."""
    values, weights = zip(*table, strict=True)
    return rng.choices(values, weights=weights)[0]


def day_between(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    """A day from `first` to `last`, both included."""
    return first + dt.timedelta(days=rng.randint(0, (last - first).days))


def business_instant(rng: random.Random, day: dt.date, zone: ZoneInfo = ORG_ZONE) -> dt.datetime:
    """An aware UTC instant during office hours on `day` in `zone` (the workspace's unless told)."""
    local = dt.datetime.combine(day, dt.time(rng.randint(8, 17), rng.randint(0, 59)), tzinfo=zone)
    return local.astimezone(dt.UTC)


def weekday_on_or_after(day: dt.date) -> dt.date:
    """`day`, or the Monday after it when it falls on a weekend (banks and AP teams work weekdays)."""
    return day + dt.timedelta(days=max(0, 7 - day.weekday())) if day.weekday() >= 5 else day
