"""Twelve months of the console's figures: each past month as its last day's snapshot froze it, this month as of
today, and the cash collected in each month from the recorded balance changes.

A month whose last day has no snapshot is a gap, never a figure worked out again from today's balances. With an
owner or segment filter the snapshots (taken for the whole workspace) do not apply, so each month-end is worked out
from the recorded changes instead, which describe each past day exactly.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from plixo.accounts.models import Organization
from plixo.insights.figures import EVERYONE, Figures, figures
from plixo.insights.freshness import CASH_PAST, OPEN_PAST, SALES_PAST
from plixo.insights.models import DailySnapshot
from plixo.insights.rates import converters_on
from plixo.insights.today import TodayReading
from plixo.ledger.aging import BUCKET_NAMES

MONTHS = 12
SERIES = ("dso_countback_days", "bpdso_days", "add_days", "dso_standard_days", "cei_percent")


def month_ends(today: dt.date, months: int = MONTHS) -> list[dt.date]:
    """The last day of each of the `months - 1` months before this one, then today, oldest first."""
    ends, first = [today], today.replace(day=1)
    for _ in range(months - 1):
        last = first - dt.timedelta(days=1)
        ends.append(last)
        first = last.replace(day=1)
    return ends[::-1]


def monthly_trend(reading: TodayReading, now_figures: Figures) -> dict:
    """Labels, DSO lines, aging per month, cash per month, and where each month's figures came from."""
    session, org, today, scope = reading.session, reading.org, reading.today, reading.scope
    ends = month_ends(today)
    if scope == EVERYONE:
        frozen = _snapshots(session, org, ends[:-1])
        by_month = [frozen.get(day) for day in ends[:-1]]
    else:
        by_month = reading.part("month-ends", (OPEN_PAST, SALES_PAST, CASH_PAST), lambda: [
            figures(session, org, day, today, scope=scope).as_dict() for day in ends[:-1]])
    by_month.append(now_figures.as_dict())
    cash = _cash_by_month(reading, ends)
    return {
        "labels": [day.strftime("%b %Y") for day in ends],
        "month_ends": [day.isoformat() for day in ends],
        "source": ["snapshot" if scope == EVERYONE else "ledger"] * (len(ends) - 1) + ["today"],
        **{name: [_rounded(kpis.get(name)) if kpis else None for kpis in by_month] for name in SERIES},
        "aging": {name: [kpis["aging_minor"].get(name, 0) if kpis else None for kpis in by_month]
                  for name in BUCKET_NAMES},
        "cash_minor": cash,
    }


def _snapshots(session: Session, org: Organization, days: list[dt.date]) -> dict[dt.date, dict]:
    rows = session.execute(select(DailySnapshot.day, DailySnapshot.metrics).where(DailySnapshot.day.in_(days)))
    found = {}
    for day, metrics in rows:
        kpis = (metrics or {}).get("kpis")
        if kpis and kpis.get("currency") == org.base_currency:
            found[day] = kpis
    return found


def _cash_by_month(reading: TodayReading, ends: list[dt.date]) -> list[int]:
    """Cash collected in each month (up to today in this one), at the rates of the month's last day."""
    months: list[dict[str, int]] = [defaultdict(int) for _ in ends]
    first = ends[0].replace(day=1) - dt.timedelta(days=1)
    index = {(end.year, end.month): position for position, end in enumerate(ends)}
    for (day, currency), (cash, _emailed) in reading.cash_by_day(first, ends[-1]).items():
        months[index[(day.year, day.month)]][currency] += cash
    convert = converters_on(reading.session, reading.org, ends)
    return [convert[end].total(by_currency)[0] for end, by_currency in zip(ends, months, strict=True)]


def _rounded(value):
    return round(value, 1) if isinstance(value, float) else value
