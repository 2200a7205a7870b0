"""Aging buckets: the one place that turns a due date into `current`, `1-30`, ... `90+`.

Both the Python classifier and the SQL CASE used in aggregates are built from AGING_BUCKETS, so
they cannot drift apart. "Today" is the workspace's local date, never the server's.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import case

# (name, fewest days past due, most days past due); None = unbounded.
AGING_BUCKETS: tuple[tuple[str, int | None, int | None], ...] = (
    ("current", None, 0),
    ("1-30", 1, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("90+", 91, None),
)
BUCKET_NAMES = tuple(name for name, _, _ in AGING_BUCKETS)


def local_today(time_zone: str, now: dt.datetime | None = None) -> dt.date:
    """The calendar date right now in an IANA time zone."""
    now = now or dt.datetime.now(dt.UTC)
    return now.astimezone(ZoneInfo(time_zone)).date()


def days_past_due(due_date: dt.date, today: dt.date) -> int:
    """Whole days since the due date (0 or negative when not yet overdue)."""
    return (today - due_date).days


def aging_bucket(due_date: dt.date, today: dt.date) -> str:
    """The aging bucket of an invoice due on `due_date`, seen on `today`."""
    days = days_past_due(due_date, today)
    for name, low, high in AGING_BUCKETS:
        if (low is None or days >= low) and (high is None or days <= high):
            return name
    raise AssertionError("AGING_BUCKETS must cover every day count")


def bucket_case(due_date_column, today: dt.date):
    """A SQL expression giving the aging bucket name of `due_date_column` on `today`."""
    whens = []
    for name, low, _high in AGING_BUCKETS[1:][::-1]:
        # Buckets checked oldest first: past `low` days overdue means due on or before today - low.
        whens.append((due_date_column <= today - dt.timedelta(days=low), name))
    return case(*whens, else_=AGING_BUCKETS[0][0])
