"""Touch rules and the send planner: minimum gap, weekly cap and daily cap push a send later, never earlier."""

import datetime as dt
from types import SimpleNamespace

from plixo.outreach.send_guard import earliest_touch

NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)
POLICY = SimpleNamespace(min_gap_hours=48, max_touches_per_week=2)
HOUR = dt.timedelta(hours=1)


def test_no_earlier_touch_leaves_the_moment_alone():
    assert earliest_touch([], NOW, POLICY) == (NOW, None)


def test_the_minimum_gap_counts_from_the_last_touch():
    moment, reason = earliest_touch([NOW - 30 * HOUR, NOW - 200 * HOUR], NOW, POLICY)
    assert moment == NOW + 18 * HOUR and "48 h" in reason


def test_the_weekly_cap_waits_for_the_oldest_touch_to_leave_the_week():
    touches = [NOW - dt.timedelta(days=6), NOW - dt.timedelta(days=3)]
    moment, reason = earliest_touch(touches, NOW, POLICY)
    assert moment == NOW + dt.timedelta(days=1) and "2 touches a week" in reason


def test_touches_older_than_a_week_and_the_gap_do_not_count():
    assert earliest_touch([NOW - dt.timedelta(days=8), NOW - dt.timedelta(days=7, hours=1)], NOW, POLICY) == (NOW, None)


def test_a_zero_hour_gap_allows_back_to_back_touches_within_the_cap():
    policy = SimpleNamespace(min_gap_hours=0, max_touches_per_week=3)
    assert earliest_touch([NOW - HOUR], NOW, policy) == (NOW, None)
