"""Which way round a sender writes 12/10, from their language or time zone."""

from __future__ import annotations

import datetime as dt

import pytest

from plixo.replies.dates import future_dates, month_first_for, month_first_zone

WEDNESDAY = dt.date(2026, 12, 2)


@pytest.mark.parametrize("zone", ["America/New_York", "America/Los_Angeles", "America/Indiana/Knox", "US/Eastern",
                                  "Pacific/Honolulu", "Asia/Manila", "America/Puerto_Rico", "Pacific/Saipan",
                                  "America/Toronto", "America/Vancouver", "America/Indianapolis", "EST5EDT"])
def test_zones_that_write_the_month_first(zone):
    assert month_first_zone(zone)


@pytest.mark.parametrize("zone", ["Europe/London", "Europe/Berlin", "America/Mexico_City", "America/Sao_Paulo",
                                  "Asia/Kolkata", "Australia/Sydney", "America/Bogota", None, ""])
def test_zones_that_write_the_day_first(zone):
    assert not month_first_zone(zone)


@pytest.mark.parametrize(("zone", "language", "expected"), [
    ("Europe/London", "en-US", True),
    ("America/Chicago", "en-GB", False),
    ("America/Chicago", "de", False),
    ("America/Chicago", "fr-CA", False),
    ("America/Toronto", "fr", False),
    ("America/Toronto", "en-CA", True),
    ("Europe/Paris", "en_US", True),
    ("America/Chicago", "en", True),  # English alone says nothing: the zone decides
    ("Europe/Dublin", "en", False),
    (None, "en-US,en;q=0.9", True),
    (None, "fil-PH", True),
    ("America/Chicago", None, True),
    (None, None, False),
    ("America/Chicago", "", True),
])
def test_a_language_tag_decides_before_the_zone(zone, language, expected):
    assert month_first_for(zone, language) is expected


@pytest.mark.parametrize("month_first", [True, False])
def test_a_date_valid_only_one_way_is_read_that_way(month_first):
    assert future_dates("on 13/02", dt.date(2027, 1, 10), month_first)[0][1] == dt.date(2027, 2, 13)
    assert future_dates("on 02/13", dt.date(2027, 1, 10), month_first)[0][1] == dt.date(2027, 2, 13)


def test_an_ambiguous_date_follows_the_habit():
    assert future_dates("on 03/02", dt.date(2027, 1, 10), True)[0][1] == dt.date(2027, 3, 2)
    assert future_dates("on 03/02", dt.date(2027, 1, 10), False)[0][1] == dt.date(2027, 2, 3)
