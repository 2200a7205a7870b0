import datetime as dt

import pytest
from sqlalchemy import literal, select

from plixo.extensions import db
from plixo.ledger.aging import aging_bucket, bucket_case, local_today

TODAY = dt.date(2026, 3, 31)


@pytest.mark.parametrize(("days_late", "bucket"), [
    (-5, "current"), (0, "current"), (1, "1-30"), (30, "1-30"), (31, "31-60"), (60, "31-60"),
    (61, "61-90"), (90, "61-90"), (91, "90+"), (400, "90+"),
])
def test_bucket_boundaries(days_late, bucket):
    assert aging_bucket(TODAY - dt.timedelta(days=days_late), TODAY) == bucket


@pytest.mark.parametrize("days_late", [-5, 0, 1, 30, 31, 60, 61, 90, 91, 400])
def test_sql_bucket_matches_python_bucket(days_late):
    due = TODAY - dt.timedelta(days=days_late)
    in_sql = db.session.scalar(select(bucket_case(literal(due), TODAY)))
    assert in_sql == aging_bucket(due, TODAY)


def test_today_is_the_workspace_local_date():
    # 03:30 UTC on 1 April is still 31 March in New York, already 1 April in Tokyo.
    instant = dt.datetime(2026, 4, 1, 3, 30, tzinfo=dt.UTC)
    assert (local_today("America/New_York", instant), local_today("Asia/Tokyo", instant)) == (
        dt.date(2026, 3, 31), dt.date(2026, 4, 1))


def test_an_invoice_due_yesterday_in_new_york_is_late_even_when_utc_has_moved_on():
    instant = dt.datetime(2026, 4, 1, 2, 0, tzinfo=dt.UTC)  # 22:00 on 31 March in New York
    assert aging_bucket(dt.date(2026, 3, 31), local_today("America/New_York", instant)) == "current"
