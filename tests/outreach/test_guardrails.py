"""Sending windows in the customer's time zone, correct across daylight-saving changes."""

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pytest

from plixo.outreach.guardrails import in_quiet_hours, may_send_at, next_allowed_moment

NEW_YORK, LONDON, SYDNEY = ZoneInfo("America/New_York"), ZoneInfo("Europe/London"), ZoneInfo("Australia/Sydney")


@dataclass
class Window:
    quiet_hours_start: dt.time = dt.time(20, 0)
    quiet_hours_end: dt.time = dt.time(8, 0)
    business_hours_start: dt.time = dt.time(9, 0)
    business_hours_end: dt.time = dt.time(17, 0)
    sending_days: list = field(default_factory=lambda: [0, 1, 2, 3, 4, 5, 6])


def local(zone, *args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=zone)


def test_quiet_hours_span_midnight():
    window = Window()
    assert in_quiet_hours(local(NEW_YORK, 2026, 6, 1, 23, 0), window)
    assert in_quiet_hours(local(NEW_YORK, 2026, 6, 1, 7, 59), window)
    assert not in_quiet_hours(local(NEW_YORK, 2026, 6, 1, 8, 0), window)


def test_quiet_hours_are_the_customers_not_the_servers():
    noon_utc = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
    assert may_send_at(noon_utc, LONDON, Window())  # 13:00 in London
    assert not may_send_at(noon_utc, SYDNEY, Window())  # 22:00 in Sydney


@pytest.mark.parametrize(("zone", "night_before", "expected_local"), [
    # Spring forward: New York 8 March 2026, London 29 March 2026, Sydney (autumn back) 5 April 2026.
    (NEW_YORK, (2026, 3, 7, 22, 0), (2026, 3, 8, 8, 0)),
    (LONDON, (2026, 3, 28, 22, 0), (2026, 3, 29, 8, 0)),
    (SYDNEY, (2026, 4, 4, 22, 0), (2026, 4, 5, 8, 0)),
    # Fall back: New York 1 November 2026, London 25 October 2026, Sydney (spring forward) 4 October 2026.
    (NEW_YORK, (2026, 10, 31, 22, 0), (2026, 11, 1, 8, 0)),
    (LONDON, (2026, 10, 24, 22, 0), (2026, 10, 25, 8, 0)),
    (SYDNEY, (2026, 10, 3, 22, 0), (2026, 10, 4, 8, 0)),
])
def test_quiet_hours_end_at_eight_local_on_the_night_the_clocks_change(zone, night_before, expected_local):
    start = local(zone, *night_before).astimezone(dt.UTC)
    opens = next_allowed_moment(start, zone, Window())
    assert opens.astimezone(zone).replace(tzinfo=None) == dt.datetime(*expected_local)
    assert opens.astimezone(zone).utcoffset() == local(zone, *expected_local).utcoffset()


def test_the_hour_that_does_not_exist_is_never_chosen():
    # New York skips 02:00-03:00 on 8 March 2026: a window opening at 02:30 opens at 03:00 EDT.
    window = Window(quiet_hours_start=dt.time(0, 0), quiet_hours_end=dt.time(2, 30))
    opens = next_allowed_moment(local(NEW_YORK, 2026, 3, 8, 0, 30).astimezone(dt.UTC), NEW_YORK, window)
    assert opens.astimezone(NEW_YORK).replace(tzinfo=None) == dt.datetime(2026, 3, 8, 3, 0)


def test_sending_days_skip_the_weekend():
    weekdays = Window(sending_days=[0, 1, 2, 3, 4])
    friday_night = local(LONDON, 2026, 11, 20, 21, 0).astimezone(dt.UTC)
    opens = next_allowed_moment(friday_night, LONDON, weekdays)
    assert opens.astimezone(LONDON).replace(tzinfo=None) == dt.datetime(2026, 11, 23, 8, 0)


def test_business_hours_are_applied_when_asked():
    early = local(NEW_YORK, 2026, 6, 2, 8, 10).astimezone(dt.UTC)
    assert next_allowed_moment(early, NEW_YORK, Window()) == early
    opens = next_allowed_moment(early, NEW_YORK, Window(), business_hours=True)
    assert opens.astimezone(NEW_YORK).time() == dt.time(9, 0)


def test_a_policy_with_no_sending_days_allows_no_moment():
    assert next_allowed_moment(dt.datetime(2026, 6, 1, tzinfo=dt.UTC), LONDON, Window(sending_days=[])) is None
